"""`modelrail register`, `promote` and `rollback` against a real (SQLite) MLflow registry and real git repositories.

The image part runs against the Docker engine and registry of infra/ (skipped outside CI without one). Everything
else uses `--no-image`, as a model repo without a container registry would.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
from pathlib import Path

import pytest
import yaml
from support.registry import sqlite_store_bytes
from support.repos import git, write_deploy_base

from modelrail import model_registry
from modelrail.cli import main
from modelrail.layout import Layout
from modelrail.release import environment
from modelrail.release import overlay as deploy_overlay
from modelrail.trust.integrity import content_md5

# Each release runs git many times, in real repositories with real branches.
pytestmark = pytest.mark.subprocess

CONFIG = """\
project: clf
environments: [staging, production]
mlflow:
  tracking_uri: sqlite:///registry.db
  registered_model: clf
drift:
  psi: 0.2
paths:
  train_data: data/prepared/train.csv
promotion:
  reference_data:
    staging: data/reference/staging.csv
"""
TEMPLATE_LAYOUT = Layout()
# A repo laid out its own way, declared in its modelrail.yaml: every path and the training stage differ.
MOVED = {
    "paths": {
        "model": "trained/model",
        "run_record": "trained/run.json",
        "data": "inputs",
        "train_data": "inputs/train.csv",
        "gates": "checks",
    },
    "stages": {"train": "fit"},
}
MOVED_LAYOUT = Layout(**MOVED["paths"], train_stage="fit")
TRAIN = "x,y\n" + "".join(f"{i % 10},{i % 2}\n" for i in range(200))


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@pytest.fixture
def repo(workdir, monkeypatch):
    """A model repo on main with branches staging and production, and an empty registered model `clf`."""
    for name in ("MLFLOW_TRACKING_URI", "MODELRAIL_ENV", "MODELRAIL_REGISTRY", "MODELRAIL_NO_IMAGE", "GITHUB_OUTPUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("GITHUB_ACTOR", "tester")
    (workdir / "modelrail.yaml").write_text(CONFIG)
    (workdir / ".gitignore").write_text("registry.db\nbuild/\nartifacts/\n")
    (workdir / "data/prepared").mkdir(parents=True)
    (workdir / "data/prepared/train.csv").write_text(TRAIN)
    (workdir / "data/reference").mkdir(parents=True)
    (workdir / "data/reference/staging.csv").write_text(TRAIN)
    write_deploy_base(workdir)
    git(workdir, "init", "-q", "-b", "main")
    git(workdir, "add", ".")
    git(workdir, "commit", "-qm", "start")
    git(workdir, "branch", "staging")
    git(workdir, "branch", "production")
    (workdir / "registry.db").write_bytes(sqlite_store_bytes("clf"))
    return workdir


def client(repo: Path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{repo / 'registry.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def log_run(repo: Path) -> str:
    """What train does in MLflow: a run with a logged model named `model` (registered by `modelrail register`)."""
    from mlflow.entities import LoggedModelOutput

    mlflow = client(repo)
    experiment = mlflow.get_experiment_by_name("clf")
    experiment_id = experiment.experiment_id if experiment else mlflow.create_experiment("clf")
    run_id = mlflow.create_run(experiment_id).info.run_id
    model = mlflow.create_logged_model(experiment_id, name="model", source_run_id=run_id)
    mlflow.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
    return run_id


def model_hash(model: str) -> str:
    """The content identity of the fake model `model` (a models/model folder holding MLmodel = `model`): its DVC
    directory md5 without `.dir`, as dvc.lock records it."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "MLmodel").write_text(model)
        return content_md5(Path(folder)).removesuffix(".dir")


def train(
    repo: Path, model: str, passed: bool = True, register: bool = True, edit_lock=None, layout: Layout = TEMPLATE_LAYOUT
) -> str | None:
    """What `dvc repro` leaves on main: gate records, the run record, dvc.lock, where `layout` says; what publish then
    does on main: `modelrail register`. Returns the registered version. `edit_lock` may change dvc.lock's stages
    first."""
    raw, gate = f"{layout.data}/raw/x.csv", layout.gate_record
    files = {
        gate("raw"): json.dumps({"gate": "raw", "passed": True, "checks": []}),
        gate("features"): json.dumps({"gate": "features", "passed": True, "checks": []}),
        gate("model"): json.dumps(
            {"gate": "model", "passed": passed, "checks": [{"name": "threshold accuracy", "success": passed}]}
        ),
        layout.run_record: json.dumps({"registered_model": "clf", "run_id": log_run(repo)}),
        f"{layout.model}/MLmodel": model,
    }
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    dvc_lock = {
        "schema": "2.0",
        "stages": {
            "raw_gate": {
                "deps": [{"path": raw, "md5": md5("raw")}],
                "outs": [{"path": gate("raw"), "md5": md5(files[gate("raw")])}],
            },
            "prepare": {
                "deps": [{"path": raw, "md5": md5("raw")}],
                "outs": [{"path": layout.train_data, "md5": md5(TRAIN)}],
            },
            layout.train_stage: {
                "deps": [{"path": layout.train_data, "md5": md5(TRAIN)}],
                "outs": [
                    {"path": layout.model, "md5": model_hash(model) + ".dir", "hash": "md5"},
                    {"path": layout.run_record, "md5": md5(files[layout.run_record])},
                ],
            },
            "feature_gate": {"outs": [{"path": gate("features"), "md5": md5(files[gate("features")])}]},
            "model_gate": {"outs": [{"path": gate("model"), "md5": md5(files[gate("model")])}]},
        },
    }
    if edit_lock:
        edit_lock(dvc_lock["stages"])
    (repo / "dvc.lock").write_text(yaml.safe_dump(dvc_lock))
    git(repo, "checkout", "-q", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", f"train {model}")
    if not register:
        return None
    from modelrail.release import register as register_command

    return register_command.run(repo).model_version


def merge(repo: Path, source: str, env: str) -> None:
    git(repo, "checkout", "-q", env)
    git(repo, "merge", "-q", "--no-ff", "-m", f"Merge {source} into {env}", source)


def promote(env: str, *args: str) -> int:
    return main(["promote", "--env", env, "--no-image", *args])


def alias(repo: Path, env: str) -> str | None:
    """The version behind the alias, None when there is no such alias; an unreadable registry fails the test."""
    version = client(repo).get_registered_model("clf").aliases.get(env)
    return None if version is None else str(version)


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD")


def test_register_tags_the_version_with_the_identity_from_dvc_lock(repo):
    version = train(repo, "m1")
    tags = client(repo).get_model_version("clf", version).tags
    assert tags[model_registry.CONTENT_TAG] == model_hash("m1")
    assert tags[model_registry.DATA_TAG] == f"data/prepared/train.csv={md5(TRAIN)} data/raw/x.csv={md5('raw')}"
    assert json.loads(tags[model_registry.GATES_TAG]) == {"raw": True, "features": True, "model": True}
    run_id = json.loads((repo / "models/run.json").read_text())["run_id"]
    assert client(repo).get_model_version("clf", version).run_id == run_id
    # Registering the same commit again (a re-run of publish) reuses the version.
    assert main(["register"]) == 0
    assert [str(v.version) for v in client(repo).search_model_versions("name='clf'")] == [version]


def test_promote_moves_the_alias_and_commits_the_record_once(repo, capsys):
    version = train(repo, "m1")
    merge(repo, "main", "staging")
    merged = head(repo)
    assert promote("staging") == 0
    assert alias(repo, "staging") == version
    record = json.loads((repo / "releases/staging/release.json").read_text())
    assert record["kind"] == "promotion" and record["model_version"] == version
    assert record["content_hash"] == model_hash("m1") and record["code_sha"] == merged and record["actor"] == "tester"
    assert record["gates"]["model"]["passed"] and record["gates"]["drift"]["passed"]
    assert git(repo, "log", "-1", "--format=%an <%ae>") == f"{environment.BOT_NAME} <{environment.BOT_EMAIL}>"
    assert git(repo, "status", "--porcelain") == ""
    released = head(repo)
    # The same promotion again changes nothing: no commit, no registry write.
    assert promote("staging") == 0
    assert head(repo) == released
    assert "nothing to do" in capsys.readouterr().out


def test_production_only_after_staging(repo, capsys):
    version = train(repo, "m1")
    merge(repo, "main", "production")
    before = head(repo)
    assert promote("production") == 1
    assert "never released to 'staging'" in capsys.readouterr().err
    assert alias(repo, "production") is None and head(repo) == before
    merge(repo, "main", "staging")
    assert promote("staging") == 0
    merge(repo, "staging", "production")
    assert promote("production") == 0
    assert alias(repo, "production") == version
    assert json.loads((repo / "releases/production/release.json").read_text())["model_version"] == version


def test_a_release_skipping_the_environment_just_before_is_refused(repo, capsys):
    """With three environments, the one right before counts: released to the first is not enough for the third."""
    config = repo / "modelrail.yaml"
    config.write_text(config.read_text().replace("[staging, production]", "[dev, staging, production]"))
    git(repo, "commit", "-qam", "three environments")
    git(repo, "branch", "dev")
    version = train(repo, "m1")
    merge(repo, "main", "dev")
    assert promote("dev") == 0 and alias(repo, "dev") == version
    merge(repo, "dev", "production")
    before = head(repo)
    capsys.readouterr()
    assert promote("production") == 1
    assert "'staging'" in capsys.readouterr().err
    assert alias(repo, "production") is None and head(repo) == before
    assert not (repo / "releases/production").exists()


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("failed gate", "the model gate failed (threshold accuracy)"),
        ("tampered record", "not this artifact's record"),
        ("unregistered", "no artifact for this commit's content"),
        ("model swapped on the DVC remote", "models/model: dvc.lock (stage train) records md5"),
        ("training data swapped on the DVC remote", "data/prepared/train.csv: dvc.lock (stage prepare) records md5"),
    ],
)
def test_refusals_change_nothing(repo, capsys, case, says):
    train(repo, "m1", passed=case != "failed gate", register=case != "unregistered")
    if case == "tampered record":
        (repo / "gates/raw.json").write_text(json.dumps({"gate": "raw", "passed": True, "checks": [1]}))
        git(repo, "commit", "-qam", "edit a gate record by hand")
    merge(repo, "main", "staging")
    # What `dvc pull` checks out when someone overwrote the objects on the remote: other bytes, same paths.
    if case == "model swapped on the DVC remote":
        (repo / "models/model/MLmodel").write_text("another model")
    if case == "training data swapped on the DVC remote":
        (repo / "data/prepared/train.csv").write_text(TRAIN.replace("1", "7"))
    before = head(repo)
    assert promote("staging") == 1
    assert says in capsys.readouterr().err
    assert alias(repo, "staging") is None and head(repo) == before
    assert not (repo / "releases").exists()


def drop_stages(*names):
    def edit(stages: dict) -> None:
        for name in names:
            del stages[name]

    return edit


@pytest.mark.parametrize(
    ("case", "edit", "says"),
    [
        ("missing record", drop_stages("feature_gate"), "the required gate 'features' (modelrail.yaml"),
        ("no gate records", drop_stages("raw_gate", "feature_gate", "model_gate"), "no gate record (gates/*.json)"),
    ],
)
def test_a_missing_gate_record_refuses(repo, capsys, case, edit, says):
    train(repo, "m1", edit_lock=edit)
    merge(repo, "main", "staging")
    before = head(repo)
    assert promote("staging") == 1
    assert says in capsys.readouterr().err
    assert alias(repo, "staging") is None and head(repo) == before


def test_a_pipeline_that_dropped_a_required_gate_stage_refuses(repo, capsys):
    # dvc.yaml without raw_gate: `dvc repro` then locks no gates/raw.json, and the default required gates name it.
    stages = {name: {"cmd": "true", "outs": [f"gates/{gate}.json"]} for name, gate in (("feature_gate", "features"),)}
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    train(repo, "m1", edit_lock=drop_stages("raw_gate"))
    merge(repo, "main", "staging")
    assert promote("staging") == 1
    assert "the required gate 'raw'" in capsys.readouterr().err
    # Declared explicitly, the same policy is a configuration error naming the key, the gate and dvc.yaml.
    config = yaml.safe_load((repo / "modelrail.yaml").read_text())
    (repo / "modelrail.yaml").write_text(yaml.safe_dump({**config, "gates": {"required": ["raw", "features"]}}))
    assert promote("staging") == 2
    err = capsys.readouterr().err
    assert "key 'gates.required': unknown gate 'raw'" in err and "dvc.yaml" in err
    assert alias(repo, "staging") is None and not (repo / "releases").exists()


def test_a_forged_rejection_removal_or_release_tag_proves_nothing(repo, capsys):
    version = train(repo, "m1")
    # Registry tags and aliases are outputs of a release; whoever can write them cannot open production with them.
    client(repo).set_model_version_tag("clf", version, model_registry.RELEASED_PREFIX + "staging", "forged")
    client(repo).set_registered_model_alias("clf", "staging", version)
    merge(repo, "main", "production")
    before = head(repo)
    assert promote("production") == 1
    err = capsys.readouterr().err
    assert "never released to 'staging'" in err and "releases/staging/history.jsonl" in err
    assert alias(repo, "production") is None and head(repo) == before


def forged_line(version: str) -> str:
    return json.dumps({"environment": "staging", "content_hash": model_hash("m1"), "model_version": version}) + "\n"


@pytest.mark.parametrize("how", ["through a pull request to main", "by hand on the branch"])
def test_a_forged_release_line_in_a_history_proves_nothing(repo, capsys, how):
    version = train(repo, "m1")
    history = repo / "releases/staging/history.jsonl"
    history.parent.mkdir(parents=True)
    if how == "through a pull request to main":
        # Authored as the bot, even: the line reaches staging through the merge, which is not a release commit.
        history.write_text(forged_line(version))
        environment.git(repo, "add", "releases")
        environment.git(repo, "commit", "-qm", "Promote clf v1 to staging")
        merge(repo, "main", "staging")
    else:
        merge(repo, "main", "staging")
        history.write_text(forged_line(version))
        # A commit of someone's own on the environment branch (only the promote job may push there).
        git(repo, "add", "releases")
        git(repo, "commit", "-qm", "Promote clf v1 to staging")
    merge(repo, "staging", "production")
    before = head(repo)
    assert promote("production") == 1
    err = capsys.readouterr().err
    assert "releases/staging/history.jsonl: lines from commit" in err and "were not written by a release" in err
    assert alias(repo, "production") is None and head(repo) == before


def test_a_branch_that_moved_on_since_the_approval_refuses(repo, capsys):
    version = train(repo, "m1")
    merge(repo, "main", "staging")
    approved = head(repo)
    (repo / "notes.txt").write_text("pushed after the approval\n")
    git(repo, "add", "notes.txt")
    git(repo, "commit", "-qm", "A later push")
    newest = head(repo)
    assert promote("staging", "--approved-sha", approved) == 1
    err = capsys.readouterr().err
    assert f"moved on from the approved commit {approved[:12]} to {newest[:12]}" in err
    assert alias(repo, "staging") is None and head(repo) == newest
    # The newer push's run releases; a re-run of it afterwards finds only the bot's release commit on top.
    assert promote("staging", "--approved-sha", newest) == 0
    assert alias(repo, "staging") == version
    released = head(repo)
    assert promote("staging", "--approved-sha", newest) == 0
    assert head(repo) == released and "nothing to do" in capsys.readouterr().out


def test_drift_between_training_and_reference_data_refuses(repo, capsys):
    train(repo, "m1")
    merge(repo, "main", "staging")
    shifted = "x,y\n" + "".join(f"{5 + i % 5},{i % 2}\n" for i in range(200))
    (repo / "data/reference/staging.csv").write_text(shifted)
    assert promote("staging") == 1
    err = capsys.readouterr().err
    assert "drift gate" in err and "'x'" in err
    assert alias(repo, "staging") is None


def test_a_held_lock_refuses(repo, capsys):
    import time

    train(repo, "m1")
    merge(repo, "main", "staging")
    client(repo).set_registered_model_tag("clf", "modelrail.lock.staging", f"abc {int(time.time())} someone")
    assert promote("staging") == 1
    assert "another release of 'staging' is under way (by someone" in capsys.readouterr().err
    assert alias(repo, "staging") is None


def test_a_registry_failure_midway_leaves_the_alias_and_the_branch_unchanged(repo, capsys, monkeypatch):
    from mlflow import MlflowClient

    v1 = train(repo, "m1")
    merge(repo, "main", "staging")
    assert promote("staging") == 0
    train(repo, "m2")
    merge(repo, "main", "staging")
    before = head(repo)

    def broken(self, *args):
        raise ConnectionError("registry went away")

    with monkeypatch.context() as patch:
        patch.setattr(MlflowClient, "set_model_version_tag", broken)
        assert promote("staging") == 1
    err = capsys.readouterr().err
    assert "registry went away" in err and "re-run `modelrail promote --env staging`" in err
    assert alias(repo, "staging") == v1 and head(repo) == before
    assert json.loads((repo / "releases/staging/release.json").read_text())["model_version"] == v1
    assert promote("staging") == 0
    assert alias(repo, "staging") != v1


def test_rollback_restores_the_previous_release_and_can_reject(repo, capsys):
    v1 = train(repo, "m1")
    merge(repo, "main", "staging")
    assert promote("staging") == 0
    v2 = train(repo, "m2")
    merge(repo, "main", "staging")
    assert promote("staging") == 0
    assert alias(repo, "staging") == v2
    assert main(["rollback", "--env", "staging", "--no-image", "--reject"]) == 0
    assert alias(repo, "staging") == v1
    record = json.loads((repo / "releases/staging/release.json").read_text())
    assert record["kind"] == "rollback" and record["model_version"] == v1
    assert record["rolled_back_from"]["model_version"] == v2
    assert len(environment.history(repo, "staging")) == 3
    assert model_registry.REJECTED_TAG in client(repo).get_model_version("clf", v2).tags
    # The rejected version is refused until someone overrides on purpose. The evidence is the rollback record on
    # the branch: deleting the registry tag (any job with registry write access could) changes nothing.
    client(repo).delete_model_version_tag("clf", v2, model_registry.REJECTED_TAG)
    train(repo, "m2-again", register=False)
    git(repo, "revert", "--no-edit", "HEAD")
    merge(repo, "main", "staging")
    capsys.readouterr()
    assert promote("staging") == 1
    assert "rejected" in capsys.readouterr().err
    assert promote("staging", "--allow-rejected") == 0
    assert alias(repo, "staging") == v2


def test_git_revert_of_a_promotion_brings_back_the_previous_release(repo):
    v1 = train(repo, "m1")
    merge(repo, "main", "staging")
    assert promote("staging") == 0
    v2 = train(repo, "m2")
    merge(repo, "main", "staging")
    merge_commit = head(repo)
    assert promote("staging") == 0
    assert alias(repo, "staging") == v2, "the second promotion did not take effect: nothing to revert"
    assert json.loads((repo / "releases/staging/release.json").read_text())["model_version"] == v2
    git(repo, "revert", "--no-edit", "-m", "1", merge_commit)
    assert promote("staging") == 0
    assert alias(repo, "staging") == v1
    assert json.loads((repo / "releases/staging/release.json").read_text())["kind"] == "rollback"


def test_rollback_to_a_version_never_released_there_refuses(repo, capsys):
    train(repo, "m1")
    merge(repo, "main", "staging")
    assert promote("staging") == 0
    assert main(["rollback", "--env", "staging", "--no-image", "--to", "9"]) == 1
    assert "never released to 'staging'" in capsys.readouterr().err


def test_promote_outside_the_environment_branch_is_a_usage_error(repo, capsys):
    train(repo, "m1")
    assert promote("staging") == 2
    assert "git checkout staging" in capsys.readouterr().err


def test_the_overlay_pins_the_image_by_digest(repo):
    record = {"model_version": "3", "content_hash": "abc"}
    files = deploy_overlay.render_overlay(repo, "staging", "reg/clf@sha256:" + "0" * 64, record)
    overlay = yaml.safe_load(files[repo / "deploy/staging/kustomization.yaml"])
    assert overlay["images"] == [{"name": "placeholder", "newName": "reg/clf", "digest": "sha256:" + "0" * 64}]
    assert overlay["commonAnnotations"]["modelrail.dev/model-version"] == "3"


@pytest.fixture
def moved_repo(repo):
    """The repo of `repo`, with its data, model, run record and gate records elsewhere and its training stage named
    `fit`, as its modelrail.yaml declares; dvc.yaml says the same."""
    config = yaml.safe_load((repo / "modelrail.yaml").read_text())
    config["paths"] = MOVED["paths"]
    config["stages"] = MOVED["stages"]
    config["promotion"]["reference_data"]["staging"] = "inputs/reference/staging.csv"
    (repo / "modelrail.yaml").write_text(yaml.safe_dump(config))
    (repo / "inputs").mkdir()
    git(repo, "mv", "data/prepared/train.csv", "inputs/train.csv")
    git(repo, "mv", "data/reference", "inputs/reference")
    gates = {"raw_gate": "raw", "feature_gate": "features", "model_gate": "model"}
    stages = {name: {"cmd": f"modelrail gate {gate}", "outs": [f"checks/{gate}.json"]} for name, gate in gates.items()}
    stages["fit"] = {"cmd": "python -m clf.train", "outs": ["trained/model", "trained/run.json"]}
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    for env in ("main", "staging", "production"):
        git(repo, "checkout", "-q", env)
        if env == "main":
            git(repo, "add", "-A")
            git(repo, "commit", "-qm", "our own layout")
        else:
            git(repo, "merge", "-q", "--ff-only", "main")
    git(repo, "checkout", "-q", "main")
    return repo


def test_a_repo_with_its_own_layout_registers_promotes_and_rolls_back(moved_repo):
    repo = moved_repo
    v1 = train(repo, "m1", layout=MOVED_LAYOUT)
    tags = client(repo).get_model_version("clf", v1).tags
    assert tags[model_registry.CONTENT_TAG] == model_hash("m1")
    assert tags[model_registry.DATA_TAG] == f"inputs/raw/x.csv={md5('raw')} inputs/train.csv={md5(TRAIN)}"
    assert json.loads(tags[model_registry.GATES_TAG]) == {"raw": True, "features": True, "model": True}
    merge(repo, "main", "staging")
    assert promote("staging") == 0 and alias(repo, "staging") == v1
    record = json.loads((repo / "releases/staging/release.json").read_text())
    assert {gate["path"] for name, gate in record["gates"].items() if name != "drift"} == {
        "checks/raw.json",
        "checks/features.json",
        "checks/model.json",
    }
    assert record["gates"]["drift"]["training_data"] == "inputs/train.csv"
    v2 = train(repo, "m2", layout=MOVED_LAYOUT)
    merge(repo, "main", "staging")
    assert promote("staging") == 0 and alias(repo, "staging") == v2
    merge(repo, "staging", "production")
    assert promote("production") == 0 and alias(repo, "production") == v2
    git(repo, "checkout", "-q", "staging")
    assert main(["rollback", "--env", "staging", "--no-image"]) == 0
    assert alias(repo, "staging") == v1
    assert json.loads((repo / "releases/staging/release.json").read_text())["kind"] == "rollback"


@pytest.mark.parametrize(
    ("pipeline", "says"),
    [
        ({"train_stage": "train"}, "key 'stages.train' ('fit'): "),
        ({"model": "trained/estimator"}, "key 'paths.model' ('trained/model'): stage 'fit' in "),
        ({"run_record": "trained/mlflow.json"}, "key 'paths.run_record' ('trained/run.json'): stage 'fit' in "),
        ({"data": "datasets", "train_data": "datasets/train.csv"}, "key 'paths.data' ('inputs'): no dependency or"),
    ],
)
def test_a_pipeline_that_breaks_the_declared_layout_is_refused_naming_the_key(moved_repo, capsys, pipeline, says):
    """modelrail.yaml declares one layout, the pipeline (dvc.yaml, dvc.lock) writes another: exit 2, nothing moves."""
    repo = moved_repo
    if "train_stage" in pipeline:
        stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
        stages["train"] = stages.pop("fit")
        (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    train(repo, "m1", register=False, layout=dataclasses.replace(MOVED_LAYOUT, **pipeline))
    assert main(["register"]) == 2
    assert f"modelrail.yaml: {says}" in capsys.readouterr().err
    assert not client(repo).search_model_versions("name='clf'")
    merge(repo, "main", "staging")
    before = head(repo)
    # Promotion reads no run record: with only that one moved, it refuses for want of a registered version.
    refused = "run_record" in pipeline
    assert promote("staging") == (1 if refused else 2)
    assert ("no artifact for this commit's content" if refused else says) in capsys.readouterr().err
    assert alias(repo, "staging") is None and head(repo) == before
