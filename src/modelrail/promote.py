"""`modelrail promote --env ENV`: release the artifact of the checked-out commit to an environment.

Never retrains, never rebuilds: the artifact is resolved by content identity (dvc.lock) in the MLflow registry and
on the image registry. Every check runs before anything moves; then the image tag, the registry alias and the
release commit move in that order, and a failure undoes the moves already made.
"""

from __future__ import annotations

import json
from pathlib import Path

from modelrail import deploy_overlay, releases
from modelrail.config import load_config
from modelrail.errors import ConfigError
from modelrail.releases import Refused, ReleaseFailed, ReleaseResult

DEFAULT_TRAINING_DATA = "data/prepared/train.csv"


def run(
    repo: Path,
    env: str,
    *,
    registry: str | None = None,
    image: bool = True,
    allow_rejected: bool = False,
    push_to: str | None = None,
    echo=print,
) -> ReleaseResult:
    """Promote HEAD's artifact to `env`; a Refused error changes nothing, a ReleaseFailed one says what to re-run."""
    config_path = repo / "modelrail.yaml"
    config = load_config(config_path)
    environments = config["environments"]
    if env not in environments:
        raise ConfigError(f"{config_path}: key 'environments': '{env}' is not one of {', '.join(environments)}")
    releases.require_branch(repo, env)
    code_sha = releases.head_sha(repo)
    identity = releases.read_identity(repo)
    gates = releases.check_gate_records(repo, identity)
    registry_ = releases.open_registry(repo, config)
    version = releases.find_version(registry_, identity, _run_record_version(repo))
    if version is None:
        raise Refused(
            f"no version of {registry_.name} in the MLflow registry is tagged {releases.CONTENT_TAG}="
            f"{identity.content_hash} with these data hashes: no artifact for this commit's content "
            "(fix: run the validate action, which trains and runs `modelrail register`, on this commit's pull request)"
        )
    number, tags = str(version.version), dict(version.tags or {})
    if tags.get(releases.REJECTED_TAG) and not allow_rejected:
        raise Refused(
            f"{registry_.name} v{number} is rejected ({tags[releases.REJECTED_TAG]}) "
            "(fix: promote another model, or pass --allow-rejected to override on purpose)"
        )
    position = environments.index(env)
    if position > 0:
        previous_env = environments[position - 1]
        if not tags.get(releases.RELEASED_PREFIX + previous_env):
            raise Refused(
                f"{registry_.name} v{number} was never released to '{previous_env}', which comes before '{env}' "
                f"in {config_path} (fix: merge it into {previous_env} first)"
            )
    kind = "rollback" if tags.get(releases.RELEASED_PREFIX + env) else "promotion"
    repository = _image_repository(repo, config, registry) if image else None
    current = releases.current_record(repo, env)
    if _already_released(registry_, env, number, identity, current, repository):
        echo(f"{env} already runs {registry_.name} v{number} ({identity.content_hash}): nothing to do")
        return ReleaseResult(env, kind, number, identity.content_hash, changed=False, record=current or {})

    drift = _drift_gate(repo, config, config_path, env)
    actor = releases.actor()
    with releases.EnvironmentLock(registry_, env, actor):
        client = digest = None
        if repository:
            from modelrail import docker_engine

            client = docker_engine.connect()
            digest = releases.image_digest_for(client, repository, identity.content_hash)
        record = {
            "environment": env,
            "kind": kind,
            "registered_model": registry_.name,
            "model_version": number,
            "content_hash": identity.content_hash,
            "data": identity.data,
            "gates": {**gates, **({"drift": drift} if drift else {})},
            "image": {"repository": repository, "digest": digest, "tags": [env, f"model-{identity.content_hash}"]}
            if repository
            else None,
            "code_sha": code_sha,
            "trained_at_sha": tags.get(releases.CODE_TAG),
            "previous": _previous(current),
            "actor": actor,
            "time": releases.now(),
        }
        return apply(
            repo, env, registry_, client, record, push_to, echo, f"Promote {registry_.name} v{number} to {env}"
        )


def apply(
    repo: Path, env: str, registry, client, record: dict, push_to: str | None, echo, message: str, command: str = ""
):
    """Move the image tag, then the alias, then commit the record; undo earlier moves when a later one fails."""
    number = record["model_version"]
    image = record.get("image") or None
    manifests = {}
    if image:
        manifests = deploy_overlay.render_overlay(repo, env, f"{image['repository']}@{image['digest']}", record)
    rerun = f"re-run `modelrail {command or 'promote'} --env {env}`"
    moved = None
    if image:
        try:
            moved = releases.move_image(client, image["repository"], env, image["digest"])
        except ReleaseFailed as exc:
            raise ReleaseFailed(f"{exc} The alias '{env}' did not move; nothing was released (fix: {rerun})") from None
        echo(f"image {image['repository']}:{env} -> {image['digest']}")
    previous_alias = registry.alias(env)
    released_key = releases.RELEASED_PREFIX + env
    had_released_tag = bool((registry.version(number).tags or {}).get(released_key))
    try:
        registry.client.set_registered_model_alias(registry.name, env, number)
        if not had_released_tag:
            registry.client.set_model_version_tag(registry.name, number, released_key, record["time"])
    except Exception as exc:
        note = _undo_alias(registry, env, previous_alias, number, released_key, had_released_tag)
        note += releases.undo_image(client, moved)
        raise ReleaseFailed(
            f"MLflow registry at {releases._first_line(Exception(registry.uri))} failed while moving alias "
            f"'{env}' to v{number}: {releases._first_line(exc)}.{note} Nothing was released (fix: bring the "
            f"registry back and {rerun})"
        ) from None
    echo(f"alias {registry.name}@{env} -> v{number}")
    try:
        sha = releases.write_release(repo, env, record, manifests, message)
    except Exception as exc:
        note = _undo_alias(registry, env, previous_alias, number, released_key, had_released_tag)
        note += releases.undo_image(client, moved)
        raise ReleaseFailed(f"writing the release record failed: {exc}.{note} (fix: {rerun})") from None
    echo(f"release record committed on {env}: {sha[:12]}")
    if push_to:
        releases.push(repo, push_to, env)
        echo(f"pushed {env} to {push_to}")
    return ReleaseResult(env, record["kind"], number, record["content_hash"], changed=True, record=record, commit=sha)


def _undo_alias(registry, env, previous_alias, number, released_key, had_released_tag) -> str:
    try:
        if previous_alias:
            registry.client.set_registered_model_alias(registry.name, env, previous_alias)
        elif registry.alias(env) == number:
            registry.client.delete_registered_model_alias(registry.name, env)
        if not had_released_tag:
            registry.client.delete_model_version_tag(registry.name, number, released_key)
        return f" The alias '{env}' is still on {('v' + previous_alias) if previous_alias else 'no version'}."
    except Exception as exc:
        return f" Could not check that the alias '{env}' is unchanged ({releases._first_line(exc)})."


def _run_record_version(repo: Path) -> str | None:
    from modelrail.artifact import RUN_RECORD

    try:
        return str(json.loads((repo / RUN_RECORD).read_text(encoding="utf-8")).get("model_version") or "") or None
    except (FileNotFoundError, json.JSONDecodeError, AttributeError):
        return None


def _image_repository(repo: Path, config: dict, override: str | None) -> str | None:
    """`<registry>/<project>`, or None (no image part) when neither --registry nor container_registry is set."""
    from modelrail.artifact import _project

    registry = (override or config.get("container_registry") or "").rstrip("/")
    return f"{registry}/{_project(repo)}" if registry else None


def _already_released(registry, env, number, identity, current, repository) -> bool:
    """The branch's record, the alias and (if any) the image tag all say this artifact already: idempotent no-op."""
    if not current or current.get("model_version") != number or current.get("content_hash") != identity.content_hash:
        return False
    if registry.alias(env) != number:
        return False
    image = current.get("image")
    if repository is None:
        return True
    if not image or image.get("repository") != repository:
        return False
    from modelrail import docker_engine

    return releases.registry_digest(docker_engine.connect(), f"{repository}:{env}") == image.get("digest")


def _previous(current: dict | None) -> dict | None:
    if not current:
        return None
    keys = ("model_version", "content_hash", "code_sha", "time")
    return {key: current.get(key) for key in keys} | {"image_digest": (current.get("image") or {}).get("digest")}


def _drift_gate(repo: Path, config: dict, config_path: Path, env: str) -> dict | None:
    """Training data against the environment's reference data, thresholds from `drift:`; None without a reference."""
    promotion = config.get("promotion", {})
    reference = promotion.get("reference_data", {}).get(env)
    if not reference:
        return None
    from modelrail import drift

    training = repo / promotion.get("training_data", DEFAULT_TRAINING_DATA)
    for path in (training, repo / reference):
        if not path.exists():
            raise ConfigError(f"{path}: no such data (fix: `dvc pull` it before promoting; promotion never retrains)")
    record = repo / "build" / "promote" / f"drift-{env}.json"
    result = drift.run(training, repo / reference, None, config_path, record, record.with_suffix(".md"))
    if not result.passed:
        failed = "; ".join(check.message for check in result.failures)
        raise Refused(
            f"drift gate: the training data {training.relative_to(repo)} and {env}'s reference data {reference} "
            f"differ beyond the thresholds of {config_path} (drift:): {failed} (full report: {record})"
        )
    drifted = {column.column: round(column.psi, 4) for column in result.columns}
    return {"passed": True, "reference": reference, "training_data": str(training.relative_to(repo)), "psi": drifted}
