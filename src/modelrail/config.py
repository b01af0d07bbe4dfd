"""modelrail.yaml: load it and validate every key, naming the key and the file when one is wrong."""

from __future__ import annotations

import re
from pathlib import Path

from modelrail.engines import ENGINES
from modelrail.errors import ConfigError

NUMBER = "number"
STRING = "string"
ANY_KEY = "*"
BOUNDS = {"min": NUMBER, "max": NUMBER}
# Drift: PSI at or above `psi`, or a KS distance at or above `ks` with a p-value below `pvalue`, or a share of
# categorical values never seen in the reference at or above `unseen`, is drift.
DRIFT_LIMITS = {"psi": NUMBER, "ks": NUMBER, "pvalue": NUMBER, "unseen": NUMBER}

# A nested dict is a mapping with exactly these keys; a list of one type is a list of it.
SCHEMA: dict = {
    "project": STRING,
    "environments": [STRING],
    # Registry and namespace images are pushed to, e.g. ghcr.io/my-org (MODELRAIL_REGISTRY overrides it).
    "container_registry": STRING,
    "mlflow": {"tracking_uri": STRING, "experiment": STRING, "registered_model": STRING},
    "gates": {
        # `modelrail gate data`: pandas (default) or spark; `spark:` below says where Spark runs.
        "data": {"engine": STRING},
        "model": {
            "thresholds": {ANY_KEY: BOUNDS},
            # Against the model version behind the target environment's registry alias (see champion.py).
            "champion": {"tolerance": NUMBER, "metrics": [STRING], "when_missing": STRING},
        },
    },
    "drift": {**DRIFT_LIMITS, "bins": NUMBER, "exclude": [STRING], "columns": {ANY_KEY: DRIFT_LIMITS}},
    # The Spark engine: `master` (default local[*]) and any Spark properties, as strings.
    "spark": {"master": STRING, "conf": {ANY_KEY: STRING}},
    # `modelrail promote`'s drift gate: training data vs each environment's reference data, `drift:` thresholds.
    "promotion": {"training_data": STRING, "reference_data": {ANY_KEY: STRING}},
}
REQUIRED = ("environments",)
DEVELOPMENT_BRANCHES = ("main", "master")
ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


def load_config(path: Path) -> dict:
    """Parse and validate modelrail.yaml; every ConfigError names the file and the key."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (every model repo has a modelrail.yaml at its root)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping of keys (see the modelrail.yaml reference)")
    _check(path, data, SCHEMA, "")
    for key in REQUIRED:
        if key not in data:
            raise ConfigError(f"{path}: key '{key}' is required")
    _check_environments(path, data["environments"])
    for metric, bounds in data.get("gates", {}).get("model", {}).get("thresholds", {}).items():
        if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
            raise ConfigError(f"{path}: key 'gates.model.thresholds.{metric}': min is greater than max")
    _check_champion(path, data.get("gates", {}).get("model", {}).get("champion", {}))
    _check_drift(path, data.get("drift", {}))
    engine = data.get("gates", {}).get("data", {}).get("engine", ENGINES[0])
    if engine not in ENGINES:
        raise ConfigError(f"{path}: key 'gates.data.engine' must be one of {', '.join(ENGINES)}, got {engine!r}")
    for name in data.get("promotion", {}).get("reference_data", {}):
        if name not in data["environments"]:
            raise ConfigError(f"{path}: key 'promotion.reference_data.{name}': '{name}' is not an environment")
    return data


def _check(path: Path, value, schema, where: str) -> None:
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: key '{where}' must be a mapping, got {_kind(value)}")
        for key, item in value.items():
            key_path = f"{where}.{key}" if where else str(key)
            if ANY_KEY in schema:
                _check(path, item, schema[ANY_KEY], key_path)
            elif key in schema:
                _check(path, item, schema[key], key_path)
            else:
                raise ConfigError(f"{path}: unknown key '{key_path}' (allowed: {', '.join(schema)})")
    elif isinstance(schema, list):
        if not isinstance(value, list):
            raise ConfigError(f"{path}: key '{where}' must be a list, got {_kind(value)}")
        for index, item in enumerate(value):
            _check(path, item, schema[0], f"{where}[{index}]")
    elif schema == NUMBER:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: key '{where}' must be a number, got {_kind(value)}")
    elif schema == STRING and not isinstance(value, str):
        raise ConfigError(f"{path}: key '{where}' must be a string, got {_kind(value)}")


def _check_environments(path: Path, environments: list[str]) -> None:
    if not environments:
        raise ConfigError(f"{path}: key 'environments' must name at least one environment")
    for name in environments:
        if not ENVIRONMENT_NAME.match(name):
            raise ConfigError(f"{path}: key 'environments': '{name}' is not a valid branch name ([a-z][a-z0-9-]*)")
        if name in DEVELOPMENT_BRANCHES:
            raise ConfigError(f"{path}: key 'environments': '{name}' is the development branch, not an environment")
        if environments.count(name) > 1:
            raise ConfigError(f"{path}: key 'environments': '{name}' is listed twice")


def _check_drift(path: Path, drift: dict) -> None:
    limits = [("drift", drift)] + [(f"drift.columns.{name}", item) for name, item in drift.get("columns", {}).items()]
    for where, item in limits:
        if "psi" in item and item["psi"] <= 0:
            raise ConfigError(f"{path}: key '{where}.psi' must be greater than 0, got {item['psi']}")
        for key in ("ks", "pvalue", "unseen"):
            if key in item and not 0 < item[key] <= 1:
                raise ConfigError(f"{path}: key '{where}.{key}' must be in (0, 1], got {item[key]}")
    bins = drift.get("bins", 10)
    if bins != int(bins) or not 2 <= bins <= 100:
        raise ConfigError(f"{path}: key 'drift.bins' must be a whole number from 2 to 100, got {bins}")


def _check_champion(path: Path, champion: dict) -> None:
    if champion.get("tolerance", 0) < 0:
        tolerance = champion["tolerance"]
        raise ConfigError(f"{path}: key 'gates.model.champion.tolerance' must be 0 or more, got {tolerance}")
    allowed = ("thresholds-only", "fail")
    if champion.get("when_missing", allowed[0]) not in allowed:
        raise ConfigError(
            f"{path}: key 'gates.model.champion.when_missing' must be one of {', '.join(allowed)}, "
            f"got {champion['when_missing']!r}"
        )


def _kind(value) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"
