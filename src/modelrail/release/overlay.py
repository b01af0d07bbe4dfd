"""The kustomize overlay `deploy/<env>/kustomization.yaml`: what an environment's GitOps sync (Argo CD or Flux)
renders from `deploy/base/`, with the model image pinned by digest and the release named in annotations.

Promotion and rollback write it on the environment branch next to the release record, so `git revert` of a release
commit puts the previous digest back in the same commit as the previous record.
"""

from __future__ import annotations

from pathlib import Path

from modelrail.errors import ConfigError

BASE = "deploy/base"
CONTAINER_NAME = "model"
KUSTOMIZATION = "kustomization.yaml"


def base_image_name(repo: Path) -> str:
    """The image name (no tag, no digest) of the model container in deploy/base: what the overlay's `images` matches."""
    import yaml

    base = repo / BASE
    if not (base / KUSTOMIZATION).is_file():
        raise ConfigError(
            f"{base / KUSTOMIZATION}: missing; the environment overlays build on it "
            "(fix: add a kustomization.yaml listing deploy/base's manifests under `resources:`)"
        )
    for source in sorted(base.glob("*.yaml")):
        if source.name == KUSTOMIZATION:
            continue
        for doc in yaml.safe_load_all(source.read_text(encoding="utf-8")):
            if not isinstance(doc, dict) or doc.get("kind") != "Deployment":
                continue
            for container in doc["spec"]["template"]["spec"]["containers"]:
                if container.get("name") == CONTAINER_NAME:
                    image = str(container["image"]).split("@", 1)[0]
                    # A ':' after the last '/' is a tag; one before it is a registry port.
                    name, _, tag = image.rpartition(":")
                    return name if name and "/" not in tag else image
    raise ConfigError(f"{base}: no Deployment with a container named '{CONTAINER_NAME}' to pin the image on")


def render_overlay(repo: Path, env: str, image: str, record: dict) -> dict[Path, str]:
    """`deploy/<env>/kustomization.yaml` for `image` (`<repository>@sha256:...`) and the release `record`."""
    import yaml

    repository, sep, digest = image.partition("@")
    if not sep or not digest.startswith("sha256:"):
        raise ConfigError(f"image {image!r} is not pinned by digest (expected <repository>@sha256:<hex>)")
    name = base_image_name(repo)
    overlay = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["../base"],
        "labels": [{"pairs": {"app.kubernetes.io/instance": env}}],
        # On the pod template too: a new release rolls the pods even when only the annotations say so.
        "commonAnnotations": {
            "modelrail.dev/model-version": str(record["model_version"]),
            "modelrail.dev/content-hash": record["content_hash"],
        },
        "images": [{"name": name, "newName": repository, "digest": digest}],
    }
    header = f"# Written by `modelrail promote` for {env}: edit {BASE}/, not this file.\n"
    return {repo / "deploy" / env / KUSTOMIZATION: header + yaml.safe_dump(overlay, sort_keys=False)}
