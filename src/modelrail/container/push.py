"""`modelrail containerize push`: push the image with both tags to the registry and return its digest.

A registry writes a tag only when the manifest is uploaded, and it refuses a manifest whose layers are missing, so
an interrupted push leaves every tag on the registry as it was. Locally, the registry-named tags this command adds
are removed again when the push fails, so no local tag claims a pushed image that is not there.

A `model-<content hash>` tag that the registry already has is never pushed again: the image an environment ran
under that tag stays the one the next environment promotes (a rebuild is not byte-identical).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelrail.container import engine as docker_engine
from modelrail.container.image_registry import image_registry, image_repository, registry_digest
from modelrail.errors import ContainerError
from modelrail.identity import load_artifact
from modelrail.trust.integrity import require_outputs_match_lock


@dataclass
class PushResult:
    repository: str
    tags: list[str]
    digest: str
    image_id: str
    skipped: bool = False

    @property
    def references(self) -> list[str]:
        return [f"{self.repository}:{tag}" for tag in self.tags]


def published(repo: Path, registry: str | None = None) -> tuple[str, str | None]:
    """`<registry>/<project>:model-<hash>` and its digest in the registry, or None when it is not there."""
    artifact = load_artifact(repo)
    reference = f"{image_repository(repo, image_registry(repo, registry))}:{artifact.model_tag}"
    return reference, registry_digest(docker_engine.connect(), reference)


def run(repo: Path, image: str | None = None, registry: str | None = None, progress: bool = True) -> PushResult:
    """Tag the image `<registry>/<project>:sha-<commit>` and `:model-<hash>`, push both, verify one digest.

    If the registry already has `model-<hash>`, push nothing and return that image's digest (skipped).
    """
    artifact = load_artifact(repo)
    repository = image_repository(repo, image_registry(repo, registry))
    client = docker_engine.connect()
    require_outputs_match_lock(repo, [artifact.layout.model])
    existing = registry_digest(client, f"{repository}:{artifact.model_tag}")
    if existing:
        return PushResult(repository, [artifact.model_tag], existing, image_id="", skipped=True)
    local = docker_engine.get_image(client, image or f"{artifact.project}:{artifact.model_tag}")
    added: list[str] = []
    digests: dict[str, str] = {}
    try:
        for tag in artifact.tags:
            reference = f"{repository}:{tag}"
            if reference not in local.tags:
                local.tag(repository, tag)
                added.append(reference)
            stream = client.api.push(repository, tag=tag, stream=True, decode=True)
            chunks = docker_engine.follow(stream, f"docker push of {reference}", progress=progress)
            digests[tag] = _digest(chunks) or _registry_digest(client, reference)
    except ContainerError as exc:
        _untag(client, added)
        raise ContainerError(f"{exc}\nNo tag of {repository} was left pointing at a partial push.") from None
    except Exception as exc:  # connection reset, auth refused: the same clean-up, a clear message
        _untag(client, added)
        raise ContainerError(f"docker push to {repository} failed: {str(exc).splitlines()[0]}") from None
    if len(set(digests.values())) != 1:
        raise ContainerError(f"the tags of {repository} point at different digests after the push: {digests}")
    return PushResult(repository=repository, tags=artifact.tags, digest=next(iter(digests.values())), image_id=local.id)


def _digest(chunks: list[dict]) -> str | None:
    for chunk in reversed(chunks):
        aux = chunk.get("aux")
        if isinstance(aux, dict) and aux.get("Digest"):
            return aux["Digest"]
    return None


def _registry_digest(client, reference: str) -> str:
    digest = registry_digest(client, reference)
    if not digest:  # the registry answered the push but not the lookup
        raise ContainerError(f"pushed {reference} but the registry has no digest for it")
    return digest


def _untag(client, references: list[str]) -> None:
    for reference in references:
        try:
            client.images.remove(reference, noprune=True)
        except Exception:  # best effort: the tag may never have been created
            continue
