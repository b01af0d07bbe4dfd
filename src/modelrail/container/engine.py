"""The Docker engine, through the Docker SDK: connect with a clear error, stream progress, fetch images."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

from modelrail.errors import ConfigError, ContainerError

# Builds and pushes stream for minutes on a slow storage driver; a read timeout must not cut them off.
TIMEOUT = 900
DEFAULT_HOST = "unix:///var/run/docker.sock"


def connect():
    """A Docker client that has answered a ping; otherwise a ConfigError naming DOCKER_HOST (exit 2)."""
    import docker
    import requests

    host = os.environ.get("DOCKER_HOST")
    where = f"DOCKER_HOST={host}" if host else f"DOCKER_HOST is not set, so the default {DEFAULT_HOST}"
    try:
        client = docker.from_env(timeout=TIMEOUT)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"no Docker engine answers ({where}): {reason} "
            "(fix: start the engine, or point DOCKER_HOST at its socket, e.g. unix:///path/docker.sock)"
        ) from None
    return client


def get_image(client, reference: str):
    """The local image `reference` (id or name:tag), or a ConfigError saying how to get it."""
    import docker

    try:
        return client.images.get(reference)
    except docker.errors.ImageNotFound:
        raise ConfigError(
            f"image '{reference}' is not in the engine (fix: `modelrail containerize build` first, or pass --image)"
        ) from None


def follow(stream: Iterable[dict], what: str, progress: bool = True) -> list[dict]:
    """Print an engine's JSON progress stream as it comes; raise ContainerError on the first error in it."""
    seen: list[dict] = []
    tail: list[str] = []
    for chunk in stream:
        seen.append(chunk)
        if "error" in chunk or "errorDetail" in chunk:
            detail = chunk.get("errorDetail", {}).get("message") or chunk.get("error") or "unknown error"
            context = "".join(tail[-5:]).strip()
            raise ContainerError(f"{what} failed: {detail.strip()}" + (f"\n{context}" if context else ""))
        text = chunk.get("stream")
        if text is None and "status" in chunk and not chunk.get("progressDetail"):
            text = " ".join(str(chunk[key]) for key in ("id", "status") if chunk.get(key)) + "\n"
        if text:
            tail.append(text)
            if progress:
                sys.stdout.write(text)
                sys.stdout.flush()
    return seen
