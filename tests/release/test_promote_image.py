"""`modelrail promote` and `rollback` with the image part: the Docker engine and registry of infra/ (real parts).

In CI a missing engine fails these tests; elsewhere they skip with the reason (as tests/container/).
"""

from __future__ import annotations

import io
import json
import tarfile
import uuid

import pytest
from support.repos import overlay_image
from test_promote import alias, client, git, head, merge, model_hash, repo, train  # noqa: F401

from modelrail import model_registry
from modelrail.cli import main
from modelrail.container import image_registry
from modelrail.release import environment, image_tags


@pytest.fixture(scope="module")
def engine(docker_infra):
    """The Docker client and a fresh image repository on infra/'s registry."""
    import docker

    return docker.from_env(), f"{docker_infra['MODELRAIL_REGISTRY']}/promote-{uuid.uuid4().hex[:8]}"


def push_model_image(engine, model: str, body: str = "") -> str:
    """A one-file image labelled with the model's content hash, pushed as <namespace>/clf:model-<hash>.

    Each test uses its own model names: the namespace is shared by the module. Another `body` makes another image
    with the same label (a rebuild, or a forgery).
    """
    docker_client, namespace = engine
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        body = (body or model).encode()
        info = tarfile.TarInfo("model.txt")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    content = model_hash(model)
    repository = f"{namespace}/clf"
    docker_client.api.import_image_from_data(
        data.getvalue(),
        repository=repository,
        tag=f"model-{content}",
        changes=[f"LABEL {image_tags.IMAGE_MODEL_LABEL}={content}"],
    )
    for _ in docker_client.api.push(repository, tag=f"model-{content}", stream=True, decode=True):
        pass
    return image_registry.registry_digest(docker_client, f"{repository}:model-{content}")


def promote(engine, env: str) -> int:
    return main(["promote", "--env", env, "--registry", engine[1]])


@pytest.fixture
def image_repo(repo):  # noqa: F811
    (repo / "modelrail.yaml").write_text((repo / "modelrail.yaml").read_text().split("promotion:")[0])
    git(repo, "commit", "-qam", "no reference data")
    return repo


def test_promote_tags_the_image_and_pins_the_manifest_by_digest(engine, image_repo, capsys):
    work = image_repo
    digest = push_model_image(engine, "m1")
    version = train(work, "m1")
    merge(work, "main", "staging")
    assert promote(engine, "staging") == 0
    repository = f"{engine[1]}/clf"
    assert image_registry.registry_digest(engine[0], f"{repository}:staging") == digest
    assert image_registry.registry_digest(engine[0], f"{repository}:model-{model_hash('m1')}") == digest
    record = json.loads((work / "releases/staging/release.json").read_text())
    assert record["image"]["digest"] == digest and record["model_version"] == version
    assert overlay_image((work / "deploy/staging/kustomization.yaml").read_text()) == f"{repository}@{digest}"
    released = head(work)
    assert promote(engine, "staging") == 0
    assert head(work) == released and "nothing to do" in capsys.readouterr().out


def test_a_failed_step_after_the_image_moved_puts_the_tag_back(engine, image_repo, capsys, monkeypatch):
    from mlflow import MlflowClient

    work = image_repo
    first = push_model_image(engine, "m1")
    v1 = train(work, "m1")
    merge(work, "main", "staging")
    assert promote(engine, "staging") == 0
    push_model_image(engine, "m2")
    train(work, "m2")
    merge(work, "main", "staging")
    before = head(work)

    def broken(self, *args):
        raise ConnectionError("registry went away")

    with monkeypatch.context() as patch:
        patch.setattr(MlflowClient, "set_registered_model_alias", broken)
        assert promote(engine, "staging") == 1
    err = capsys.readouterr().err
    assert "was put back to" in err and "re-run `modelrail promote --env staging`" in err
    assert alias(work, "staging") == v1 and head(work) == before
    assert image_registry.registry_digest(engine[0], f"{engine[1]}/clf:staging") == first


def test_a_missing_image_refuses_and_rollback_restores_the_old_digest(engine, image_repo, capsys):
    work = image_repo
    first = push_model_image(engine, "m3")
    v1 = train(work, "m3")
    merge(work, "main", "staging")
    assert promote(engine, "staging") == 0
    v2 = train(work, "m4")
    merge(work, "main", "staging")
    assert promote(engine, "staging") == 1
    assert "no image" in capsys.readouterr().err and alias(work, "staging") == v1
    second = push_model_image(engine, "m4")
    assert promote(engine, "staging") == 0
    assert image_registry.registry_digest(engine[0], f"{engine[1]}/clf:staging") == second
    assert main(["rollback", "--env", "staging", "--registry", engine[1]]) == 0
    assert alias(work, "staging") == v1 and v2 != v1
    assert image_registry.registry_digest(engine[0], f"{engine[1]}/clf:staging") == first
    assert overlay_image((work / "deploy/staging/kustomization.yaml").read_text()).endswith(f"@{first}")
    assert client(work).get_model_version("clf", v1).tags[model_registry.RELEASED_PREFIX + "staging"]


def test_production_releases_the_digest_staging_ran_not_what_the_tag_says_now(engine, image_repo):
    work, repository = image_repo, f"{engine[1]}/clf"
    staged = push_model_image(engine, "m5")
    version = train(work, "m5")
    merge(work, "main", "staging")
    assert promote(engine, "staging") == 0
    rebuilt = push_model_image(engine, "m5", body="m5, rebuilt")  # model-<hash> pushed again, same label
    assert rebuilt != staged
    merge(work, "staging", "production")
    assert promote(engine, "production") == 0
    assert image_registry.registry_digest(engine[0], f"{repository}:production") == staged
    record = json.loads((work / "releases/production/release.json").read_text())
    assert record["image"]["digest"] == staged and record["model_version"] == version
    assert overlay_image((work / "deploy/production/kustomization.yaml").read_text()) == f"{repository}@{staged}"


def test_an_idle_promote_re_renders_a_hand_edited_deploy(engine, image_repo, capsys):
    work = image_repo
    digest = push_model_image(engine, "m6")
    train(work, "m6")
    merge(work, "main", "staging")
    assert promote(engine, "staging") == 0
    overlay = work / "deploy/staging/kustomization.yaml"
    rendered = overlay.read_text()
    overlay.write_text(rendered.replace(digest, "sha256:" + "0" * 64))
    (work / "deploy/staging/debug-pod.yaml").write_text("kind: Pod\n")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "Hand edit of the staging manifests")
    capsys.readouterr()
    assert promote(engine, "staging") == 0
    assert "re-rendered" in capsys.readouterr().out
    assert overlay.read_text() == rendered and not (work / "deploy/staging/debug-pod.yaml").exists()
    assert git(work, "log", "-1", "--format=%an|%s").startswith(f"{environment.BOT_NAME}|Re-render deploy/staging/")
    assert git(work, "status", "--porcelain") == ""
    assert image_registry.registry_digest(engine[0], f"{engine[1]}/clf:staging") == digest
