"""`modelrail promote --env ENV`: release the artifact of the checked-out commit to an environment.

Never retrains, never rebuilds: the artifact is resolved by content identity (dvc.lock) in the MLflow registry and
on the image registry. Every check runs before anything moves; then the image tag, the registry alias and the
release commit move in that order, and a failure undoes the moves already made.
"""

from __future__ import annotations

from pathlib import Path

from modelrail import model_registry
from modelrail.container.image_registry import image_repository, registry_digest
from modelrail.errors import ConfigError, Refused
from modelrail.layout import Layout, layout_of
from modelrail.model_registry import first_line
from modelrail.release import environment, image_tags, records, steps
from modelrail.release.lock import EnvironmentLock
from modelrail.release.overlay import render_overlay
from modelrail.release.steps import Options, ReleaseResult


def run(
    repo: Path, env: str, options: Options, registry: str | None = None, approved_sha: str | None = None
) -> ReleaseResult:
    """Promote HEAD's artifact to `env`; a Refused error changes nothing, a ReleaseFailed one says what to re-run."""
    config = steps.release_config(repo, env)
    config_path, environments = repo / "modelrail.yaml", config["environments"]
    layout = layout_of(config, config_path)
    if approved_sha:
        environment.require_approved(repo, env, approved_sha)
    code_sha = environment.head_sha(repo)
    identity = records.artifact_identity(repo, layout)
    gates = records.check_gate_records(repo, identity, records.required_gates(config), layout)
    rejected = environment.rejection(repo, environments, identity.content_hash)
    if rejected and not options.allow_rejected:
        raise Refused(
            f"the artifact {identity.content_hash} was {rejected} (release histories on the environment branches) "
            "(fix: promote another model, or pass --allow-rejected to override on purpose)"
        )
    registry_ = model_registry.open_registry(repo, config)
    position = environments.index(env)
    previous_release = None
    if position > 0:
        previous_env = environments[position - 1]
        previous_release = environment.released_entry(repo, previous_env, identity.content_hash)
        if previous_release is None:
            raise Refused(
                f"the artifact {identity.content_hash} was never released to '{previous_env}', which comes before "
                f"'{env}' in {config_path}: releases/{previous_env}/history.jsonl on the {previous_env} branch has "
                f"no release of it (registry tags and aliases are not evidence) (fix: merge it into {previous_env} "
                "first)"
            )
    version = _resolve_version(registry_, identity, previous_release)
    number, tags = str(version.version), dict(version.tags or {})
    past = [entry for entry in environment.history(repo, env) if entry.get("content_hash") == identity.content_hash]
    kind = "rollback" if past else "promotion"
    repository = _image_repository(repo, config, registry) if options.image else None
    current = environment.current_record(repo, env)
    if _already_released(registry_, env, number, identity, current, repository):
        options.echo(f"{env} already runs {registry_.name} v{number} ({identity.content_hash}): nothing to do")
        commit = _restore_manifests(repo, env, current, options.echo)
        content = identity.content_hash
        return ReleaseResult(env, kind, number, content, changed=bool(commit), record=current, commit=commit)

    _require_content(repo, config, layout, env)
    drift = _drift_gate(repo, config, layout, env)
    actor = steps.actor()
    with EnvironmentLock(registry_, env, actor):
        client = digest = None
        if repository:
            from modelrail.container import engine as docker_engine

            client = docker_engine.connect()
            digest = _image_digest(client, repository, identity.content_hash, previous_release)
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
            "trained_at_sha": tags.get(model_registry.CODE_TAG),
            "previous": steps.summary(current),
            "actor": actor,
            "time": steps.now(),
        }
        return steps.apply(
            repo,
            env,
            registry_,
            client,
            record,
            options,
            f"Promote {registry_.name} v{number} to {env}",
        )


def _resolve_version(registry, identity, previous_release: dict | None):
    """The model version: the one the previous environment released (its record), else the one tagged with this
    content identity by `modelrail register` on main."""
    if previous_release is not None:
        number = str(previous_release.get("model_version"))
        try:
            version = registry.version(number)
        except Exception as exc:
            raise Refused(
                f"{registry.name} v{number}, which the previous environment's release record names, cannot be read "
                f"from the MLflow registry: {first_line(exc)}"
            ) from None
        held = (version.tags or {}).get(model_registry.CONTENT_TAG)
        if held != identity.content_hash:
            raise Refused(
                f"{registry.name} v{number} carries content hash {held}, not {identity.content_hash} that the "
                "previous environment's release record names: the registry was changed since that release"
            )
        return version
    version = model_registry.find_version(registry, identity)
    if version is None:
        raise Refused(
            f"no version of {registry.name} in the MLflow registry is tagged {model_registry.CONTENT_TAG}="
            f"{identity.content_hash} with these data hashes: no artifact for this commit's content "
            "(fix: merge its pull request into main, whose publish workflow runs `modelrail register`)"
        )
    return version


def _image_digest(client, repository: str, content_hash: str, previous_release: dict | None) -> str:
    """The first environment takes `model-<hash>` as published from main; every later one the digest its previous
    environment released (a tag may have been pushed again since; a digest cannot change)."""
    if previous_release is None:
        return image_tags.image_digest_for(client, repository, content_hash)
    image = previous_release.get("image") or {}
    if image.get("repository") != repository or not image.get("digest"):
        raise Refused(
            f"the previous environment's release of {content_hash} names no image digest in {repository} "
            f"(it has {image.get('repository')}@{image.get('digest')}): promote it there with its image first"
        )
    return image_tags.check_image(client, repository, image["digest"], content_hash)


def _restore_manifests(repo: Path, env: str, current: dict, echo) -> str | None:
    """deploy/<env>/ as the release record renders it: a hand edit there is undone by a bot commit."""
    image = (current or {}).get("image") or None
    if not image:
        return None
    manifests = render_overlay(repo, env, f"{image['repository']}@{image['digest']}", current)
    commit = environment.write_manifests(
        repo, env, manifests, f"Re-render deploy/{env}/ from the release record of v{current['model_version']}"
    )
    if commit:
        echo(f"deploy/{env}/ differed from the release record: re-rendered in {commit[:12]}")
    return commit


def _image_repository(repo: Path, config: dict, override: str | None) -> str | None:
    """`<registry>/<project>`, or None (no image part) when neither --registry nor container_registry is set."""
    registry = (override or config.get("container_registry") or "").rstrip("/")
    return image_repository(repo, registry) if registry else None


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
    from modelrail.container import engine as docker_engine

    return registry_digest(docker_engine.connect(), f"{repository}:{env}") == image.get("digest")


def _require_content(repo: Path, config: dict, layout: Layout, env: str) -> None:
    """Refuse unless the model and the data the drift gate reads hash to dvc.lock: `dvc pull` checks out whatever
    bytes the DVC remote holds, and a release vouches for dvc.lock's content, not the remote's."""
    from modelrail.trust.integrity import require_outputs_match_lock

    reference = config.get("promotion", {}).get("reference_data", {}).get(env)
    wanted = [layout.model, layout.train_data, *([reference] if reference else [])]
    require_outputs_match_lock(repo, wanted, only_tracked=True)


def _drift_gate(repo: Path, config: dict, layout: Layout, env: str) -> dict | None:
    """Training data (paths.train_data) against the environment's reference data, thresholds from `drift:`; None
    without a reference."""
    reference = config.get("promotion", {}).get("reference_data", {}).get(env)
    if not reference:
        return None
    from modelrail.gates import drift

    config_path = repo / "modelrail.yaml"
    training = repo / layout.train_data
    for path, declared in ((training, layout.key("train_data")), (repo / reference, f"promotion.reference_data.{env}")):
        if not path.exists():
            raise ConfigError(
                f"{path}: no such data (fix: `dvc pull` it before promoting; promotion never retrains) ({declared})"
            )
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
