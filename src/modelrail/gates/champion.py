"""Champion comparison: the new metrics against the model version behind an MLflow registry alias."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from modelrail import model_registry
from modelrail.config import DEVELOPMENT_BRANCHES
from modelrail.errors import ConfigError
from modelrail.gates.metrics import lookup
from modelrail.gates.records import Check
from modelrail.model_registry import first_line, redact, tracking_uri

THRESHOLDS_ONLY = "thresholds-only"
DEFAULT_TOLERANCE = 0.0
# evaluate logs the test metrics on the training run as test_<name>; that run is the version's source run.
RUN_METRIC_PREFIX = "test_"
# MLflow's rule for alias names (mlflow.utils.validation); a name it rejects must not read as "no champion yet".
ALIAS_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")


@dataclass
class Champion:
    """The model version an alias points at, and the metrics of the run that produced it."""

    alias: str
    registered_model: str
    version: str | None
    run_id: str | None
    metrics: dict[str, float]


class RegistryUnavailable(Exception):
    """The registry could not be asked; the comparison fails closed."""


def alias_for(config: dict, config_path: Path, target_env: str | None, alias: str | None) -> str | None:
    """The alias to compare against: explicit, else the target environment's, else none (thresholds only)."""
    if alias is not None:
        if not ALIAS_NAME.fullmatch(alias):
            raise ConfigError(
                f"--alias {alias[:40]!r} is not a name MLflow accepts for an alias "
                "(letters, digits, _ and -, at most 255; fix: pass the alias the environment uses, e.g. staging)"
            )
        return alias
    if not target_env:
        return None
    environments = config["environments"]
    if target_env in DEVELOPMENT_BRANCHES:
        # A pull request into the development branch is judged against what it would first be promoted to.
        return environments[0]
    if target_env in environments:
        return target_env
    raise ConfigError(
        f"{config_path}: key 'environments': target environment '{target_env}' is neither an environment "
        f"({', '.join(environments)}) nor a development branch ({', '.join(DEVELOPMENT_BRANCHES)})"
    )


def settings(config: dict, config_path: Path) -> dict:
    """gates.model.champion with its defaults filled in."""
    champion = dict(config.get("gates", {}).get("model", {}).get("champion", {}))
    thresholds = config.get("gates", {}).get("model", {}).get("thresholds", {})
    champion.setdefault("tolerance", DEFAULT_TOLERANCE)
    champion.setdefault("when_missing", THRESHOLDS_ONLY)
    champion.setdefault("metrics", list(thresholds))
    if not champion["metrics"]:
        raise ConfigError(f"{config_path}: key 'gates.model.champion.metrics' names no metric to compare")
    return champion


def fetch(uri: str, registered_model: str, alias: str) -> Champion:
    """Ask the registry for the version behind the alias; a missing model or alias is a champion without a version."""
    try:
        from mlflow.exceptions import MlflowException
    except ImportError as exc:
        raise RegistryUnavailable(f"mlflow is not installed ({exc})") from None
    try:
        # MLflow refuses some URIs when it opens the store (an unknown scheme, the retired file store): also a
        # registry that cannot be asked, not an unexpected error.
        client = model_registry.connect(uri)
        version = model_registry.version_by_alias(client, registered_model, alias)
    except MlflowException as exc:
        raise RegistryUnavailable(first_line(exc)) from None
    except Exception as exc:  # connection refused, DNS, TLS, timeouts: all mean "cannot tell", so fail closed
        raise RegistryUnavailable(f"{type(exc).__name__}: {first_line(exc)}") from None
    if version is None:
        return Champion(alias, registered_model, None, None, {})
    metrics: dict[str, float] = {}
    if version.run_id:
        try:
            run = client.get_run(version.run_id)
        except Exception as exc:
            where = f"run {version.run_id} of version {version.version}"
            raise RegistryUnavailable(f"{where}: {first_line(exc)}") from None
        metrics = {
            name[len(RUN_METRIC_PREFIX) :]: value
            for name, value in run.data.metrics.items()
            if name.startswith(RUN_METRIC_PREFIX)
        }
    return Champion(alias, registered_model, str(version.version), version.run_id, metrics)


def compare(metrics: dict, metrics_path: Path, config: dict, config_path: Path, alias: str) -> tuple[list[Check], dict]:
    """Checks of the new metrics against the champion behind `alias`, and what to record about the champion."""
    champion_settings = settings(config, config_path)
    registered_model = config.get("mlflow", {}).get("registered_model")
    if not registered_model:
        raise ConfigError(f"{config_path}: key 'mlflow.registered_model' is required for the champion comparison")
    uri = tracking_uri(config, config_path)
    record = {"alias": alias, "registered_model": registered_model, "tracking_uri": redact(uri)}
    record.update({key: champion_settings[key] for key in ("tolerance", "when_missing")})
    try:
        champion = fetch(uri, registered_model, alias)
    except RegistryUnavailable as exc:
        message = (
            f"MLflow registry at {redact(uri)} could not be asked for {registered_model}@{alias}: {exc} "
            f"(fix: check that the tracking server is up and MLFLOW_TRACKING_URI is right; the gate fails closed)"
        )
        return [Check(name="champion registry", success=False, message=message)], record
    record.update({"version": champion.version, "run_id": champion.run_id})
    if champion.version is None:
        ok = champion_settings["when_missing"] == THRESHOLDS_ONLY
        message = f"no model version behind {registered_model}@{alias} yet: " + (
            "thresholds only (gates.model.champion.when_missing: thresholds-only)"
            if ok
            else f"{config_path}: gates.model.champion.when_missing is 'fail' (fix: promote a first model version)"
        )
        # A passing check worth reading in the terminal too, where passed checks are otherwise not listed.
        note = {"note": True} if ok else {}
        return [Check(name=f"champion {alias}", success=ok, message=message, details=note)], record
    if champion_settings.get("not_comparable"):
        record["not_comparable"] = champion_settings["not_comparable"]
        return [_not_comparable(champion, champion_settings, config_path)], record
    tolerance = float(champion_settings["tolerance"])
    thresholds = config.get("gates", {}).get("model", {}).get("thresholds", {})
    checks = []
    for name in champion_settings["metrics"]:
        lower_is_better = set(thresholds.get(name, {})) == {"max"}
        checks.append(_compare_one(name, lookup(metrics, name), champion, tolerance, lower_is_better, metrics_path))
    return checks, record


def _not_comparable(champion: Champion, champion_settings: dict, config_path: Path) -> Check:
    """A pull request that changes the metric set on purpose says so; it holds only while the champion really lacks
    a metric to compare, so it cannot switch the comparison off for a model measured the same way."""
    key = "gates.model.champion.not_comparable"
    missing = [name for name in champion_settings["metrics"] if name not in champion.metrics]
    where = f"{champion.registered_model}@{champion.alias} (version {champion.version})"
    if not missing:
        message = (
            f"{config_path}: {key} is set, but {where} has every metric of gates.model.champion.metrics "
            f"(fix: remove {key}; the comparison applies)"
        )
        return Check(name=f"champion {champion.alias}", success=False, message=message)
    message = (
        f"not compared with {where}: {champion_settings['not_comparable']} ({key}; the champion has no "
        f"{', '.join(missing)}); the thresholds alone judge this model"
    )
    # Passed, but worth reading in the terminal too, where passed checks are otherwise not listed.
    return Check(name=f"champion {champion.alias}", success=True, message=message, details={"note": True})


def _compare_one(
    name: str, value, champion: Champion, tolerance: float, lower_is_better: bool, metrics_path: Path
) -> Check:
    label = f"champion {name}"
    best = champion.metrics.get(name)
    where = f"{champion.registered_model} v{champion.version} (@{champion.alias})"
    details = {"value": value, "champion": best, "tolerance": tolerance, "lower_is_better": lower_is_better}
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        message = f"{metrics_path}: metric '{name}' is missing or not a number, so it cannot be compared with {where}"
        return Check(name=label, success=False, message=message, file=str(metrics_path), details=details)
    if best is None:
        message = (
            f"{where} has no metric '{RUN_METRIC_PREFIX}{name}' on its run {champion.run_id} "
            f"(fix: its evaluate stage must log it; the gate fails closed)"
        )
        return Check(name=label, success=False, message=message, details=details)
    if not (math.isfinite(value) and math.isfinite(best)):
        # +inf against a finite champion would always "win"; NaN compares false both ways. Neither is a verdict.
        message = (
            f"{name}: not a finite number ({value} here, {best} for {where}), so it cannot be compared "
            f"(the gate fails closed)"
        )
        return Check(name=label, success=False, message=message, file=str(metrics_path), details=details)
    delta = value - best
    worse_by = delta if lower_is_better else -delta
    details["delta"] = delta
    ok = worse_by <= tolerance
    sign = "+" if delta >= 0 else ""
    message = f"{name} = {value:.4g} vs {best:.4g} for {where} ({sign}{delta:.4g}, tolerance {tolerance:g})"
    if not ok:
        message = f"{metrics_path}: {message}: worse than the champion by more than the tolerance"
    return Check(name=label, success=ok, message=message, file=str(metrics_path), details=details)
