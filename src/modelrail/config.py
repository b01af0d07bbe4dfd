"""modelrail.yaml: load it and validate every key, naming the key and the file when one is wrong."""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path

from modelrail.engines import ENGINES
from modelrail.errors import ConfigError
from modelrail.files import read_regular
from modelrail.layout import PATHS, STAGES, Layout, check_contract, layout_of

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
        # Gates an artifact must have passed to be promoted: names of records <paths.gates>/<name>.json in dvc.lock.
        "required": [STRING],
        # `modelrail gate data`: pandas (default) or spark; `spark:` below says where Spark runs.
        "data": {"engine": STRING},
        "model": {
            "thresholds": {ANY_KEY: BOUNDS},
            # Against the model version behind the target environment's registry alias (see champion.py).
            # not_comparable: why the champion's metrics no longer apply (a pull request changing the metric set).
            "champion": {"tolerance": NUMBER, "metrics": [STRING], "when_missing": STRING, "not_comparable": STRING},
        },
    },
    # `engine`: where `modelrail drift` counts the current data, pandas (default; streamed) or spark.
    "drift": {
        **DRIFT_LIMITS,
        "bins": NUMBER,
        "exclude": [STRING],
        "columns": {ANY_KEY: DRIFT_LIMITS},
        "engine": STRING,
    },
    # The Spark engine: `master` (default local[*]) and any Spark properties, as strings.
    "spark": {"master": STRING, "conf": {ANY_KEY: STRING}},
    # `modelrail promote`'s drift gate: training data (paths.train_data) vs each environment's reference data.
    "promotion": {"reference_data": {ANY_KEY: STRING}},
    # The contract with the model repo's pipeline (layout.py): where it writes what the commands read.
    "paths": dict.fromkeys(PATHS, STRING),
    "stages": dict.fromkeys(STAGES, STRING),
}
# Keys that moved: the error for the old one says where to.
MOVED = {"promotion.training_data": "paths.train_data"}
REQUIRED = ("environments",)
# The template's gate stages (raw_gate, feature_gate, model_gate in dvc.yaml) and the records they write.
DEFAULT_REQUIRED_GATES = ("raw", "features", "model")
GATE_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
DEVELOPMENT_BRANCHES = ("main", "master")
ENVIRONMENT_NAME = re.compile(r"[a-z][a-z0-9-]*")


@functools.cache
def _strict_loader():
    """PyYAML's SafeLoader without anchors and aliases (a 500-byte alias bomb expands to gigabytes) and without
    duplicate keys (YAML silently keeps the later one, so a reviewer could read one value and the gate use another).
    """
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise yaml.constructor.ConstructorError(
                    None, None, "anchors and aliases (&name, *name) are not allowed", event.start_mark
                )
            return super().compose_node(parent, index)

        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                if key is not None and key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {_excerpt(key)}", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep)

    return StrictLoader


def parse_yaml(data: bytes, where: Path | str):
    """One YAML document, strictly (see _strict_loader); a ConfigError names the file and the line."""
    import yaml

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 text (byte {exc.start})") from None
    try:
        return yaml.load(text, Loader=_strict_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())[:200]
        raise ConfigError(f"{where}: not valid YAML{at}: {problem}") from None
    except (ValueError, RecursionError) as exc:  # a 4300+ digit integer, or nesting deeper than Python's stack
        raise ConfigError(f"{where}: not valid YAML: {' '.join(str(exc).split())[:120]}") from None


def load_config(path: Path) -> dict:
    """Parse and validate modelrail.yaml; every ConfigError names the file and the key."""
    raw = read_regular(path, missing="no such file (every model repo has a modelrail.yaml at its root)")
    data = parse_yaml(raw, path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping of keys (see the modelrail.yaml reference)")
    _check(path, data, SCHEMA, "")
    check_contract(path, data)
    for key in REQUIRED:
        if key not in data:
            raise ConfigError(f"{path}: key '{key}' is required")
    _check_environments(path, data["environments"])
    for metric, bounds in data.get("gates", {}).get("model", {}).get("thresholds", {}).items():
        where = f"{path}: key 'gates.model.thresholds.{metric}'"
        if not bounds:
            raise ConfigError(f"{where} has neither min nor max, so it can never fail (fix: give a bound)")
        if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
            raise ConfigError(f"{where}: min is greater than max")
    _check_champion(path, data.get("gates", {}).get("model", {}).get("champion", {}))
    if "required" in data.get("gates", {}):
        _check_required_gates(path, data["gates"]["required"], layout_of(data, path))
    drift = data.get("drift", {})
    _check_drift(path, drift)
    for key, section in (("gates.data.engine", data.get("gates", {}).get("data", {})), ("drift.engine", drift)):
        engine = section.get("engine", ENGINES[0])
        if engine not in ENGINES:
            raise ConfigError(f"{path}: key '{key}' must be one of {', '.join(ENGINES)}, got {engine!r}")
    for name in data.get("promotion", {}).get("reference_data", {}):
        if name not in data["environments"]:
            raise ConfigError(f"{path}: key 'promotion.reference_data.{name}': '{name}' is not an environment")
    return data


def _check(path: Path, value, schema, where: str) -> None:
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: key '{where}' must be a mapping, got {_kind(value)}")
        for key, item in value.items():
            key_path = f"{where}.{_short(key)}" if where else _short(key)
            if ANY_KEY in schema:
                _check(path, item, schema[ANY_KEY], key_path)
            elif key in schema:
                _check(path, item, schema[key], key_path)
            elif key_path in MOVED:
                raise ConfigError(f"{path}: key '{key_path}' has moved to '{MOVED[key_path]}'")
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
        if not _finite(value):
            raise ConfigError(f"{path}: key '{where}' must be a finite number, got {_kind(value)}")
    elif schema == STRING and not isinstance(value, str):
        raise ConfigError(f"{path}: key '{where}' must be a string, got {_kind(value)}")


def _check_environments(path: Path, environments: list[str]) -> None:
    if not environments:
        raise ConfigError(f"{path}: key 'environments' must name at least one environment")
    for name in environments:
        if not ENVIRONMENT_NAME.fullmatch(name):
            raise ConfigError(
                f"{path}: key 'environments': {_excerpt(name)} is not a valid branch name ([a-z][a-z0-9-]*)"
            )
        if name in DEVELOPMENT_BRANCHES:
            raise ConfigError(f"{path}: key 'environments': '{name}' is the development branch, not an environment")
        if environments.count(name) > 1:
            raise ConfigError(f"{path}: key 'environments': '{name}' is listed twice")


def _check_required_gates(path: Path, names: list[str], layout: Layout) -> None:
    """Each required gate is a gate record that dvc.yaml (beside modelrail.yaml) writes: <paths.gates>/<name>.json."""
    if not names:
        raise ConfigError(f"{path}: key 'gates.required' must name at least one gate (e.g. raw, features, model)")
    for name in names:
        if not GATE_NAME.match(name) or names.count(name) > 1:
            problem = "is listed twice" if names.count(name) > 1 else "is not a gate name ([a-z][a-z0-9_-]*)"
            raise ConfigError(f"{path}: key 'gates.required': '{name}' {problem}")
    pipeline = path.parent / "dvc.yaml"
    if not pipeline.is_file():
        return
    written = _gate_records_of(pipeline, layout)
    for name in names:
        if name not in written:
            raise ConfigError(
                f"{path}: key 'gates.required': unknown gate '{name}': no stage of {pipeline} writes "
                f"{layout.gate_record(name)} (gates there: {', '.join(sorted(written)) or 'none'}; fix: restore its "
                "stage, correct the name, or set paths.gates to the folder the gate stages write to)"
            )


def _gate_records_of(pipeline: Path, layout: Layout) -> set[str]:
    """Names of the gate records (<paths.gates>/<name>.json) that the stages of a dvc.yaml write."""
    import yaml

    try:
        stages = (yaml.safe_load(pipeline.read_text(encoding="utf-8")) or {}).get("stages") or {}
    except (yaml.YAMLError, AttributeError):
        raise ConfigError(f"{pipeline}: not a valid dvc.yaml (a mapping with 'stages')") from None
    names = set()
    for stage in stages.values():
        outs = stage.get("outs") if isinstance(stage, dict) else None
        for out in outs or []:
            out_path = next(iter(out)) if isinstance(out, dict) else str(out)
            if layout.is_gate_record(out_path):
                names.add(Path(out_path).stem)
    return names


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
            f"got {_excerpt(champion['when_missing'])}"
        )


def _finite(value: float) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer too large for a float
        return False


def _excerpt(value, limit: int = 40) -> str:
    """repr of a value, cut short: an error message must not repeat a huge value."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _short(key, limit: int = 40) -> str:
    text = str(key)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kind(value) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, (dict, list)):
        return f"a {type(value).__name__}"
    return f"{type(value).__name__} {_excerpt(value)}"
