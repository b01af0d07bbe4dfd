"""The release steps promote and rollback share (release/steps.py), rollback's run and promote's run, at unit level: a
real git repository on the environment branch, an in-memory MLflow registry and a recorded image registry.

test_promote.py and test_promote_image.py run the same steps through whole releases against real registries; these
pin each move, each undo and each message exactly, fast enough for `make mutation`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from support.repos import git, write_deploy_base

from modelrail import model_registry
from modelrail.errors import Refused, ReleaseFailed
from modelrail.release import environment, rollback, steps
from modelrail.release.image_tags import ImageMove

DIGEST = "sha256:" + "1" * 64
OLD_DIGEST = "sha256:" + "0" * 64
CONFIG = """\
project: clf
environments: [staging, production]
mlflow:
  tracking_uri: sqlite:///registry.db
  registered_model: clf
"""


@dataclass
class Version:
    version: str
    tags: dict


@dataclass
class FakeMlflow:
    """The MlflowClient calls the release steps make, kept in dicts; the first call named in `fail` raises (a
    registry that went away for a moment)."""

    aliases: dict = field(default_factory=dict)
    tags: dict = field(default_factory=dict)  # version -> {key: value}
    model_tags: dict = field(default_factory=dict)
    fail: set = field(default_factory=set)
    fail_after: set = field(default_factory=set)  # the first such call takes effect, then raises (a lost answer)
    calls: list = field(default_factory=list)

    def _call(self, name: str, *args) -> None:
        assert args[0] == "clf", f"{name} on another registered model: {args[0]}"
        self.calls.append((name, *args[1:]))
        if name in self.fail:
            self.fail.discard(name)
            raise ConnectionError(f"{name} went away\nsecond line")

    def set_registered_model_alias(self, model, alias, version):
        self._call("set_alias", model, alias, version)
        self.aliases[alias] = str(version)

    def delete_registered_model_alias(self, model, alias):
        self._call("delete_alias", model, alias)
        del self.aliases[alias]

    def set_model_version_tag(self, model, version, key, value):
        self._call("set_tag", model, version, key, value)
        self.tags.setdefault(str(version), {})[key] = value
        if "set_tag" in self.fail_after:
            self.fail_after.discard("set_tag")
            raise TimeoutError("no answer from the registry")

    def delete_model_version_tag(self, model, version, key):
        self._call("delete_tag", model, version, key)
        self.tags.get(str(version), {}).pop(key, None)  # as MLflow: deleting a missing tag is no error

    def set_registered_model_tag(self, model, key, value):
        self._call("set_model_tag", model, key, value)
        self.model_tags[key] = value

    def delete_registered_model_tag(self, model, key):
        del self.model_tags[key]


class FakeRegistry:
    """model_registry.Registry's interface over a FakeMlflow."""

    name = "clf"

    def __init__(self, uri: str = "sqlite:///registry.db"):
        self.client, self.uri = FakeMlflow(), uri
        self.alias_fails = False

    def alias(self, env: str) -> str | None:
        if self.alias_fails:
            raise ConnectionError("alias lookup went away")
        return self.client.aliases.get(env)

    def version(self, number: str) -> Version:
        return Version(str(number), dict(self.client.tags.get(str(number), {})))

    def model_tags(self) -> dict:
        return dict(self.client.model_tags)


@dataclass
class FakeImages:
    """move_image and undo_image of image_tags, recorded; `previous` is where the environment tag was."""

    previous: str | None = OLD_DIGEST
    fail_move: bool = False
    moves: list = field(default_factory=list)
    undone: list = field(default_factory=list)

    def move(self, client, repository, env, digest):
        assert client == "docker", "the image moves with the client given"
        if self.fail_move:
            raise ReleaseFailed("image push failed: registry full.")
        self.moves.append((repository, env, digest))
        return ImageMove(repository, env, digest, self.previous)

    def undo(self, client, move):
        assert client == "docker", "the image is put back with the client that moved it"
        self.undone.append(move)
        return " (image put back)" if move else ""


@pytest.fixture
def repo(workdir, monkeypatch) -> Path:
    """A model repo with deploy/base, checked out on the staging branch."""
    monkeypatch.setenv("GITHUB_ACTOR", "ann")
    (workdir / "modelrail.yaml").write_text(CONFIG)
    write_deploy_base(workdir)
    git(workdir, "init", "-q", "-b", "staging")
    git(workdir, "add", ".")
    git(workdir, "commit", "-qm", "start")
    return workdir


@pytest.fixture
def images(monkeypatch) -> FakeImages:
    fake = FakeImages()
    monkeypatch.setattr(steps, "move_image", fake.move)
    monkeypatch.setattr(steps, "undo_image", fake.undo)
    return fake


def record(version: str = "2", image: bool = True, **extra) -> dict:
    return {
        "kind": "promotion",
        "model_version": version,
        "content_hash": f"h{version}",
        "image": {"repository": "reg/clf", "digest": DIGEST} if image else None,
        "time": "t2",
        **extra,
    }


def apply(repo: Path, registry: FakeRegistry, rec: dict, echoed: list | None = None, **options):
    echo = (echoed if echoed is not None else []).append
    return steps.apply(repo, "staging", registry, "docker", rec, steps.Options(echo=echo, **options), "Promote v2")


def committed(repo: Path) -> dict:
    return json.loads(git(repo, "show", "staging:releases/staging/release.json"))


RELEASED = model_registry.RELEASED_PREFIX + "staging"


def test_apply_moves_the_image_then_the_alias_then_commits_the_record(repo, images):
    registry, echoed = FakeRegistry(), []
    registry.client.aliases["staging"] = "1"
    result = apply(repo, registry, record(), echoed)
    assert images.moves == [("reg/clf", "staging", DIGEST)] and images.undone == []
    assert registry.client.calls == [("set_alias", "staging", "2"), ("set_tag", "2", RELEASED, "t2")]
    assert committed(repo) == record()
    assert git(repo, "log", "-1", "--format=%s %ae") == f"Promote v2 {environment.BOT_EMAIL}"
    overlay = yaml.safe_load((repo / "deploy/staging/kustomization.yaml").read_text())
    assert overlay["images"] == [{"name": "placeholder", "newName": "reg/clf", "digest": DIGEST}]
    assert git(repo, "status", "--porcelain") == ""
    sha = git(repo, "rev-parse", "HEAD")
    assert result == steps.ReleaseResult("staging", "promotion", "2", "h2", True, record(), sha)
    assert echoed == [
        f"image reg/clf:staging -> {DIGEST}",
        "alias clf@staging -> v2",
        f"release record committed on staging: {sha[:12]}",
    ]


def test_apply_without_an_image_moves_no_tag_and_writes_no_overlay(repo, images):
    registry, echoed = FakeRegistry(), []
    apply(repo, registry, record(image=False), echoed)
    assert images.moves == [] and not (repo / "deploy/staging").exists()
    assert echoed[0] == "alias clf@staging -> v2"
    assert registry.client.aliases == {"staging": "2"}


def test_a_version_released_there_before_keeps_its_first_released_tag(repo, images):
    registry = FakeRegistry()
    registry.client.tags["2"] = {RELEASED: "t0"}
    apply(repo, registry, record())
    assert registry.client.tags["2"] == {RELEASED: "t0"}
    assert ("set_tag", "2", RELEASED, "t2") not in registry.client.calls


def test_apply_pushes_the_branch_when_asked(repo, images, tmp_path_factory, monkeypatch):
    remote = tmp_path_factory.mktemp("remote")
    git(remote, "init", "-q", "--bare")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))  # git runs in the repository given
    echoed = []
    apply(repo, FakeRegistry(), record(), echoed, push_to=str(remote))
    assert git(remote, "rev-parse", "staging") == git(repo, "rev-parse", "HEAD")
    assert echoed[-1] == f"pushed staging to {remote}"


def test_a_failed_image_move_moves_nothing_else(repo, images):
    images.fail_move = True
    registry = FakeRegistry()
    with pytest.raises(ReleaseFailed) as caught:
        apply(repo, registry, record())
    assert str(caught.value) == (
        "image push failed: registry full. The alias 'staging' did not move; nothing was released "
        "(fix: re-run `modelrail promote --env staging`)"
    )
    assert registry.client.calls == [] and not (repo / "releases").exists()


@pytest.mark.parametrize("failing", ["set_alias", "set_tag"])
def test_a_registry_failure_puts_the_alias_and_the_image_back(repo, images, failing):
    registry = FakeRegistry(uri="http://user:secret@mlflow:5000")
    registry.client.aliases["staging"] = "1"
    registry.client.fail = {failing}
    before = git(repo, "rev-parse", "HEAD")
    with pytest.raises(ReleaseFailed) as caught:
        steps.apply(repo, "staging", registry, "docker", record(), steps.Options(echo=print), "m", "rollback --to 2")
    assert str(caught.value) == (
        f"MLflow registry at http://***@mlflow:5000 failed while moving alias 'staging' to v2: {failing} went away. "
        "The alias 'staging' is still on v1. (image put back) Nothing was released (fix: bring the registry back "
        "and re-run `modelrail rollback --to 2 --env staging`)"
    )
    assert registry.client.aliases == {"staging": "1"}
    assert registry.client.tags.get("2", {}) == {}
    assert images.undone == [ImageMove("reg/clf", "staging", DIGEST, OLD_DIGEST)]
    assert git(repo, "rev-parse", "HEAD") == before and not (repo / "releases").exists()


def test_a_registry_failure_keeps_the_released_tag_of_a_version_released_there_before(repo, images):
    registry = FakeRegistry()
    registry.client.tags["2"] = {RELEASED: "t0"}
    registry.client.fail = {"set_alias"}
    with pytest.raises(ReleaseFailed):
        apply(repo, registry, record())
    assert registry.client.tags["2"] == {RELEASED: "t0"} and registry.client.aliases == {}


def test_a_registry_that_wrote_before_failing_is_put_back_whole(repo, images):
    # The tag write reached the registry but its answer was lost: the alias and the tag it wrote are both undone.
    registry = FakeRegistry()
    registry.client.fail_after = {"set_tag"}
    with pytest.raises(ReleaseFailed) as caught:
        apply(repo, registry, record())
    assert "no answer from the registry. The alias 'staging' is still on no version." in str(caught.value)
    assert registry.client.aliases == {} and registry.client.tags["2"] == {}


@pytest.mark.parametrize(("previous", "tags"), [(None, {"other": "x"}), ("1", {"other": "x", RELEASED: "t0"})])
def test_a_failed_commit_puts_the_alias_the_tag_and_the_image_back(repo, images, monkeypatch, previous, tags):
    registry = FakeRegistry()
    registry.client.aliases = {"staging": previous} if previous else {}
    registry.client.tags["2"] = dict(tags)

    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(steps, "write_release", broken)
    with pytest.raises(ReleaseFailed) as caught:
        apply(repo, registry, record())
    still = f"v{previous}" if previous else "no version"
    assert str(caught.value) == (
        f"writing the release record failed: disk full. The alias 'staging' is still on {still}. (image put back) "
        "(fix: re-run `modelrail promote --env staging`)"
    )
    # The released tag goes only if this release set it: a version released there before keeps its own.
    assert registry.client.aliases == ({"staging": previous} if previous else {}) and registry.client.tags["2"] == tags
    assert images.undone == [ImageMove("reg/clf", "staging", DIGEST, OLD_DIGEST)]


def test_undo_alias_keeps_a_released_tag_that_was_there_before(repo):
    registry = FakeRegistry()
    registry.client.aliases["staging"] = "2"
    registry.client.tags["2"] = {RELEASED: "t0"}
    note = steps.undo_alias(registry, "staging", "1", "2", RELEASED, True)
    assert note == " The alias 'staging' is still on v1."
    assert registry.client.aliases == {"staging": "1"} and registry.client.tags["2"] == {RELEASED: "t0"}


def test_undo_alias_without_a_previous_alias_deletes_only_its_own(repo):
    registry = FakeRegistry()
    registry.client.aliases["staging"] = "3"  # moved by someone else meanwhile: not ours to delete
    registry.client.tags["2"] = {RELEASED: "t2"}
    assert steps.undo_alias(registry, "staging", None, "2", RELEASED, False) == (
        " The alias 'staging' is still on no version."
    )
    assert registry.client.aliases == {"staging": "3"} and registry.client.tags["2"] == {}
    registry.client.aliases["staging"] = "2"
    steps.undo_alias(registry, "staging", None, "2", RELEASED, True)
    assert registry.client.aliases == {}


def test_undo_alias_that_cannot_reach_the_registry_says_so(repo):
    registry = FakeRegistry()
    registry.alias_fails = True
    assert steps.undo_alias(registry, "staging", None, "2", RELEASED, False) == (
        " Could not check that the alias 'staging' is unchanged (alias lookup went away)."
    )


def test_a_release_needs_a_configured_environment_checked_out(repo, tmp_path_factory, monkeypatch):
    from modelrail.errors import ConfigError

    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    assert steps.release_config(repo, "staging")["environments"] == ["staging", "production"]
    with pytest.raises(ConfigError) as caught:
        steps.release_config(repo, "prod")
    assert (
        str(caught.value) == f"{repo / 'modelrail.yaml'}: key 'environments': 'prod' is not one of staging, production"
    )
    with pytest.raises(
        ConfigError, match=r"the checked-out branch is staging, not the environment branch 'production'"
    ):
        steps.release_config(repo, "production")


def test_the_actor_is_githubs_else_the_local_user_else_unknown(monkeypatch):
    monkeypatch.setenv("GITHUB_ACTOR", "ann")
    monkeypatch.setenv("USER", "bob")
    assert steps.actor() == "ann"
    monkeypatch.setenv("GITHUB_ACTOR", "")
    assert steps.actor() == "bob"
    monkeypatch.delenv("GITHUB_ACTOR")
    assert steps.actor() == "bob"
    monkeypatch.delenv("USER")
    assert steps.actor() == "unknown"


def test_release_times_are_utc_to_the_second():
    from datetime import datetime

    stamp = steps.now()
    assert stamp.endswith("+00:00") and datetime.fromisoformat(stamp).microsecond == 0


def test_summary_keeps_what_a_record_says_of_the_release_it_replaces():
    current = {**record(), "code_sha": "abc", "actor": "ann", "data": {}}
    assert steps.summary(current) == {
        "model_version": "2",
        "content_hash": "h2",
        "code_sha": "abc",
        "time": "t2",
        "image_digest": DIGEST,
    }
    assert steps.summary({"model_version": "1"})["image_digest"] is None
    assert steps.summary(None) is None and steps.summary({}) is None


# Rollback's run (release/rollback.py): the releases before it are made by apply, as promote makes them.


def digest_of(version: str) -> str:
    return "sha256:" + version * 64


def promotion(version: str) -> dict:
    return {
        "environment": "staging",
        "kind": "promotion",
        "registered_model": "clf",
        "model_version": version,
        "content_hash": f"h{version}",
        "data": {"data/raw/x.csv": f"d{version}"},
        "gates": {"model": {"passed": True}},
        "image": {"repository": "reg/clf", "digest": digest_of(version), "tags": ["staging"]},
        "code_sha": f"c{version}",
        "trained_at_sha": f"t{version}",
        "actor": "bob",
        "time": f"time{version}",
    }


@pytest.fixture
def released(repo, images, monkeypatch, tmp_path_factory) -> FakeRegistry:
    """Versions 1, 2 and 3 promoted to staging in turn, through an in-memory registry that rollback then opens; the
    working directory elsewhere (git runs in the repository given)."""
    registry = FakeRegistry()
    for version in "123":
        apply(repo, registry, promotion(version))
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    monkeypatch.setattr(model_registry, "open_registry", lambda repo_, config: registry)
    monkeypatch.setattr(steps, "now", lambda: "t9")
    from modelrail.container import engine

    monkeypatch.setattr(engine, "connect", lambda: "docker")
    return registry


def test_rollback_brings_back_the_previous_release_whole(repo, released, images):
    echoed = []
    result = rollback.run(repo, "staging", steps.Options(echo=echoed.append))
    head = git(repo, "rev-parse", "HEAD")
    before = git(repo, "rev-parse", "HEAD~1")
    current = steps.summary(promotion("3"))
    expected = {
        **{key: promotion("2")[key] for key in ("registered_model", "content_hash", "data", "gates", "trained_at_sha")},
        "environment": "staging",
        "kind": "rollback",
        "model_version": "2",
        "image": promotion("2")["image"],
        "code_sha": before,
        "rolled_back_from": current,
        "previous": current,
        "rejected_previous": False,
        "actor": "ann",
        "time": "t9",
    }
    assert committed(repo) == expected
    assert result == steps.ReleaseResult("staging", "rollback", "2", "h2", True, expected, head)
    assert git(repo, "log", "-1", "--format=%s") == "Roll back staging from clf v3 to v2"
    assert released.client.aliases == {"staging": "2"} and images.moves[-1] == ("reg/clf", "staging", digest_of("2"))
    assert model_registry.REJECTED_TAG not in released.client.tags["3"]
    assert released.client.model_tags == {}, "the environment lock was not released"
    (lock,) = [call for call in released.client.calls if call[0] == "set_model_tag"]
    assert lock[1] == "modelrail.lock.staging" and lock[2].endswith(" ann"), "the lock names who holds it"
    assert echoed[0] == f"image reg/clf:staging -> {digest_of('2')}"


def test_rollback_to_a_version_can_reject_the_current_one_and_leave_the_image(repo, released, images, monkeypatch):
    from modelrail.container import engine

    monkeypatch.setattr(engine, "connect", lambda: pytest.fail("no image part: the engine is not needed"))
    moves, echoed = len(images.moves), []
    rollback.run(repo, "staging", steps.Options(image=False, echo=echoed.append), to="1", reject=True)
    record_ = committed(repo)
    assert record_["model_version"] == "1" and record_["content_hash"] == "h1"
    assert record_["image"] is None and record_["rejected_previous"] is True
    assert record_["rolled_back_from"]["model_version"] == "3"
    assert released.client.tags["3"][model_registry.REJECTED_TAG] == "rolled back from staging by ann at t9"
    assert model_registry.REJECTED_TAG not in released.client.tags["1"]
    assert len(images.moves) == moves and released.client.aliases == {"staging": "1"}
    assert echoed[0] == "clf v3 marked rejected"
    assert git(repo, "log", "-1", "--format=%s") == "Roll back staging from clf v3 to v1"
    # The rejection is now on the branch: rolling forward to v3 again needs --allow-rejected.
    with pytest.raises(Refused, match=r"^v3 was rolled back from staging and rejected by ann at t9"):
        rollback.run(repo, "staging", steps.Options(image=False, echo=echoed.append), to="3")
    rollback.run(repo, "staging", steps.Options(image=False, allow_rejected=True, echo=echoed.append), to="3")
    assert committed(repo)["model_version"] == "3" and released.client.aliases == {"staging": "3"}


def test_a_failed_rollback_says_to_re_run_that_rollback(repo, released, images):
    released.client.fail = {"set_alias"}
    with pytest.raises(ReleaseFailed, match=r"re-run `modelrail rollback --to 2 --env staging`\)$"):
        rollback.run(repo, "staging", steps.Options(echo=print))
    assert released.client.aliases == {"staging": "3"} and committed(repo)["model_version"] == "3"


def test_rollback_of_an_environment_never_released_refuses_naming_its_record(repo, monkeypatch):
    monkeypatch.setattr(model_registry, "open_registry", lambda *args: pytest.fail("refused before the registry"))
    with pytest.raises(Refused) as caught:
        rollback.run(repo, "staging", steps.Options(echo=print))
    assert str(caught.value) == (
        f"{environment.record_path(repo, 'staging')}: nothing was ever released to 'staging', so nothing to roll back"
    )


# Promotion's idle run (release/promote.py): the environment already runs the artifact, deploy/<env>/ is re-rendered.


def test_an_idle_promotion_re_renders_a_hand_edited_overlay_from_the_record(repo, images):
    from modelrail.release import promote

    apply(repo, FakeRegistry(), record())
    current, echoed = committed(repo), []
    overlay = repo / "deploy/staging/kustomization.yaml"
    rendered = overlay.read_text()
    assert promote._restore_manifests(repo, "staging", current, echoed.append) is None and echoed == []
    overlay.write_text(rendered.replace(DIGEST, OLD_DIGEST))
    (repo / "deploy/staging/extra.yaml").write_text("kind: ConfigMap\n")
    git(repo, "add", "deploy")
    git(repo, "commit", "-qm", "a hand edit")
    commit = promote._restore_manifests(repo, "staging", current, echoed.append)
    assert commit == git(repo, "rev-parse", "HEAD") and overlay.read_text() == rendered
    assert not (repo / "deploy/staging/extra.yaml").exists()
    assert git(repo, "log", "-1", "--format=%s %ae") == (
        f"Re-render deploy/staging/ from the release record of v2 {environment.BOT_EMAIL}"
    )
    assert echoed == [f"deploy/staging/ differed from the release record: re-rendered in {commit[:12]}"]


def test_an_idle_promotion_without_an_image_has_no_overlay_to_restore(repo):
    from modelrail.release import promote

    for current in (None, {}, record(image=False)):
        assert promote._restore_manifests(repo, "staging", current, pytest.fail) is None
    assert not (repo / "deploy/staging").exists()


# Promotion's run (release/promote.py) at unit level: an artifact committed on the environment branch as `dvc repro`
# and the publish workflow leave it, the in-memory registry holding its version. The run starts from another working
# directory: every git call and every file read goes to the repository given.

TRAIN = "x,y\n" + "".join(f"{i % 10},{i % 2}\n" for i in range(200))
PROMOTE_CONFIG = CONFIG + "promotion: {reference_data: {staging: data/reference/staging.csv}}\n"


def md5(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode()).hexdigest()


def commit_artifact(repo: Path, registry: FakeRegistry, model: str = "m1", version: str = "1") -> str:
    """Gate records, model, training and reference data and their dvc.lock committed on the checked-out branch; the
    version registered with the artifact's tags. Returns the content hash."""
    from modelrail.trust.integrity import content_md5

    gates = {name: json.dumps({"gate": name, "passed": True, "checks": []}) for name in ("raw", "features", "model")}
    files = {f"gates/{name}.json": text for name, text in gates.items()}
    files |= {"models/model/MLmodel": model, "data/prepared/train.csv": TRAIN, "data/reference/staging.csv": TRAIN}
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    content = content_md5(repo / "models/model").removesuffix(".dir")
    gate_out = {name: [{"path": f"gates/{name}.json", "md5": md5(text)}] for name, text in gates.items()}
    stages = {
        "raw_gate": {"deps": [{"path": "data/raw/x.csv", "md5": md5("raw")}], "outs": gate_out["raw"]},
        "prepare": {"outs": [{"path": "data/prepared/train.csv", "md5": md5(TRAIN)}]},
        "train": {"outs": [{"path": "models/model", "md5": content + ".dir"}]},
        "feature_gate": {"outs": gate_out["features"]},
        "model_gate": {"outs": gate_out["model"]},
    }
    (repo / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": stages}))
    (repo / "modelrail.yaml").write_text(PROMOTE_CONFIG)
    (repo / ".gitignore").write_text("build/\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", f"train {model}")
    data = f"data/prepared/train.csv={md5(TRAIN)} data/raw/x.csv={md5('raw')}"
    tags = {model_registry.CONTENT_TAG: content, model_registry.DATA_TAG: data, model_registry.CODE_TAG: "main-sha"}
    registry.client.tags[version] = tags
    return content


@pytest.fixture
def promoting(repo, images, monkeypatch, tmp_path_factory):
    """(registry, content hash): the artifact on staging, an empty production branch, the run started elsewhere."""
    registry = FakeRegistry()
    registry.versions = lambda: [registry.version(number) for number in registry.client.tags]
    content = commit_artifact(repo, registry)
    git(repo, "branch", "production", "HEAD~1")
    monkeypatch.setattr(model_registry, "open_registry", lambda repo_, config: registry)
    monkeypatch.setattr(steps, "now", lambda: "t1")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    return registry, content


def promote_run(repo: Path, env: str = "staging", echoed: list | None = None, **options):
    from modelrail.release import promote

    approved = options.pop("approved_sha", None)
    echo = (echoed if echoed is not None else []).append
    return promote.run(repo, env, steps.Options(image=False, echo=echo, **options), approved_sha=approved)


def test_promote_releases_the_registered_version_with_its_whole_record(repo, promoting):
    registry, content = promoting
    trained = git(repo, "rev-parse", "HEAD")
    result = promote_run(repo, approved_sha=trained)
    gates = {
        name: {"path": f"gates/{name}.json", "gate": name, "md5": md5(json.dumps(gate)), "passed": True}
        for name, gate in ((n, {"gate": n, "passed": True, "checks": []}) for n in ("raw", "features", "model"))
    }
    drift = {"passed": True, "reference": "data/reference/staging.csv", "training_data": "data/prepared/train.csv"}
    expected = {
        "environment": "staging",
        "kind": "promotion",
        "registered_model": "clf",
        "model_version": "1",
        "content_hash": content,
        "data": {"data/prepared/train.csv": md5(TRAIN), "data/raw/x.csv": md5("raw")},
        "gates": {**gates, "drift": {**drift, "psi": {"x": 0.0, "y": 0.0}}},
        "image": None,
        "code_sha": trained,
        "trained_at_sha": "main-sha",
        "previous": None,
        "actor": "ann",
        "time": "t1",
    }
    assert committed(repo) == expected
    assert result == steps.ReleaseResult(
        "staging", "promotion", "1", content, True, expected, git(repo, "rev-parse", "HEAD")
    )
    assert git(repo, "log", "-1", "--format=%s") == "Promote clf v1 to staging"
    assert registry.client.aliases == {"staging": "1"} and registry.client.model_tags == {}
    (lock,) = [call for call in registry.client.calls if call[0] == "set_model_tag"]
    assert lock[1] == "modelrail.lock.staging" and lock[2].endswith(" ann"), "the lock names who holds it"
    assert (repo / "build/promote/drift-staging.json").is_file()


def test_promote_again_changes_nothing_and_says_so(repo, promoting):
    registry, content = promoting
    first = promote_run(repo)
    released, echoed = git(repo, "rev-parse", "HEAD"), []
    again = promote_run(repo, echoed=echoed, approved_sha=git(repo, "rev-parse", "HEAD~1"))
    assert echoed == [f"staging already runs clf v1 ({content}): nothing to do"]
    assert again == steps.ReleaseResult("staging", "rollback", "1", content, False, first.record, None)
    assert (
        git(repo, "rev-parse", "HEAD") == released and registry.client.calls.count(("set_alias", "staging", "1")) == 1
    )
    # The alias moved by someone else: the record alone does not make it a no-op.
    registry.client.aliases["staging"] = "9"
    assert promote_run(repo).changed is True and registry.client.aliases == {"staging": "1"}


def test_production_takes_what_staging_released_and_only_after_it(repo, promoting):
    registry, content = promoting
    git(repo, "checkout", "-q", "production")
    git(repo, "merge", "-q", "--ff-only", "staging")
    before = git(repo, "rev-parse", "HEAD")
    with pytest.raises(Refused) as caught:
        promote_run(repo, "production")
    assert str(caught.value) == (
        f"the artifact {content} was never released to 'staging', which comes before 'production' in "
        f"{repo / 'modelrail.yaml'}: releases/staging/history.jsonl on the staging branch has no release of it "
        "(registry tags and aliases are not evidence) (fix: merge it into staging first)"
    )
    assert git(repo, "rev-parse", "HEAD") == before and registry.client.aliases == {}
    git(repo, "checkout", "-q", "staging")
    promote_run(repo)
    # Another version with the same content registered since: production still takes the one staging released.
    registry.client.tags["0"] = dict(registry.client.tags["1"])
    git(repo, "checkout", "-q", "production")
    result = promote_run(repo, "production")
    assert result.model_version == "1" and registry.client.aliases == {"staging": "1", "production": "1"}
    assert committed_on(repo, "production")["gates"].keys() == {"raw", "features", "model"}  # no reference there


def committed_on(repo: Path, env: str) -> dict:
    return json.loads(git(repo, "show", f"{env}:releases/{env}/release.json"))


def test_a_rejected_artifact_is_refused_unless_allowed(repo, promoting):
    registry, content = promoting
    first = promote_run(repo)
    # Rejected by a rollback on staging (the rollback record of another version names it).
    rejecting = {**promotion("0"), "kind": "rollback", "rolled_back_from": {"content_hash": content}}
    apply(repo, registry, {**rejecting, "rejected_previous": True, "actor": "bob", "time": "t0"})
    with pytest.raises(Refused) as caught:
        promote_run(repo)
    assert str(caught.value) == (
        f"the artifact {content} was rolled back from staging and rejected by bob at t0 (release histories on the "
        "environment branches) (fix: promote another model, or pass --allow-rejected to override on purpose)"
    )
    rolled_back = committed(repo)
    assert registry.client.aliases == {"staging": "0"} and first.changed
    again = promote_run(repo, allow_rejected=True)
    assert again.changed and again.record["previous"] == steps.summary(rolled_back)
    assert registry.client.aliases == {"staging": "1"}


def test_a_commit_without_gate_records_refuses_naming_the_key_in_its_modelrail_yaml(repo, promoting):
    registry, _ = promoting
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    for stage in ("raw_gate", "feature_gate", "model_gate"):
        del lock["stages"][stage]
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock))
    git(repo, "commit", "-qam", "a pipeline without its gates")
    with pytest.raises(Refused) as caught:
        promote_run(repo)
    assert str(caught.value).endswith(
        f"(required: raw, features, model; {repo / 'modelrail.yaml'}: key 'paths.gates' ('gates') is where the gate "
        "stages write them)"
    )
    assert registry.client.aliases == {} and not (repo / "releases").exists()


def test_promote_re_hashes_the_reference_data_of_its_environment(repo, promoting):
    from modelrail.trust.integrity import IntegrityError

    registry, _ = promoting
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    lock["stages"]["reference"] = {"outs": [{"path": "data/reference/staging.csv", "md5": md5(TRAIN)}]}
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock))
    git(repo, "commit", "-qam", "reference data tracked")
    label = f"data/prepared/train.csv={md5(TRAIN)} data/raw/x.csv={md5('raw')} data/reference/staging.csv={md5(TRAIN)}"
    registry.client.tags["1"][model_registry.DATA_TAG] = label
    # Other bytes than dvc.lock records, as `dvc pull` from a remote someone overwrote checks out.
    (repo / "data/reference/staging.csv").write_text(TRAIN.replace("1", "7"))
    with pytest.raises(IntegrityError, match=r"data/reference/staging\.csv"):
        promote_run(repo)
    assert registry.client.aliases == {} and not (repo / "releases").exists()


def test_a_run_approved_for_an_earlier_commit_releases_nothing(repo, promoting):
    registry, _ = promoting
    approved = git(repo, "rev-parse", "HEAD~1")
    with pytest.raises(Refused, match=r"^'staging' moved on from the approved commit .* written by modelrail-bot"):
        promote_run(repo, approved_sha=approved)
    assert registry.client.aliases == {} and not (repo / "releases").exists()


def configure_registry(repo: Path) -> str:
    """container_registry in the environment branch's modelrail.yaml; returns the image repository."""
    from modelrail.identity import project_name

    (repo / "modelrail.yaml").write_text(PROMOTE_CONFIG + "container_registry: localhost:5000\n")
    git(repo, "commit", "-qam", "an image registry")
    return f"localhost:5000/{project_name(repo)}"


def test_promote_with_an_image_releases_the_digest_the_registry_holds_for_the_content(
    repo, promoting, images, monkeypatch
):
    from modelrail.container import engine
    from modelrail.release import image_tags, promote

    _, content = promoting
    repository = configure_registry(repo)
    monkeypatch.setattr(engine, "connect", lambda: "docker")
    asked, tags = [], {}
    monkeypatch.setattr(image_tags, "image_digest_for", lambda *args: asked.append(args) or DIGEST)
    monkeypatch.setattr(promote, "registry_digest", lambda client, reference: tags.get(reference))
    result = promote.run(repo, "staging", steps.Options(echo=print))
    assert asked == [("docker", repository, content)]
    assert result.record["image"] == {
        "repository": repository,
        "digest": DIGEST,
        "tags": ["staging", f"model-{content}"],
    }
    assert images.moves[-1] == (repository, "staging", DIGEST)
    tags[f"{repository}:staging"] = DIGEST  # what the move did on the registry
    released = git(repo, "rev-parse", "HEAD")
    assert promote.run(repo, "staging", steps.Options(echo=print)).changed is False
    # A hand edit of the overlay: the idle run re-renders it from the record, and moves nothing.
    overlay = repo / "deploy/staging/kustomization.yaml"
    overlay.write_text(overlay.read_text().replace(DIGEST, OLD_DIGEST))
    git(repo, "commit", "-qam", "a hand edit")
    restored = promote.run(repo, "staging", steps.Options(echo=print))
    assert restored.changed is True and restored.commit == git(repo, "rev-parse", "HEAD") != released
    assert DIGEST in overlay.read_text() and len(images.moves) == 1
    # The tag pushed elsewhere since: the record and the alias alone do not make it a no-op.
    tags[f"{repository}:staging"] = OLD_DIGEST
    again = promote.run(repo, "staging", steps.Options(echo=print))
    assert again.changed is True and images.moves[-1] == (repository, "staging", DIGEST)


def test_production_releases_the_digest_staging_released_not_what_the_tag_says_now(
    repo, promoting, images, monkeypatch
):
    from modelrail.container import engine
    from modelrail.release import image_tags, promote

    _, content = promoting
    repository = configure_registry(repo)
    monkeypatch.setattr(engine, "connect", lambda: "docker")
    monkeypatch.setattr(promote, "registry_digest", lambda client, reference: None)
    monkeypatch.setattr(image_tags, "image_digest_for", lambda *args: DIGEST)
    promote.run(repo, "staging", steps.Options(echo=print))
    # model-<hash> pushed again since (a rebuild): production takes the digest staging's record names, checked.
    monkeypatch.setattr(image_tags, "image_digest_for", lambda *args: OLD_DIGEST)
    checked = []
    monkeypatch.setattr(image_tags, "check_image", lambda *args: checked.append(args) or args[2])
    git(repo, "checkout", "-q", "production")
    git(repo, "merge", "-q", "--ff-only", "staging")
    result = promote.run(repo, "production", steps.Options(echo=print))
    assert result.record["image"]["digest"] == DIGEST and checked == [("docker", repository, DIGEST, content)]
    assert images.moves[-1] == (repository, "production", DIGEST)


def test_promote_without_the_image_part_names_no_image_even_with_a_registry_configured(repo, promoting, images):
    configure_registry(repo)
    assert promote_run(repo).record["image"] is None and images.moves == []
