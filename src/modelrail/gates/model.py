"""`modelrail gate model`: check evaluation metrics against the thresholds in modelrail.yaml."""

from __future__ import annotations

from pathlib import Path

from modelrail.config import load_config
from modelrail.errors import ConfigError
from modelrail.files import digests, read_regular
from modelrail.gates import champion
from modelrail.gates.metrics import load_metrics, lookup
from modelrail.gates.records import Check, GateResult, publish


def run(
    metrics_path: Path,
    config_path: Path,
    record_path: Path,
    summary_path: Path,
    target_env: str | None = None,
    alias: str | None = None,
) -> GateResult:
    """Thresholds always; with a target environment or alias also the champion comparison (see champion.py)."""
    config = load_config(config_path)
    metrics, raw = load_metrics(metrics_path)
    thresholds = config.get("gates", {}).get("model", {}).get("thresholds", {})
    if not thresholds:
        raise ConfigError(f"{config_path}: key 'gates.model.thresholds' names no metric, so the gate cannot block")
    checks = [_check(metrics_path, metrics, name, bounds) for name, bounds in thresholds.items()]
    inputs_champion = {}
    champion_alias = champion.alias_for(config, config_path, target_env, alias)
    if champion_alias:
        champion_checks, inputs_champion = champion.compare(metrics, metrics_path, config, config_path, champion_alias)
        checks += champion_checks
    result = GateResult(
        gate="model",
        checks=checks,
        inputs={
            "metrics": {"path": str(metrics_path), **digests(raw)},
            "config": {"path": str(config_path), **digests(read_regular(config_path))},
            **({"champion": inputs_champion} if inputs_champion else {}),
        },
        record_path=record_path,
        summary_path=summary_path,
    )
    publish(result)
    return result


def _check(path: Path, metrics: dict, name: str, bounds: dict) -> Check:
    value = lookup(metrics, name)
    wanted = " and ".join(f"{'>=' if key == 'min' else '<='} {limit}" for key, limit in bounds.items())
    details = {"threshold": bounds, "value": value}
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        message = f"{path}: metric '{name}' is missing or not a number (threshold {wanted})"
        return Check(name=f"threshold {name}", success=False, message=message, file=str(path), details=details)
    ok = value >= bounds.get("min", value) and value <= bounds.get("max", value)
    message = f"{name} = {value:.4g} (wanted {wanted})"
    if not ok:
        message = f"{path}: {message}"
    return Check(name=f"threshold {name}", success=ok, message=message, file=str(path), details=details)
