"""The container tests' fixtures: a tiny repo for the paths without an engine, and one baked repo's image built
once per session on the real engine, which the build, smoke and push tests share (vfs copies every layer)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from support.template import bake, dvc, modelrail

from modelrail.identity import load_artifact


@pytest.fixture
def tiny_repo(workdir) -> Path:
    """The least a model repo needs for the artifact identity: a commit, dvc.lock, models/model, modelrail.yaml."""
    (workdir / "models/model").mkdir(parents=True)
    (workdir / "models/model/requirements.txt").write_text("mlflow==3.1.0\nscikit-learn==1.5.0 # pinned\n")
    (workdir / "Dockerfile").write_text("FROM scratch\n")
    (workdir / "modelrail.yaml").write_text("project: Tiny\nenvironments: [staging]\n")
    lock = {
        "schema": "2.0",
        "stages": {
            "prepare": {"outs": [{"path": "data/prepared/test.csv", "md5": "a" * 32}]},
            "train": {
                "deps": [{"path": "data/prepared/train.csv", "md5": "b" * 32}],
                "outs": [{"path": "models/model", "md5": "c" * 32 + ".dir"}],
            },
        },
    }
    (workdir / "dvc.lock").write_text(json.dumps(lock))
    for command in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        subprocess.run(["git", *command], cwd=workdir, check=True)
    return workdir


@pytest.fixture(scope="session")
def engine(docker_infra):
    return docker_infra


@pytest.fixture(scope="session")
def built(engine, tmp_path_factory):
    """A baked repo after `dvc repro` and `modelrail containerize build`, with its artifact identity."""
    repo = bake(tmp_path_factory.mktemp("containerize"))
    dvc(repo, "repro")
    proc = modelrail(repo, "containerize", "build", "--base-image", engine["MODELRAIL_BASE_IMAGE"])
    image_id = proc.stdout.strip().splitlines()[-1].split()[1]
    return repo, image_id, load_artifact(repo)
