"""What a release checks before anything moves, at unit level: the gate-record check (release/records.py) and
rollback's choice of the release to restore (release/rollback.py). test_promote.py runs both through whole
promotions in git repositories; these pin each refusal and each choice exactly, fast enough for `make mutation`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from modelrail.errors import Refused
from modelrail.identity import Identity
from modelrail.layout import Layout
from modelrail.release import environment, records, rollback

REQUIRED = ["raw", "features", "model"]


def write_records(repo: Path, **gates: dict) -> dict[str, str]:
    """Write gates/<name>.json per keyword; returns what dvc.lock would list for them (path -> md5)."""
    (repo / "gates").mkdir(exist_ok=True)
    outs = {}
    for name, record in gates.items():
        text = json.dumps(record)
        (repo / f"gates/{name}.json").write_text(text)
        outs[f"gates/{name}.json"] = hashlib.md5(text.encode()).hexdigest()
    return outs


def passed(gate: str) -> dict:
    return {"gate": gate, "passed": True, "checks": [{"name": "a check", "success": True}]}


def identity(gate_outs: dict[str, str]) -> Identity:
    return Identity("c" * 32, {"data/raw/x.csv": "d" * 32}, gate_outs, None)


def refusal(repo: Path, gate_outs: dict[str, str], required: list[str] = REQUIRED) -> str:
    with pytest.raises(Refused) as caught:
        records.check_gate_records(repo, identity(gate_outs), required, Layout())
    return str(caught.value)


def test_records_that_all_passed_clear_the_artifact_and_are_returned_by_gate(workdir):
    outs = write_records(workdir, raw=passed("raw"), features=passed("features"), model=passed("model"))
    cleared = records.check_gate_records(workdir, identity(outs), REQUIRED, Layout())
    assert cleared == {
        name: {"path": f"gates/{name}.json", "gate": name, "md5": outs[f"gates/{name}.json"], "passed": True}
        for name in REQUIRED
    }


def test_a_lock_without_any_gate_record_refuses_naming_dvc_lock_and_the_required_gates(workdir):
    message = refusal(workdir, {})
    assert message == (
        f"{workdir / 'dvc.lock'}: no gate record (gates/*.json) among the outputs: nothing proves the gates ran "
        "(required: raw, features, model; modelrail.yaml: key 'paths.gates' ('gates') is where the gate stages "
        "write them)"
    )


def test_each_required_gate_without_a_record_is_named_even_when_the_others_passed(workdir):
    outs = write_records(workdir, raw=passed("raw"))
    message = refusal(workdir, outs)
    assert message == "gate records do not clear this artifact:\n  " + "\n  ".join(
        f"gates/{name}.json: the required gate '{name}' (modelrail.yaml gates.required) has no record in dvc.lock: "
        "its stage did not run for this artifact (fix: restore the gate stage in dvc.yaml and `dvc repro`)"
        for name in ("features", "model")
    )


def test_a_record_dvc_lock_lists_but_the_commit_lacks_refuses(workdir):
    outs = write_records(workdir, raw=passed("raw"), features=passed("features"), model=passed("model"))
    (workdir / "gates/features.json").unlink()
    message = refusal(workdir, outs)
    assert message == (
        "gate records do not clear this artifact:\n"
        "  gates/features.json: missing (dvc.lock lists it; commit the gate records with dvc.lock)"
    )


def test_a_failed_gate_refuses_naming_the_gate_and_its_failed_checks(workdir):
    failed = {
        "gate": "model",
        "passed": False,
        "checks": [
            {"name": "threshold accuracy", "success": False},
            {"name": "threshold f1", "success": True},
            {"name": "champion accuracy", "success": False},
        ],
    }
    outs = write_records(workdir, raw=passed("raw"), features=passed("features"), model=failed)
    message = refusal(workdir, outs)
    assert message.endswith("gates/model.json: the model gate failed (threshold accuracy, champion accuracy)")
    assert message.count("\n  ") == 1


@pytest.mark.parametrize("claim", ["true", 1, None])
def test_passed_must_be_the_json_value_true(workdir, claim):
    outs = write_records(workdir, raw={"gate": "raw", "passed": claim, "checks": []})
    assert "gates/raw.json: the raw gate failed ()" in refusal(workdir, outs, ["raw"])


def test_a_record_other_than_the_one_dvc_lock_hashed_refuses(workdir):
    outs = write_records(workdir, raw=passed("raw"))
    locked = outs["gates/raw.json"]
    (workdir / "gates/raw.json").write_text(json.dumps(passed("raw"), indent=1))
    message = refusal(workdir, outs, ["raw"])
    actual = hashlib.md5((workdir / "gates/raw.json").read_bytes()).hexdigest()
    assert message.endswith(
        f"gates/raw.json: md5 {actual} is not the {locked} dvc.lock recorded: not this artifact's record"
    )


def test_a_failed_gate_that_is_not_required_still_refuses(workdir):
    # dvc.lock lists a record: whatever it is, a failed one never clears the artifact.
    outs = write_records(workdir, raw=passed("raw"), container={"gate": "container", "passed": False, "checks": []})
    assert "gates/container.json: the container gate failed" in refusal(workdir, outs, ["raw"])


def test_every_problem_is_listed_not_only_the_first(workdir):
    outs = write_records(
        workdir, features=passed("features"), model=passed("model"), raw={"gate": "raw", "passed": False}
    )
    (workdir / "gates/features.json").unlink()  # listed before the others: a missing record does not end the check
    (workdir / "gates/model.json").write_text("{}")
    assert refusal(workdir, outs) == (
        "gate records do not clear this artifact:\n"
        "  gates/features.json: missing (dvc.lock lists it; commit the gate records with dvc.lock)\n"
        "  gates/model.json: the ? gate failed ()\n"
        "  gates/raw.json: the raw gate failed ()"
    )


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"[1]", "a gate record must be a JSON object, got a JSON list"),
        (b"{broken", "not valid JSON"),
    ],
)
def test_a_malformed_record_is_named_by_its_path_in_the_repo(workdir, content, says):
    outs = write_records(workdir, features=passed("features"), raw={"gate": "raw", "passed": False})
    (workdir / "gates/features.json").write_bytes(content)
    message = refusal(workdir, outs, ["features", "raw"])
    assert message.startswith(f"gate records do not clear this artifact:\n  gates/features.json: {says}")
    assert message.endswith("\n  gates/raw.json: the raw gate failed ()")  # the check went on past it
    assert str(workdir) not in message and message.count("\n  ") == 2


def test_a_commit_without_a_trained_artifact_is_refused_naming_dvc_lock(workdir):
    (workdir / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    with pytest.raises(Refused) as caught:
        records.artifact_identity(workdir, Layout())
    assert str(caught.value).startswith(f"{workdir / 'dvc.lock'}: no stage 'train': this commit holds no trained")


def test_the_required_gates_default_to_the_templates_three():
    assert records.required_gates({}) == ["raw", "features", "model"]
    assert records.required_gates({"gates": {}}) == ["raw", "features", "model"]
    assert records.required_gates({"gates": {"required": ["raw"]}}) == ["raw"]


# Rollback's choice of the release to restore, from the environment's release history.


def release(version: str, time: str, content: str | None = None, **extra) -> dict:
    return {"model_version": version, "content_hash": content or f"h{version}", "time": time, **extra}


def history(repo: Path, *entries: dict) -> dict:
    """Write releases/staging/history.jsonl; returns the last entry (the current release)."""
    path = environment.history_path(repo, "staging")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(entry) + "\n" for entry in entries))
    return entries[-1]


def target(repo: Path, current: dict, to: str | None = None, allow_rejected: bool = False) -> dict:
    return rollback._target(repo, "staging", current, to, ["staging", "production"], allow_rejected)


def test_rollback_restores_the_latest_release_of_another_version(workdir):
    current = history(workdir, release("1", "t1"), release("2", "t2"), release("1", "t3"), release("3", "t4"))
    assert target(workdir, current)["time"] == "t3"
    # Versions compare as text, whatever JSON type a history line used.
    current = history(workdir, release("1", "t1"), release(2, "t2"), release("2", "t3"))
    assert target(workdir, current)["time"] == "t1"


def test_rollback_to_a_version_takes_its_latest_release(workdir):
    current = history(workdir, release("1", "t1", "a"), release("2", "t2"), release("1", "t3", "b"), release("3", "t4"))
    assert target(workdir, current, to="1") == release("1", "t3", "b")
    assert target(workdir, current, to="2")["time"] == "t2"


def test_rollback_without_an_earlier_version_refuses_naming_the_history(workdir):
    current = history(workdir, release("1", "t1"), release("1", "t2"))
    with pytest.raises(Refused) as caught:
        target(workdir, current)
    path = environment.history_path(workdir, "staging")
    assert str(caught.value) == f"{path}: no earlier release of 'staging' to roll back to"


def test_rollback_to_the_running_version_refuses(workdir):
    current = history(workdir, release("1", "t1"), release("2", "t2"))
    with pytest.raises(Refused, match=r"^'staging' already runs v2$"):
        target(workdir, current, to="2")


def test_rollback_to_a_version_never_released_lists_the_released_ones_in_order(workdir):
    current = history(workdir, release("10", "t1"), release("9", "t2"), release("2", "t3"), release("9", "t4"))
    with pytest.raises(Refused) as caught:
        target(workdir, current, to="3")
    assert str(caught.value) == (
        "version 3 was never released to 'staging' (released there: 2, 9, 10); "
        "roll back only to a release the environment ran"
    )
    environment.history_path(workdir, "staging").unlink()
    with pytest.raises(Refused, match=r"never released to 'staging' \(released there: none\); roll back only"):
        target(workdir, current, to="3")


def test_rollback_to_a_rejected_release_refuses_unless_allowed(workdir, monkeypatch):
    # Rejections are read from the branch's committed history (written by the bot, as promote and rollback do).
    rejected_v2 = release("1", "t3", "h1", rolled_back_from={"content_hash": "h2"}, rejected_previous=True, actor="ann")
    current = history(workdir, release("1", "t1", "h1"), release("2", "t2", "h2"), rejected_v2, release("3", "t4"))
    environment.git(workdir, "init", "-q", "-b", "staging")
    environment.git(workdir, "commit", "-q", "--allow-empty", "-m", "start")  # a release commit has a parent
    environment.git(workdir, "add", "releases")
    environment.git(workdir, "commit", "-qm", "releases")
    (workdir / "elsewhere").mkdir()
    monkeypatch.chdir(workdir / "elsewhere")  # the branches are read in the repository given, not the working dir
    with pytest.raises(Refused) as caught:
        target(workdir, current, to="2")
    assert str(caught.value) == (
        "v2 was rolled back from staging and rejected by ann at t3 (fix: --to another version, or --allow-rejected)"
    )
    assert target(workdir, current, to="2", allow_rejected=True)["time"] == "t2"
    assert target(workdir, current)["time"] == "t3"


# Promotion re-hashes what it vouches for (release/promote.py): the model, the training data and the reference data.


@pytest.fixture
def locked(workdir) -> Path:
    """A repo whose dvc.lock records the model, training data at a configured (not default) path, the default path,
    and the staging reference data."""
    import yaml

    from modelrail.trust.integrity import content_md5

    files = {
        "models/model/MLmodel": "model",
        "data/custom/train.csv": "x\n1\n",
        "data/prepared/train.csv": "x\n2\n",
        "data/reference/staging.csv": "x\n3\n",
    }
    for path, text in files.items():
        (workdir / path).parent.mkdir(parents=True, exist_ok=True)
        (workdir / path).write_text(text)
    outs = [{"path": path, "md5": content_md5(workdir / path)} for path in ["models/model", *list(files)[1:]]]
    (workdir / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"all": {"outs": outs}}}))
    environment.git(workdir, "init", "-q")
    return workdir


CONTENT_CONFIG = {"promotion": {"reference_data": {"staging": "data/reference/staging.csv"}}}
CUSTOM = Layout(train_data="data/custom/train.csv")


@pytest.mark.parametrize("path", ["models/model/MLmodel", "data/custom/train.csv", "data/reference/staging.csv"])
def test_promotion_refuses_a_model_or_data_other_than_dvc_lock_records(locked, path):
    from modelrail.release import promote
    from modelrail.trust.integrity import IntegrityError

    promote._require_content(locked, CONTENT_CONFIG, CUSTOM, "staging")  # as locked: nothing to say
    (locked / path).write_text("other bytes")
    with pytest.raises(IntegrityError) as caught:
        promote._require_content(locked, CONTENT_CONFIG, CUSTOM, "staging")
    assert str(Path(path).parent if path.startswith("models") else path) in str(caught.value)
    # Without a reference for the environment, only the model and the training data are checked.
    if path.startswith("data/reference"):
        promote._require_content(locked, CONTENT_CONFIG, CUSTOM, "production")


def test_without_a_declared_layout_the_default_training_data_is_re_hashed(locked):
    from modelrail.release import promote
    from modelrail.trust.integrity import IntegrityError

    promote._require_content(locked, {}, Layout(), "staging")
    (locked / "data/prepared/train.csv").write_text("other bytes")
    with pytest.raises(IntegrityError, match=r"data/prepared/train\.csv"):
        promote._require_content(locked, {"promotion": {"reference_data": {}}}, Layout(), "staging")


# Promotion's checks on the registries (release/promote.py): which model version and which image digest a release
# takes, and when the environment already runs the artifact.


class Versions:
    """model_registry.Registry's reads, over version number -> tags; a number not held cannot be read."""

    name = "clf"

    def __init__(self, aliases: dict | None = None, **tags: dict):
        self.tags, self.aliases = {number.lstrip("v"): value for number, value in tags.items()}, aliases or {}

    def version(self, number: str):
        from types import SimpleNamespace

        if number not in self.tags:
            raise ConnectionError(f"RESOURCE_DOES_NOT_EXIST: version {number}\nmore")
        return SimpleNamespace(version=number, tags=self.tags[number])

    def versions(self) -> list:
        return [self.version(number) for number in self.tags]

    def alias(self, env: str) -> str | None:
        return self.aliases.get(env)


ARTIFACT = Identity("c" * 32, {"data/raw/x.csv": "d" * 32}, {}, None)


def held(content: str = "c" * 32, data: str = f"data/raw/x.csv={'d' * 32}") -> dict:
    from modelrail import model_registry

    return {model_registry.CONTENT_TAG: content, model_registry.DATA_TAG: data}


def resolve_refusal(registry: Versions, previous: dict | None) -> str:
    from modelrail.release import promote

    with pytest.raises(Refused) as caught:
        promote._resolve_version(registry, ARTIFACT, previous)
    return str(caught.value)


def test_the_first_environment_takes_the_earliest_version_registered_for_this_content():
    from modelrail.release import promote

    registry = Versions(v1=held("e" * 32), v3=held(), v2=held(), v4=held(data="data/raw/x.csv=other"))
    assert promote._resolve_version(registry, ARTIFACT, None).version == "2"
    assert resolve_refusal(Versions(v1=held("e" * 32), v4=held(data="other")), None) == (
        f"no version of clf in the MLflow registry is tagged modelrail.content_hash={'c' * 32} with these data "
        "hashes: no artifact for this commit's content (fix: merge its pull request into main, whose publish "
        "workflow runs `modelrail register`)"
    )


def test_a_later_environment_takes_the_version_its_previous_environment_released():
    from modelrail.release import promote

    # Version 3 carries the same content too: the record names 5, and 5 it is.
    registry = Versions(v3=held(), v5=held(data="another data label"))
    assert promote._resolve_version(registry, ARTIFACT, {"model_version": 5}).version == "5"
    assert resolve_refusal(registry, {"model_version": "7"}) == (
        "clf v7, which the previous environment's release record names, cannot be read from the MLflow registry: "
        "RESOURCE_DOES_NOT_EXIST: version 7"
    )
    registry.tags["5"] = held("e" * 32)
    assert resolve_refusal(registry, {"model_version": "5"}) == (
        f"clf v5 carries content hash {'e' * 32}, not {'c' * 32} that the previous environment's release record "
        "names: the registry was changed since that release"
    )
    registry.tags["5"] = None
    assert "clf v5 carries content hash None, not" in resolve_refusal(registry, {"model_version": "5"})


DIGEST = "sha256:" + "1" * 64


@pytest.fixture
def image_reads(monkeypatch) -> list:
    """image_tags' reads of the image registry, recorded: each returns the digest it was asked to check."""
    from modelrail.release import image_tags

    calls = []

    def digest_for(client, repository, content_hash):
        calls.append(("tag", client, repository, content_hash))
        return DIGEST

    def check_image(client, repository, digest, content_hash):
        calls.append(("digest", client, repository, digest, content_hash))
        return digest

    monkeypatch.setattr(image_tags, "image_digest_for", digest_for)
    monkeypatch.setattr(image_tags, "check_image", check_image)
    return calls


def test_the_first_environment_takes_the_image_tagged_with_the_content_hash(image_reads):
    from modelrail.release import promote

    assert promote._image_digest("docker", "reg/clf", "h1", None) == DIGEST
    assert image_reads == [("tag", "docker", "reg/clf", "h1")]


def test_a_later_environment_takes_the_digest_its_previous_environment_released(image_reads):
    from modelrail.release import promote

    previous = {"image": {"repository": "reg/clf", "digest": "sha256:" + "2" * 64}}
    assert promote._image_digest("docker", "reg/clf", "h1", previous) == "sha256:" + "2" * 64
    assert image_reads == [("digest", "docker", "reg/clf", "sha256:" + "2" * 64, "h1")]


@pytest.mark.parametrize(
    "image",
    [None, {"repository": "other/clf", "digest": DIGEST}, {"repository": "reg/clf", "digest": None}, {}],
)
def test_a_previous_release_without_that_image_refuses(image_reads, image):
    from modelrail.release import promote

    with pytest.raises(Refused) as caught:
        promote._image_digest("docker", "reg/clf", "h1", {"image": image})
    shown = image or {}
    assert str(caught.value) == (
        "the previous environment's release of h1 names no image digest in reg/clf "
        f"(it has {shown.get('repository')}@{shown.get('digest')}): promote it there with its image first"
    )
    assert image_reads == []


RUNNING = {"model_version": "2", "content_hash": "c" * 32, "image": {"repository": "reg/clf", "digest": DIGEST}}


@pytest.fixture
def tag_digest(monkeypatch) -> dict:
    """What the image registry answers for `<repository>:<tag>` (promote's one read of it here)."""
    from modelrail.container import engine
    from modelrail.release import promote

    tags = {"reg/clf:staging": DIGEST}
    monkeypatch.setattr(engine, "connect", lambda: "docker")
    monkeypatch.setattr(promote, "registry_digest", lambda client, ref: client == "docker" and tags.get(ref))
    return tags


def already(current: dict | None, repository: str | None = "reg/clf", alias: str = "2", number: str = "2") -> bool:
    from modelrail.release import promote

    return promote._already_released(Versions({"staging": alias}), "staging", number, ARTIFACT, current, repository)


def test_a_release_is_a_no_op_only_when_the_record_the_alias_and_the_image_tag_all_say_so(tag_digest):
    assert already(RUNNING) is True
    assert already({**RUNNING, "image": None}, repository=None) is True  # no image part: the record and the alias
    assert already(None) is False and already({}) is False
    assert already({**RUNNING, "model_version": "1"}) is False
    assert already({**RUNNING, "content_hash": "e" * 32}) is False
    assert already(RUNNING, alias="1") is False
    assert already({**RUNNING, "image": None}) is False
    assert already({**RUNNING, "image": {"repository": "other/clf", "digest": DIGEST}}) is False
    tag_digest["reg/clf:staging"] = "sha256:" + "2" * 64  # the tag was pushed again since
    assert already(RUNNING) is False
    del tag_digest["reg/clf:staging"]
    assert already(RUNNING) is False


def test_the_image_repository_is_the_override_or_the_configured_registry(workdir):
    from modelrail.identity import project_name
    from modelrail.release import promote

    name = project_name(workdir)
    config = {"container_registry": "ghcr.io/team/"}
    assert promote._image_repository(workdir, config, None) == f"ghcr.io/team/{name}"
    assert promote._image_repository(workdir, config, "localhost:5000/") == f"localhost:5000/{name}"
    assert promote._image_repository(workdir, {}, None) is None
    assert promote._image_repository(workdir, {"container_registry": "/"}, None) is None
    # Only slashes are stripped: a host name may end in any letter (upper case too, in the reference grammar).
    assert promote._image_repository(workdir, {}, "REGISTRY.BOX/") == f"REGISTRY.BOX/{name}"


# Promotion's drift gate: the training data against the environment's reference data.

DRIFT_CONFIG = """\
project: clf
environments: [staging, production]
mlflow: {tracking_uri: "sqlite:///registry.db", registered_model: clf}
drift: {psi: 0.2}
promotion: {reference_data: {staging: data/reference/staging.csv}}
"""


def table(shift: int = 0, rows: int = 200) -> str:
    return "x,y\n" + "".join(f"{(i + shift) % 10},{i % 2}\n" for i in range(rows))


@pytest.fixture
def drift_repo(workdir) -> Path:
    """Training and reference data a little apart (two values of x missing from the reference), within psi 0.2."""
    (workdir / "modelrail.yaml").write_text(DRIFT_CONFIG)
    for path, text in (("data/prepared/train.csv", table()), ("data/reference/staging.csv", table(rows=195))):
        (workdir / path).parent.mkdir(parents=True, exist_ok=True)
        (workdir / path).write_text(text)
    return workdir


def drift_gate(repo: Path, env: str = "staging", layout: Layout | None = None):
    import yaml

    from modelrail.release import promote

    return promote._drift_gate(repo, yaml.safe_load(DRIFT_CONFIG), layout or Layout(), env)


def test_the_drift_gate_records_what_it_compared_and_each_columns_psi(drift_repo):
    import yaml

    from modelrail.release import promote

    assert drift_gate(drift_repo) == {
        "passed": True,
        "reference": "data/reference/staging.csv",
        "training_data": "data/prepared/train.csv",
        "psi": {"x": 0.0007, "y": 0.0},
    }
    record = json.loads((drift_repo / "build/promote/drift-staging.json").read_text())
    assert record["passed"] is True and (drift_repo / "build/promote/drift-staging.md").is_file()
    # Without reference data for the environment there is no drift gate (and no record).
    assert drift_gate(drift_repo, "production") is None
    assert promote._drift_gate(drift_repo, yaml.safe_load("promotion: {}"), Layout(), "staging") is None
    assert promote._drift_gate(drift_repo, {}, Layout(), "staging") is None
    assert not (drift_repo / "build/promote/drift-production.json").exists()


def test_drift_beyond_the_threshold_refuses_naming_both_data_and_the_report(drift_repo):
    # Half of x's values are gone and y is always 1: both columns drift, both are named.
    shifted = "x,y\n" + "".join(f"{5 + i % 5},1\n" for i in range(200))
    (drift_repo / "data/reference/staging.csv").write_text(shifted)
    with pytest.raises(Refused) as caught:
        drift_gate(drift_repo)
    message = str(caught.value)
    config, report = drift_repo / "modelrail.yaml", drift_repo / "build/promote/drift-staging.json"
    failed = [check["message"] for check in json.loads(report.read_text())["checks"] if not check["success"]]
    assert len(failed) >= 2 and f"(drift:): {'; '.join(failed)} (full report:" in message
    assert message.startswith(
        "drift gate: the training data data/prepared/train.csv and staging's reference data "
        f"data/reference/staging.csv differ beyond the thresholds of {config} (drift:): "
    )
    assert message.endswith(f"(full report: {report})")


def test_the_drift_gate_holds_the_data_to_the_thresholds_of_modelrail_yaml(drift_repo):
    # The same data as the passing case above; a threshold below its psi of x (0.00066) makes it drift.
    (drift_repo / "modelrail.yaml").write_text(DRIFT_CONFIG.replace("psi: 0.2", "psi: 0.0005"))
    with pytest.raises(Refused, match=r"^drift gate: .*'x'"):
        drift_gate(drift_repo)


@pytest.mark.parametrize("missing", ["data/prepared/train.csv", "data/reference/staging.csv"])
def test_drift_data_that_is_not_there_is_a_usage_error_naming_its_key(drift_repo, missing):
    from modelrail.errors import ConfigError

    (drift_repo / missing).unlink()
    layout = Layout(source="modelrail.yaml")
    declared = layout.key("train_data") if "prepared" in missing else "promotion.reference_data.staging"
    with pytest.raises(ConfigError) as caught:
        drift_gate(drift_repo, layout=layout)
    assert str(caught.value) == (
        f"{drift_repo / missing}: no such data (fix: `dvc pull` it before promoting; promotion never retrains) "
        f"({declared})"
    )
