"""Paths and settings shared by the pipeline stages, read from params.yaml and modelrail.yaml."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# src/<package>/config.py -> the repository root; MODEL_REPO_ROOT overrides it for a non-editable install.
REPO_ROOT = Path(os.environ.get("MODEL_REPO_ROOT") or Path(__file__).resolve().parents[2])

# Where the modelrail commands look for what the stages write; the data's paths are in params.yaml (`data`).
MODEL_DIR = Path("models/model")
RUN_RECORD = Path("models/run.json")
METRICS = Path("metrics/metrics.json")
PLOTS_DIR = Path("plots")
ARTIFACTS_DIR = Path("mlartifacts")
TASKS = ("binary-classification", "multiclass-classification", "regression")
DATA_KEYS = ("raw", "target", "train", "test")


def path(relative: Path | str, root: Path | None = None) -> Path:
    """Resolve a repository-relative path, so stages work from any working directory."""
    return (root or REPO_ROOT) / relative


def _load_yaml(file: Path) -> dict[str, Any]:
    import yaml

    with file.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{file}: expected a mapping at the top level")
    return data


def load_params(section: str, root: Path | None = None) -> dict[str, Any]:
    """One section of params.yaml (`data`, `prepare`, `train`); a missing one is an error naming the file."""
    file = path("params.yaml", root)
    params = _load_yaml(file)
    if not isinstance(params.get(section), dict):
        raise KeyError(f"{file}: missing section {section!r}")
    return params[section]


def data(root: Path | None = None) -> dict[str, str]:
    """params.yaml's `data` section: the raw, train and test files and the label column's name."""
    file = path("params.yaml", root)
    section = load_params("data", root)
    for key in DATA_KEYS:
        if not isinstance(section.get(key), str) or not section[key]:
            raise KeyError(f"{file}: key 'data.{key}' must be a non-empty string")
    return section


def task(root: Path | None = None) -> str:
    """params.yaml's `task`: what the model predicts, which picks the metrics, plots and split."""
    file = path("params.yaml", root)
    value = _load_yaml(file).get("task")
    if value not in TASKS:
        raise KeyError(f"{file}: key 'task' must be one of {', '.join(TASKS)}, got {value!r}")
    return value


def is_classifier(root: Path | None = None) -> bool:
    return task(root) != "regression"


def load_settings(root: Path | None = None) -> dict[str, Any]:
    """The whole of modelrail.yaml, validated the way the gates validate it (a bad key names itself)."""
    from modelrail.config import load_config

    return load_config(path("modelrail.yaml", root))


def tracking_uri(root: Path | None = None) -> str:
    """MLFLOW_TRACKING_URI if set, else modelrail.yaml's (relative sqlite paths start at the repo root)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or load_settings(root)["mlflow"]["tracking_uri"]
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/") and uri != prefix + ":memory:":
        return prefix + str(path(uri[len(prefix) :], root).resolve())
    return uri


def experiment_name(root: Path | None = None) -> str:
    """The MLflow experiment that every run of this repository goes to."""
    return load_settings(root)["mlflow"]["experiment"]


def registered_model(root: Path | None = None) -> str | None:
    """The MLflow registered model every trained version is added to (none: versions are not registered)."""
    return load_settings(root)["mlflow"].get("registered_model") or None


def main(argv: list[str] | None = None) -> int:
    """Print one `data` entry (`python -m <package>.config raw`): the Makefile reads params.yaml this way."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in DATA_KEYS:
        print(f"usage: python -m {__package__}.config {'|'.join(DATA_KEYS)}", file=sys.stderr)
        return 2
    print(data()[args[0]])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
