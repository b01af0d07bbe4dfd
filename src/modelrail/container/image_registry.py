"""The image registry (not MLflow's model registry): where images are pushed, and what digest a tag has there.

Shared by `containerize push` and the release commands, which move an environment's tag on it.
"""

from __future__ import annotations

from pathlib import Path

from modelrail.errors import ConfigError, ContainerError


def image_registry(repo: Path, override: str | None) -> str:
    """The registry (and namespace) to push to: the flag or MODELRAIL_REGISTRY, else modelrail.yaml's key."""
    from modelrail.config import load_config

    if override:
        return override.rstrip("/")
    config_path = repo / "modelrail.yaml"
    registry = load_config(config_path).get("container_registry")
    if not registry:
        raise ConfigError(
            f"{config_path}: key 'container_registry' is not set "
            "(fix: set it, or pass --registry / MODELRAIL_REGISTRY, e.g. ghcr.io/my-org)"
        )
    return registry.rstrip("/")


def image_repository(repo: Path, registry: str) -> str:
    """`<registry>/<project>`: the image repository of the model repo at `repo`."""
    from modelrail.identity import project_name

    return f"{registry.rstrip('/')}/{project_name(repo)}"


def registry_digest(client, reference: str) -> str | None:
    """The digest the registry holds for `reference`, None if it has no such tag."""
    import docker

    try:
        return client.images.get_registry_data(reference).id
    except docker.errors.NotFound:
        return None
    except docker.errors.APIError as exc:
        # Registries answer an unknown tag or repository in several ways; all of them mean "not there".
        if exc.status_code == 404 or "not found" in str(exc).lower() or "unknown" in str(exc).lower():
            return None
        raise ContainerError(f"cannot ask the registry for {reference}: {exc.explanation or exc}") from None
