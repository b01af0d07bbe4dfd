"""`modelrail containerize build`: build the serving image with the artifact's labels and tags."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from modelrail.container import engine as docker_engine
from modelrail.container import wheelhouse
from modelrail.errors import ConfigError, ContainerError
from modelrail.identity import Artifact, load_artifact
from modelrail.trust.integrity import require_outputs_match_lock


@dataclass
class BuildResult:
    image_id: str
    repository: str
    tags: list[str]
    artifact: Artifact
    seconds: float

    @property
    def references(self) -> list[str]:
        return [f"{self.repository}:{tag}" for tag in self.tags]


def build_args(artifact: Artifact, base_image: str | None) -> dict[str, str]:
    """The Dockerfile's ARGs: the labels' values, and the base image when one is given."""
    args = {
        "GIT_SHA": artifact.git_sha,
        "MODEL_MD5": artifact.model_md5,
        "MODEL_VERSION": artifact.model_version,
        "DATA_MD5": artifact.data_label,
    }
    if base_image:
        args["BASE_IMAGE"] = base_image
    return args


def run(
    repo: Path,
    dockerfile: str = "Dockerfile",
    base_image: str | None = None,
    model_version: str | None = None,
    progress: bool = True,
) -> BuildResult:
    """Fill the wheelhouse, build the image (layer cache reused) and tag it sha-<commit> and model-<hash>."""
    if not (repo / dockerfile).is_file():
        raise ConfigError(f"{repo / dockerfile}: no such Dockerfile")
    artifact = load_artifact(repo, model_version)
    client = docker_engine.connect()
    # The model comes from the DVC remote, which anyone who can push to it can overwrite: build only dvc.lock's.
    require_outputs_match_lock(repo, [artifact.layout.model])
    wheelhouse.build(repo, repo / artifact.layout.model, progress=progress)
    start = time.monotonic()
    stream = client.api.build(
        path=str(repo),
        dockerfile=dockerfile,
        tag=f"{artifact.project}:{artifact.tags[0]}",
        buildargs=build_args(artifact, base_image),
        # The legacy builder's RUN steps need a network mode; nothing in the build uses it (the wheelhouse is local).
        network_mode="host",
        rm=True,
        forcerm=True,
        pull=False,
        decode=True,
    )
    chunks = docker_engine.follow(stream, f"docker build of {repo / dockerfile}", progress=progress)
    image_id = _image_id(chunks)
    if image_id is None:
        raise ContainerError(f"docker build of {repo / dockerfile} finished without an image id")
    image = client.images.get(image_id)
    for tag in artifact.tags:
        image.tag(artifact.project, tag)
    return BuildResult(
        image_id=image.id,
        repository=artifact.project,
        tags=artifact.tags,
        artifact=artifact,
        seconds=time.monotonic() - start,
    )


def _image_id(chunks: list[dict]) -> str | None:
    for chunk in reversed(chunks):
        aux = chunk.get("aux")
        if isinstance(aux, dict) and aux.get("ID"):
            return aux["ID"]
        match = re.search(r"Successfully built ([0-9a-f]+)", chunk.get("stream", ""))
        if match:
            return match.group(1)
    return None
