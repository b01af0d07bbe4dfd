"""The release steps promote and rollback share: move the image tag, then the registry alias, then commit the
record on the environment branch; a failure undoes the moves already made."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from modelrail.config import load_config
from modelrail.errors import ConfigError, ReleaseFailed
from modelrail.model_registry import RELEASED_PREFIX, first_line
from modelrail.release.environment import push, require_branch, write_release
from modelrail.release.image_tags import move_image, undo_image
from modelrail.release.overlay import render_overlay


@dataclass
class Options:
    """How promote and rollback move things (the options the two commands share)."""

    image: bool = True
    allow_rejected: bool = False
    push_to: str | None = None
    echo: Callable[[str], object] = print


def release_config(repo: Path, env: str) -> dict:
    """modelrail.yaml, once `env` is one of its environments and the environment branch is checked out."""
    config_path = repo / "modelrail.yaml"
    config = load_config(config_path)
    environments = config["environments"]
    if env not in environments:
        raise ConfigError(f"{config_path}: key 'environments': '{env}' is not one of {', '.join(environments)}")
    require_branch(repo, env)
    return config


@dataclass
class ReleaseResult:
    """What promote and rollback return; `changed` is False when the environment already ran this release."""

    env: str
    kind: str
    model_version: str
    content_hash: str
    changed: bool
    record: dict = field(default_factory=dict)
    commit: str | None = None


def actor() -> str:
    return os.environ.get("GITHUB_ACTOR") or os.environ.get("USER") or "unknown"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def summary(current: dict | None) -> dict | None:
    """What a release record keeps of the release it replaces."""
    if not current:
        return None
    keys = ("model_version", "content_hash", "code_sha", "time")
    return {key: current.get(key) for key in keys} | {"image_digest": (current.get("image") or {}).get("digest")}


def apply(
    repo: Path, env: str, registry, client, record: dict, options: Options, message: str, command: str = ""
) -> ReleaseResult:
    """Move the image tag, then the alias, then commit the record; undo earlier moves when a later one fails."""
    number = record["model_version"]
    image = record.get("image") or None
    manifests = {}
    if image:
        manifests = render_overlay(repo, env, f"{image['repository']}@{image['digest']}", record)
    rerun = f"re-run `modelrail {command or 'promote'} --env {env}`"
    moved = None
    if image:
        try:
            moved = move_image(client, image["repository"], env, image["digest"])
        except ReleaseFailed as exc:
            raise ReleaseFailed(f"{exc} The alias '{env}' did not move; nothing was released (fix: {rerun})") from None
        options.echo(f"image {image['repository']}:{env} -> {image['digest']}")
    previous_alias = registry.alias(env)
    released_key = RELEASED_PREFIX + env
    had_released_tag = bool((registry.version(number).tags or {}).get(released_key))
    try:
        registry.client.set_registered_model_alias(registry.name, env, number)
        if not had_released_tag:
            registry.client.set_model_version_tag(registry.name, number, released_key, record["time"])
    except Exception as exc:
        note = undo_alias(registry, env, previous_alias, number, released_key, had_released_tag)
        note += undo_image(client, moved)
        raise ReleaseFailed(
            f"MLflow registry at {first_line(Exception(registry.uri))} failed while moving alias "
            f"'{env}' to v{number}: {first_line(exc)}.{note} Nothing was released (fix: bring the "
            f"registry back and {rerun})"
        ) from None
    options.echo(f"alias {registry.name}@{env} -> v{number}")
    try:
        sha = write_release(repo, env, record, manifests, message)
    except Exception as exc:
        note = undo_alias(registry, env, previous_alias, number, released_key, had_released_tag)
        note += undo_image(client, moved)
        raise ReleaseFailed(f"writing the release record failed: {exc}.{note} (fix: {rerun})") from None
    options.echo(f"release record committed on {env}: {sha[:12]}")
    if options.push_to:
        push(repo, options.push_to, env)
        options.echo(f"pushed {env} to {options.push_to}")
    return ReleaseResult(env, record["kind"], number, record["content_hash"], changed=True, record=record, commit=sha)


def undo_alias(registry, env, previous_alias, number, released_key, had_released_tag) -> str:
    try:
        if previous_alias:
            registry.client.set_registered_model_alias(registry.name, env, previous_alias)
        elif registry.alias(env) == number:
            registry.client.delete_registered_model_alias(registry.name, env)
        if not had_released_tag:
            registry.client.delete_model_version_tag(registry.name, number, released_key)
        return f" The alias '{env}' is still on {('v' + previous_alias) if previous_alias else 'no version'}."
    except Exception as exc:
        return f" Could not check that the alias '{env}' is unchanged ({first_line(exc)})."
