"""Least privilege for the MLflow model registry, against the real tracking server with MLflow's basic-auth.

The users are made by infra/services/postgres-mlflow.sh (auth mode): `ci` is what pull-request jobs hold (log runs,
read the registry: the champion comparison), `release` what publish and promote hold, `admin` stands for anyone
with full access to the registry. Promotion must not take anything written there as evidence.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from conftest import git

from modelrail import releases
from modelrail.cli import main
from modelrail.integrity import content_md5

CONFIG = """\
project: clf
environments: [staging, production]
mlflow: {{tracking_uri: "{uri}", registered_model: {name}}}
gates: {{required: [raw, model]}}
"""


@pytest.fixture
def modelrail(monkeypatch, capsys):
    """The CLI as a workflow step runs it, in this process: credentials in MLFLOW_TRACKING_USERNAME/PASSWORD only."""

    def run(server, user: str, repo: Path, *args: str) -> subprocess.CompletedProcess:
        capsys.readouterr()
        with monkeypatch.context() as patch:
            for name, value in {**server.credentials(user), "GITHUB_ACTOR": user}.items():
                patch.setenv(name, value)
            patch.delenv("MLFLOW_TRACKING_URI", raising=False)
            patch.chdir(repo)
            code = main(list(args))
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, captured.out, captured.err)

    return run


def md5(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode()).hexdigest()


@pytest.fixture
def world(mlflow_auth_server, tmp_path, modelrail):
    """A model repo on main whose pipeline ran as the pull-request job does (run logged by `ci`), registered on
    main by `release` (`modelrail register`), with branches staging and production."""
    from mlflow.entities import LoggedModelOutput

    server, name, repo = mlflow_auth_server, f"auth-{uuid.uuid4().hex[:8]}", tmp_path / "repo"
    repo.mkdir()
    server.create_registered_model(name)
    ci = server.client("ci")
    experiment = ci.create_experiment(name)
    run_id = ci.create_run(experiment).info.run_id
    logged = ci.create_logged_model(experiment, name="model", source_run_id=run_id)
    ci.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)])
    files = {
        "modelrail.yaml": CONFIG.format(uri=server.uri, name=name),
        "gates/raw.json": json.dumps({"gate": "raw", "passed": True, "checks": []}),
        "gates/model.json": json.dumps({"gate": "model", "passed": True, "checks": []}),
        "models/run.json": json.dumps({"run_id": run_id, "registered_model": name}),
        "models/model/MLmodel": name,
    }
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    lock = {
        "schema": "2.0",
        "stages": {
            "raw_gate": {
                "deps": [{"path": "data/raw/x.csv", "md5": md5("raw")}],
                "outs": [{"path": "gates/raw.json", "md5": md5(files["gates/raw.json"])}],
            },
            "train": {
                "outs": [
                    {"path": "models/model", "md5": content_md5(repo / "models/model"), "hash": "md5"},
                    {"path": "models/run.json", "md5": md5(files["models/run.json"])},
                ]
            },
            "model_gate": {"outs": [{"path": "gates/model.json", "md5": md5(files["gates/model.json"])}]},
        },
    }
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "Trained on a pull request, merged")
    for env in ("staging", "production"):
        git(repo, "branch", env)
    # A pull-request job cannot register: that happens on main.
    refused = modelrail(server, "ci", repo, "register")
    assert refused.returncode == 2 and "Permission denied" in refused.stderr, refused.stderr
    registered = modelrail(server, "release", repo, "register")
    assert registered.returncode == 0, registered.stderr
    version = str(server.client("release").get_registered_model(name).latest_versions[-1].version)
    return {"server": server, "repo": repo, "name": name, "version": version}


def alias(world, env: str) -> str | None:
    return releases.Registry(world["server"].client("admin"), world["name"], world["server"].uri).alias(env)


def test_pull_request_credentials_only_read_the_registry(world, modelrail):
    """Attack 2: PR code calls the registry with the PR job's credentials; the server refuses every write."""
    from mlflow.exceptions import MlflowException

    name, version = world["name"], world["version"]
    git(world["repo"], "checkout", "-q", "staging")
    git(world["repo"], "merge", "-q", "--no-ff", "-m", "Merge main into staging", "main")
    released = modelrail(world["server"], "release", world["repo"], "promote", "--env", "staging", "--no-image")
    assert released.returncode == 0, released.stderr
    ci = world["server"].client("ci")
    assert str(ci.get_model_version_by_alias(name, "staging").version) == version  # the champion: readable
    tags_before = dict(ci.get_model_version(name, version).tags)
    writes = {
        "set_model_version_tag": lambda: ci.set_model_version_tag(
            name, version, releases.RELEASED_PREFIX + "production", "forged"
        ),
        "set_registered_model_alias": lambda: ci.set_registered_model_alias(name, "production", version),
        "delete_registered_model_alias": lambda: ci.delete_registered_model_alias(name, "staging"),
        "delete_model_version_tag": lambda: ci.delete_model_version_tag(name, version, releases.CONTENT_TAG),
        "set_registered_model_tag": lambda: ci.set_registered_model_tag(name, releases.LOCK_PREFIX + "staging", "x"),
    }
    for call, write in writes.items():
        with pytest.raises(MlflowException) as refused:
            write()
        assert refused.value.error_code == "PERMISSION_DENIED", call
    admin = world["server"].client("admin")
    assert dict(admin.get_model_version(name, version).tags) == tags_before
    assert alias(world, "production") is None and alias(world, "staging") == version
    assert releases.LOCK_PREFIX + "staging" not in admin.get_registered_model(name).tags


def test_a_forged_release_tag_does_not_open_production(world, modelrail):
    """Attack 2, with full registry access: `modelrail.released.staging` and the alias `staging` written by hand
    do not make a model that never ran in staging promotable to production; staging's branch history decides."""
    repo, name, version = world["repo"], world["name"], world["version"]
    admin = world["server"].client("admin")
    admin.set_model_version_tag(name, version, releases.RELEASED_PREFIX + "staging", "2026-01-01T00:00:00+00:00")
    admin.set_registered_model_alias(name, "staging", version)
    git(repo, "checkout", "-q", "production")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge main into production", "main")
    before = git(repo, "rev-parse", "HEAD")
    refused = modelrail(world["server"], "release", repo, "promote", "--env", "production", "--no-image")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "never released to 'staging'" in refused.stderr and "releases/staging/history.jsonl" in refused.stderr
    assert alias(world, "production") is None and git(repo, "rev-parse", "HEAD") == before
    assert releases.RELEASED_PREFIX + "production" not in admin.get_model_version(name, version).tags

    # The honest path: staging first (its release commit is the evidence), then production.
    admin.delete_registered_model_alias(name, "staging")
    git(repo, "checkout", "-q", "staging")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge main into staging", "main")
    released = modelrail(world["server"], "release", repo, "promote", "--env", "staging", "--no-image")
    assert released.returncode == 0, released.stderr
    git(repo, "checkout", "-q", "production")
    git(repo, "reset", "-q", "--hard", before)
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge staging into production", "staging")
    released = modelrail(world["server"], "release", repo, "promote", "--env", "production", "--no-image")
    assert released.returncode == 0, released.stderr
    assert alias(world, "production") == version and alias(world, "staging") == version
