"""git in test repositories, and what a release commit writes into them."""

from __future__ import annotations

import subprocess
from pathlib import Path

# The base Deployment a model repo's deploy/base holds; a release pins its image in the overlays.
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: clf}
spec:
  selector: {matchLabels: {app: clf}}
  template:
    metadata: {labels: {app: clf}}
    spec:
      containers:
        - name: model
          image: placeholder
"""


def git(repo: Path, *args: str) -> str:
    """Run git in a test repository with a fixed identity; a failure fails the test with git's message."""
    proc = subprocess.run(
        ["git", "-c", "user.name=e2e", "-c", "user.email=e2e@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()


def overlay_image(text: str) -> str:
    """The image `deploy/<env>/kustomization.yaml` pins: `<repository>@<digest>`."""
    import yaml

    (image,) = yaml.safe_load(text)["images"]
    return f"{image['newName']}@{image['digest']}"


def write_deploy_base(repo: Path) -> None:
    """deploy/base as a baked model repo has it: the Deployment and the kustomization that lists it."""
    (repo / "deploy/base").mkdir(parents=True)
    (repo / "deploy/base/deployment.yaml").write_text(DEPLOYMENT)
    (repo / "deploy/base/kustomization.yaml").write_text("resources: [deployment.yaml]\n")
