"""An environment's tag on the image registry: resolve the image a release names, move the tag, put it back."""

from __future__ import annotations

from dataclasses import dataclass

from modelrail.container.image_registry import registry_digest
from modelrail.errors import ModelrailError, Refused, ReleaseFailed
from modelrail.model_registry import first_line

# Set by `modelrail containerize build` (see the template's Dockerfile).
IMAGE_MODEL_LABEL = "io.modelrail.model.md5"


@dataclass
class ImageMove:
    """The environment tag of the image repository, before and after."""

    repository: str
    tag: str
    digest: str
    previous: str | None


def image_digest_for(client, repository: str, content_hash: str) -> str:
    """The digest of `<repository>:model-<hash>`; its label must carry the same content hash."""
    reference = f"{repository}:model-{content_hash}"
    try:
        digest = registry_digest(client, reference)
    except Exception as exc:
        raise ReleaseFailed(f"image registry: cannot read {reference}: {first_line(exc)}") from None
    if digest is None:
        raise Refused(
            f"no image {reference} on the registry: the artifact was never pushed "
            "(fix: run the containerize action with push: 'true' for this commit; promotion never rebuilds)"
        )
    return check_image(client, repository, digest, content_hash)


def check_image(client, repository: str, digest: str, content_hash: str) -> str:
    """`<repository>@<digest>` exists and its label carries this content hash; returns the digest."""
    image = _pull(client, f"{repository}@{digest}")
    labels = (image.attrs.get("Config") or {}).get("Labels") or {}
    carried = labels.get(IMAGE_MODEL_LABEL)
    if carried != content_hash:
        raise Refused(
            f"image {repository}@{digest} has label {IMAGE_MODEL_LABEL}={carried}, not the content hash {content_hash}"
        )
    return digest


def _pull(client, reference: str):
    repository, digest = reference.split("@", 1)
    try:
        return client.images.get(reference)
    except Exception:
        pass
    try:
        return client.images.pull(repository, tag=digest)
    except Exception as exc:
        raise ReleaseFailed(f"image registry: cannot pull {reference}: {first_line(exc)}") from None


def point_tag(client, repository: str, tag: str, digest: str) -> None:
    """Make `<repository>:<tag>` on the registry point at `digest` (pull by digest, tag, push, verify)."""
    from modelrail.container import engine as docker_engine

    image = _pull(client, f"{repository}@{digest}")
    image.tag(repository, tag)
    stream = client.api.push(repository, tag=tag, stream=True, decode=True)
    docker_engine.follow(stream, f"docker push of {repository}:{tag}", progress=False)
    pushed = registry_digest(client, f"{repository}:{tag}")
    if pushed != digest:
        raise ReleaseFailed(f"{repository}:{tag} points at {pushed} after the push, expected {digest}")


def move_image(client, repository: str, env: str, digest: str) -> ImageMove:
    """Point the environment tag at `digest`; a failed push leaves the tag where it was (registries are atomic)."""
    previous = registry_digest(client, f"{repository}:{env}")
    if previous != digest:
        try:
            point_tag(client, repository, env, digest)
        except ModelrailError as exc:
            raise ReleaseFailed(f"image push failed: {exc}") from None
        except Exception as exc:
            raise ReleaseFailed(f"image push of {repository}:{env} failed: {first_line(exc)}") from None
    return ImageMove(repository, env, digest, previous)


def undo_image(client, move: ImageMove | None) -> str:
    """Put the environment tag back; returns a note for the error message."""
    if move is None or move.previous == move.digest:
        return ""
    if move.previous is None:
        return f" The tag {move.repository}:{move.tag} now exists on the registry but no release claims it."
    try:
        point_tag(client, move.repository, move.tag, move.previous)
        return f" {move.repository}:{move.tag} was put back to {move.previous}."
    except Exception as exc:
        return f" Could not put {move.repository}:{move.tag} back to {move.previous}: {first_line(exc)}."
