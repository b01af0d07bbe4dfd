"""`modelrail rollback --env ENV [--to VERSION] [--reject]`: bring back an earlier release of an environment.

The earlier release comes from the branch's release history, so the same model version, content hash and image
digest come back: nothing is retrained or rebuilt, and no gate is re-run for a release that already ran there.
`git revert` of a promotion reaches the same state through `modelrail promote` (the reverted commit's artifact).
"""

from __future__ import annotations

from pathlib import Path

from modelrail import model_registry
from modelrail.errors import Refused
from modelrail.release import environment, steps
from modelrail.release.lock import EnvironmentLock
from modelrail.release.steps import Options, ReleaseResult


def run(repo: Path, env: str, options: Options, to: str | None = None, reject: bool = False) -> ReleaseResult:
    """Restore the release before the current one (or the latest release of version `to`); optionally reject it."""
    config = steps.release_config(repo, env)
    current = environment.current_record(repo, env)
    if current is None:
        raise Refused(
            f"{environment.record_path(repo, env)}: nothing was ever released to '{env}', so nothing to roll back"
        )
    registry = model_registry.open_registry(repo, config)
    target = _target(repo, env, current, to, config["environments"], options.allow_rejected)
    number = str(target["model_version"])
    actor = steps.actor()
    with EnvironmentLock(registry, env, actor):
        if reject:
            reason = f"rolled back from {env} by {actor} at {steps.now()}"
            # An output for whoever reads the registry; the evidence is this rollback's record (rejected_previous).
            registry.client.set_model_version_tag(
                registry.name, current["model_version"], model_registry.REJECTED_TAG, reason
            )
            options.echo(f"{registry.name} v{current['model_version']} marked rejected")
        client = None
        old_image = target.get("image") if options.image else None
        if old_image:
            from modelrail.container import engine as docker_engine

            client = docker_engine.connect()
        record = {
            **{key: target.get(key) for key in ("registered_model", "content_hash", "data", "gates", "trained_at_sha")},
            "environment": env,
            "kind": "rollback",
            "model_version": number,
            "image": old_image or None,
            "code_sha": environment.head_sha(repo),
            "rolled_back_from": steps.summary(current),
            "previous": steps.summary(current),
            "rejected_previous": reject,
            "actor": actor,
            "time": steps.now(),
        }
        message = f"Roll back {env} from {registry.name} v{current['model_version']} to v{number}"
        return steps.apply(repo, env, registry, client, record, options, message, f"rollback --to {number}")


def _target(repo: Path, env: str, current: dict, to: str | None, environments: list[str], allow_rejected: bool) -> dict:
    """The release to restore: the latest of version `to`, else the latest with another version than the current."""
    past = environment.history(repo, env)
    if to is not None:
        matches = [entry for entry in past if str(entry.get("model_version")) == str(to)]
        if not matches:
            seen = sorted({str(entry.get("model_version")) for entry in past}, key=lambda v: (len(v), v))
            raise Refused(
                f"version {to} was never released to '{env}' (released there: {', '.join(seen) or 'none'}); "
                "roll back only to a release the environment ran"
            )
        if str(to) == str(current.get("model_version")):
            raise Refused(f"'{env}' already runs v{to}")
        target = matches[-1]
    else:
        candidates = [entry for entry in past if str(entry.get("model_version")) != str(current.get("model_version"))]
        if not candidates:
            raise Refused(f"{environment.history_path(repo, env)}: no earlier release of '{env}' to roll back to")
        target = candidates[-1]
    # Rejections are read from the branches' release histories, never from a registry tag other jobs can write.
    rejected = environment.rejection(repo, environments, str(target.get("content_hash")))
    if rejected and not allow_rejected:
        raise Refused(f"v{target['model_version']} was {rejected} (fix: --to another version, or --allow-rejected)")
    return target
