"""The template's deploy/base manifests, and deploy/<env>/ as `modelrail promote` renders them, against the
Kubernetes OpenAPI schemas bundled in `kubernetes-validate` (offline, strict: an unknown field is an error)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from modelrail import releases

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "{{cookiecutter.project_slug}}" / "deploy" / "base"
ANSWERS = {"project_slug": "breast-cancer-classifier", "container_registry": "ghcr.io/my-org"}
KUBERNETES = "1.30"
DIGEST = "sha256:" + "ab" * 32


def validator():
    try:
        import kubernetes_validate
    except ImportError:
        reason = "kubernetes-validate is not installed (it is in the dev extra: pip install -e '.[dev]')"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return kubernetes_validate


def render(text: str) -> str:
    return re.sub(r"\{\{ cookiecutter\.(\w+) \}\}", lambda m: ANSWERS[m.group(1)], text)


@pytest.fixture
def repo(tmp_path) -> Path:
    (tmp_path / "deploy/base").mkdir(parents=True)
    for source in BASE.glob("*.yaml"):
        (tmp_path / "deploy/base" / source.name).write_text(render(source.read_text()))
    return tmp_path


def check(documents: list[dict]) -> list[str]:
    kubernetes_validate = validator()
    kinds = []
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES, strict=True)
        kinds.append(document["kind"])
    return kinds


def test_the_base_manifests_are_valid_kubernetes(repo):
    documents = [
        doc for path in sorted((repo / "deploy/base").glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text())
    ]
    assert sorted(check(documents)) == ["Deployment", "HorizontalPodAutoscaler", "Service"]
    deployment = next(doc for doc in documents if doc["kind"] == "Deployment")
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_promoted_manifests_are_valid_and_pin_the_image_by_digest(repo):
    record = {"model_version": "7", "content_hash": "0123456789abcdef0123456789abcdef"}
    image = f"ghcr.io/my-org/breast-cancer-classifier@{DIGEST}"
    files = releases.render_manifests(repo, "production", image, record)
    assert sorted(path.relative_to(repo).as_posix() for path in files) == [
        "deploy/production/deployment.yaml",
        "deploy/production/hpa.yaml",
        "deploy/production/service.yaml",
    ]
    documents = [doc for text in files.values() for doc in yaml.safe_load_all(text)]
    check(documents)
    deployment = next(doc for doc in documents if doc["kind"] == "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == image


def test_an_invalid_manifest_is_caught(repo):
    kubernetes_validate = validator()
    deployment = yaml.safe_load(render((BASE / "deployment.yaml").read_text()))
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)
