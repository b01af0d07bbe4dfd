"""The template's deploy/ manifests as a GitOps controller sees them: `kubectl kustomize` of deploy/base and of the
overlay `modelrail promote` writes to deploy/<env>/, validated strictly (an unknown field is an error) against the
Kubernetes OpenAPI schemas bundled in `kubernetes-validate`; the Argo CD and Flux sync resources the post-gen hook
writes, against those projects' CRD schemas vendored in tests/release/schemas/. After a promotion, a second
promotion and a `git revert` of it (real git, a real MLflow registry, infra/'s real image registry), the digest
the environment renders is the one its release record names.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from support import ROOT
from support.repos import git
from support.template import import_hook
from test_promote import repo, train  # noqa: F401
from test_promote_image import engine, image_repo, merge, promote, push_model_image  # noqa: F401

from modelrail.release import overlay as deploy_overlay

BASE = ROOT / "{{cookiecutter.project_slug}}" / "deploy" / "base"
SCHEMAS = Path(__file__).parent / "schemas"
ANSWERS = {"project_slug": "breast-cancer-classifier", "container_registry": "ghcr.io/my-org"}
KUBERNETES = "1.30"
DIGEST = "sha256:" + "ab" * 32


def required(module: str, reason: str):
    """Import `module`, or skip with the reason (in CI, where every tool is installed, fail)."""
    try:
        return __import__(module)
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def kustomize(folder: Path) -> list[dict]:
    """What Argo CD or Flux would apply for `folder`: `kubectl kustomize` (kustomize built into kubectl)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if os.environ.get("CI") == "true":
            pytest.fail("kubectl is not installed (it renders the kustomize overlays)")
        pytest.skip("kubectl is not installed")
    proc = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def check(documents: list[dict]) -> list[str]:
    kubernetes_validate = required("kubernetes_validate", "kubernetes-validate is not installed (dev extra)")
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES, strict=True)
    return sorted(document["kind"] for document in documents)


def render(text: str) -> str:
    return re.sub(r"\{\{ cookiecutter\.(\w+) \}\}", lambda m: ANSWERS[m.group(1)], text)


def copy_base(folder: Path) -> None:
    (folder / "deploy/base").mkdir(parents=True, exist_ok=True)
    for source in BASE.glob("*.yaml"):
        (folder / "deploy/base" / source.name).write_text(render(source.read_text()))


@pytest.fixture
def deploy_repo(tmp_path) -> Path:
    copy_base(tmp_path)
    return tmp_path


def rendered_image(folder: Path, env: str) -> str:
    deployment = next(doc for doc in kustomize(folder / "deploy" / env) if doc["kind"] == "Deployment")
    (container,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "model"]
    return container["image"]


def test_the_base_renders_to_valid_kubernetes(deploy_repo):
    documents = kustomize(deploy_repo / "deploy/base")
    assert check(documents) == ["Deployment", "HorizontalPodAutoscaler", "Service"]
    deployment = next(doc for doc in documents if doc["kind"] == "Deployment")
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_the_overlay_renders_valid_manifests_with_the_image_pinned_by_digest(deploy_repo):
    record = {"model_version": "7", "content_hash": "0123456789abcdef0123456789abcdef"}
    image = f"registry.example.com:5000/team/breast-cancer-classifier@{DIGEST}"
    files = deploy_overlay.render_overlay(deploy_repo, "production", image, record)
    assert [path.relative_to(deploy_repo).as_posix() for path in files] == ["deploy/production/kustomization.yaml"]
    for path, text in files.items():
        path.parent.mkdir(parents=True)
        path.write_text(text)
    documents = kustomize(deploy_repo / "deploy/production")
    assert check(documents) == ["Deployment", "HorizontalPodAutoscaler", "Service"]
    deployment = next(doc for doc in documents if doc["kind"] == "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == image
    assert deployment["spec"]["template"]["metadata"]["annotations"]["modelrail.dev/model-version"] == "7"
    for document in documents:
        assert document["metadata"]["labels"]["app.kubernetes.io/instance"] == "production"
    # The label stays off the selectors: they are immutable on a live Deployment.
    assert "app.kubernetes.io/instance" not in deployment["spec"]["selector"]["matchLabels"]


def test_an_image_not_pinned_by_digest_is_refused(deploy_repo):
    from modelrail.errors import ConfigError

    with pytest.raises(ConfigError, match="not pinned by digest"):
        deploy_overlay.render_overlay(deploy_repo, "staging", "ghcr.io/my-org/m:latest", {})


def test_a_base_without_kustomization_is_a_clear_error(deploy_repo):
    from modelrail.errors import ConfigError

    (deploy_repo / "deploy/base/kustomization.yaml").unlink()
    with pytest.raises(ConfigError, match=r"kustomization\.yaml: missing"):
        deploy_overlay.render_overlay(deploy_repo, "staging", f"ghcr.io/my-org/m@{DIGEST}", {})


def test_an_invalid_manifest_is_caught(deploy_repo):
    kubernetes_validate = required("kubernetes_validate", "kubernetes-validate is not installed (dev extra)")
    deployment = yaml.safe_load(render((BASE / "deployment.yaml").read_text()))
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)


# --- sync resources -----------------------------------------------------------------------------------------------

SCHEMA_FILES = {
    ("argoproj.io/v1alpha1", "Application"): "argocd-application-v1alpha1.json",
    ("source.toolkit.fluxcd.io/v1", "GitRepository"): "flux-gitrepository-v1.json",
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"): "flux-kustomization-v1.json",
}


def validate_crd(document: dict) -> None:
    jsonschema = required("jsonschema", "jsonschema is not installed (dev extra, through check-jsonschema)")
    schema = json.loads((SCHEMAS / SCHEMA_FILES[document["apiVersion"], document["kind"]]).read_text())
    jsonschema.validate(document, schema)


def sync_files(tmp_path: Path, controller: str) -> dict[str, list[dict]]:
    """Run the rendered post-gen hook's writer for `controller` in an empty folder; the documents per file."""
    from support.template import default_answers

    answers = {**default_answers(), "gitops": controller, "github_owner": "my-org"}
    tmp_path.mkdir(parents=True, exist_ok=True)
    hook = import_hook("post_gen_project", answers, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    cwd = Path.cwd()
    os.chdir(out)
    try:
        hook.write_sync_resources(controller, answers["project_slug"], "my-org", ["staging", "production"])
    finally:
        os.chdir(cwd)
    return {
        path.relative_to(out).as_posix(): [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        for path in sorted(out.rglob("*.yaml"))
    }


def test_argocd_applications_follow_each_environment_branch(tmp_path):
    files = sync_files(tmp_path, "argocd")
    assert sorted(files) == ["deploy/sync/production.yaml", "deploy/sync/staging.yaml"]
    for env in ("staging", "production"):
        (app,) = files[f"deploy/sync/{env}.yaml"]
        validate_crd(app)
        source = app["spec"]["source"]
        assert source == {
            "repoURL": "https://github.com/my-org/breast-cancer-classifier.git",
            "targetRevision": env,
            "path": f"deploy/{env}",
        }
        assert app["spec"]["destination"]["namespace"] == f"breast-cancer-classifier-{env}"
        assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}


def test_flux_sources_and_kustomizations_follow_each_environment_branch(tmp_path):
    files = sync_files(tmp_path, "flux")
    assert sorted(files) == ["deploy/sync/production.yaml", "deploy/sync/staging.yaml"]
    for env in ("staging", "production"):
        source, kustomization = files[f"deploy/sync/{env}.yaml"]
        validate_crd(source)
        validate_crd(kustomization)
        assert source["spec"]["ref"] == {"branch": env}
        assert kustomization["spec"]["path"] == f"./deploy/{env}"
        assert kustomization["spec"]["sourceRef"] == {"kind": "GitRepository", "name": source["metadata"]["name"]}


def test_no_gitops_writes_no_sync_resources(tmp_path):
    assert sync_files(tmp_path, "none") == {}


def test_the_crd_schemas_are_strict(tmp_path):
    jsonschema = required("jsonschema", "jsonschema is not installed")
    (app,) = sync_files(tmp_path, "argocd")["deploy/sync/staging.yaml"]
    app["spec"]["source"]["targetRevison"] = "staging"  # a typo a non-strict check would let through
    with pytest.raises(jsonschema.ValidationError, match="targetRevison"):
        validate_crd(app)
    source, _ = sync_files(tmp_path / "flux", "flux")["deploy/sync/staging.yaml"]
    source["spec"]["ref"] = {"branch": 3}
    with pytest.raises(jsonschema.ValidationError):
        validate_crd(source)


# --- promotion, then revert: the environment renders its release record's digest -------------------------------


def release_digest(folder: Path, env: str) -> str:
    return json.loads((folder / f"releases/{env}/release.json").read_text())["image"]["digest"]


def test_after_promotions_and_a_revert_the_rendered_digest_is_the_release_records(engine, image_repo):  # noqa: F811
    work = image_repo
    copy_base(work)
    # The template's base names its image after the registry answer; promotion repoints it at the pushed image.
    git(work, "add", "deploy")
    git(work, "commit", "-qm", "The template's deploy/base")
    repository = f"{engine[1]}/clf"
    first = push_model_image(engine, "k1")
    train(work, "k1")
    merge(work, "main", "staging")
    assert promote(engine, "staging") == 0
    assert (
        rendered_image(work, "staging") == f"{repository}@{first}" == f"{repository}@{release_digest(work, 'staging')}"
    )
    check(kustomize(work / "deploy/staging"))

    second = push_model_image(engine, "k2")
    train(work, "k2")
    merge(work, "main", "staging")
    merged = git(work, "rev-parse", "HEAD")
    assert promote(engine, "staging") == 0
    assert (
        rendered_image(work, "staging") == f"{repository}@{second}" == f"{repository}@{release_digest(work, 'staging')}"
    )

    # A revert of the merge on the environment branch; the promote workflow then releases the previous artifact.
    git(work, "revert", "--no-edit", "-m", "1", merged)
    assert promote(engine, "staging") == 0
    assert json.loads((work / "releases/staging/release.json").read_text())["kind"] == "rollback"
    assert (
        rendered_image(work, "staging") == f"{repository}@{first}" == f"{repository}@{release_digest(work, 'staging')}"
    )
