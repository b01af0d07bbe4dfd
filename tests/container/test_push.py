"""`modelrail containerize push` (container/push.py, image_registry.py) against the real registry: both tags with
the printed digest, a model tag the registry has is never pushed again, a failed push leaves no tag."""

from __future__ import annotations

import json
import urllib.request

from support.template import BIN, modelrail, run

from modelrail.cli import main

MANIFEST_TYPES = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"


def registry_digest(registry: str, repository: str, tag: str) -> str:
    """What the tag points at, read from the registry's HTTP API (not through the code under test)."""
    url = f"http://{registry}/v2/{repository}/manifests/{tag}"
    request = urllib.request.Request(url, method="HEAD", headers={"Accept": MANIFEST_TYPES})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.headers["Docker-Content-Digest"]


def test_push_without_a_registry_names_the_key(tiny_repo, monkeypatch, capsys):
    monkeypatch.delenv("MODELRAIL_REGISTRY", raising=False)
    assert main(["containerize", "push"]) == 2
    assert "key 'container_registry' is not set" in capsys.readouterr().err


def test_push_puts_both_tags_on_the_registry_with_the_printed_digest(built, engine):
    repo, image_id, artifact = built
    registry = engine["MODELRAIL_REGISTRY"]
    proc = modelrail(repo, "containerize", "push", "--image", image_id, "--registry", registry)
    digest = proc.stdout.strip().splitlines()[-1].removeprefix("digest=")
    assert digest.startswith("sha256:")
    with urllib.request.urlopen(f"http://{registry}/v2/{artifact.project}/tags/list", timeout=10) as answer:
        assert set(artifact.tags) <= set(json.load(answer)["tags"])
    for tag in artifact.tags:
        assert registry_digest(registry, artifact.project, tag) == digest


def test_a_model_tag_the_registry_has_is_never_pushed_again(built, engine, tmp_path):
    repo, image_id, artifact = built
    registry = engine["MODELRAIL_REGISTRY"]
    reference = f"{registry}/{artifact.project}:{artifact.model_tag}"
    before = modelrail(repo, "containerize", "push", "--image", image_id, "--registry", registry)
    digest = before.stdout.strip().splitlines()[-1].removeprefix("digest=")
    output = tmp_path / "output"
    output.touch()
    proc = run(
        ["env", f"GITHUB_OUTPUT={output}", str(BIN / "modelrail"), "containerize", "published", "--registry", registry],
        repo,
    )
    assert f"{reference}: in the registry at {digest}" in proc.stdout
    assert f"exists=true\ndigest={digest}\n" in output.read_text()
    # A rebuilt image (another id) under the same model tag: push keeps the registry's image as it is.
    (repo / "Dockerfile").write_text((repo / "Dockerfile").read_text() + "\nLABEL rebuilt=yes\n")
    try:
        rebuilt = modelrail(repo, "containerize", "build", "--base-image", engine["MODELRAIL_BASE_IMAGE"])
        rebuilt_id = rebuilt.stdout.strip().splitlines()[-1].split()[1]
        assert rebuilt_id != image_id
        again = modelrail(repo, "containerize", "push", "--image", rebuilt_id, "--registry", registry)
    finally:
        run(["git", "checkout", "--", "Dockerfile"], repo)
        modelrail(repo, "containerize", "build", "--base-image", engine["MODELRAIL_BASE_IMAGE"])  # the tags back on it
    assert f"Not pushed: the registry already has {reference}" in again.stdout
    assert again.stdout.strip().endswith(f"digest={digest}")
    assert registry_digest(registry, artifact.project, artifact.model_tag) == digest


def test_a_failed_push_is_a_clear_error_and_leaves_no_tag(built):
    import docker

    repo, image_id, _ = built
    proc = modelrail(repo, "containerize", "push", "--image", image_id, "--registry", "127.0.0.1:9", check=False)
    assert proc.returncode == 1
    # Push first asks the registry whether it has the model tag already: an unreachable one fails there, by name.
    assert "cannot ask the registry for 127.0.0.1:9/" in proc.stderr and "Traceback" not in proc.stderr
    tags = docker.from_env().images.get(image_id).tags
    assert not [tag for tag in tags if tag.startswith("127.0.0.1:9/")]
