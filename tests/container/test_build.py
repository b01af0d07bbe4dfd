"""`modelrail containerize build` (container/build.py, wheelhouse.py): the artifact identity, the errors without an
engine, and the image a real engine builds from a baked repo."""

from __future__ import annotations

import json
import subprocess

import pytest
from support.template import BIN, bake

from modelrail.cli import main
from modelrail.container import wheelhouse
from modelrail.identity import load_artifact


def test_artifact_identity_comes_from_dvc_lock_and_git(tiny_repo):
    artifact = load_artifact(tiny_repo)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tiny_repo, capture_output=True, text=True).stdout.strip()
    assert artifact.project == "tiny"
    assert artifact.tags == [f"sha-{sha}", f"model-{'c' * 32}"]
    assert artifact.data_label == f"data/prepared/test.csv={'a' * 32} data/prepared/train.csv={'b' * 32}"


@pytest.mark.parametrize("command", ["build", "push"])
def test_no_engine_is_a_configuration_error_naming_docker_host(tiny_repo, monkeypatch, capsys, command):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tiny_repo}/no-such.sock")
    assert main(["containerize", command, *(["--registry", "127.0.0.1:5000"] if command == "push" else [])]) == 2
    err = capsys.readouterr().err
    assert f"DOCKER_HOST=unix://{tiny_repo}/no-such.sock" in err
    assert "Traceback" not in err


def test_without_dvc_lock_the_error_says_to_run_the_pipeline(tiny_repo, capsys):
    (tiny_repo / "dvc.lock").unlink()
    assert main(["containerize", "build"]) == 2
    assert "dvc.lock: no such file (run `dvc repro`" in capsys.readouterr().err


def test_serving_requirements_swap_mlflow_for_mlflow_skinny(tiny_repo):
    assert wheelhouse.serving_requirements(tiny_repo / "models/model") == [
        "mlflow-skinny==3.1.0",
        "scikit-learn==1.5.0",
    ]


@pytest.mark.bake
def test_the_baked_dockerfile_is_hadolint_clean(tmp_path):
    repo = bake(tmp_path)
    proc = subprocess.run(
        [str(BIN / "hadolint"), "--failure-threshold", "warning", "Dockerfile"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = (repo / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=python:3.11-slim-bookworm" in text and "USER 10001" in text and "HEALTHCHECK" in text


def test_build_tags_and_labels_the_image_with_the_artifact_identity(built):
    import docker

    repo, image_id, artifact = built
    image = docker.from_env().images.get(image_id)
    assert {f"{artifact.project}:{tag}" for tag in artifact.tags} <= set(image.tags)
    labels = image.labels
    lock_md5 = next(
        o["md5"] for o in __import__("yaml").safe_load((repo / "dvc.lock").read_text())["stages"]["train"]["outs"]
    )
    assert labels["io.modelrail.model.md5"] == lock_md5.removesuffix(".dir") == artifact.model_md5
    assert labels["org.opencontainers.image.revision"] == artifact.git_sha
    assert (
        f"data/raw/breast_cancer.csv={artifact.data_md5['data/raw/breast_cancer.csv']}"
        in labels["io.modelrail.data.md5"]
    )
    assert labels["io.modelrail.model.version"] == json.loads((repo / "models/run.json").read_text())["run_id"]
    config = image.attrs["Config"]
    assert config["User"] == "10001" and config["Healthcheck"]["Test"][0] == "CMD"


def test_the_image_keeps_bytecode_only_and_what_serving_reads(built):
    import docker

    _, image_id, _ = built
    script = """
import glob, json, os, ssl, sysconfig, mlflow.pyfunc.scoring_server
stdlib = sysconfig.get_path("stdlib")
print(json.dumps({
    "modules": [json.__file__, mlflow.pyfunc.scoring_server.__file__],
    "sources": [p for p in glob.glob(stdlib + "/*.py") + glob.glob("/opt/venv/lib/*/site-packages/mlflow/*.py")
                if not os.path.islink(p)],
    "pruned": [p for p in ["/var/lib/dpkg/info", "/usr/share/perl5", stdlib + "/test"] if os.path.exists(p)],
    "dpkg status": os.path.isfile("/var/lib/dpkg/status"),
    "CA certificates": len(ssl.create_default_context().get_ca_certs()),
}))
"""
    out = docker.from_env().containers.run(image_id, ["python3", "-c", script], network_mode="none", remove=True)
    facts = json.loads(out.decode().strip().splitlines()[-1])
    assert all(path.endswith(".pyc") for path in facts["modules"]), facts
    assert facts["sources"] == [] and facts["pruned"] == [], facts
    assert facts["dpkg status"] and facts["CA certificates"] > 100, facts
