"""Paths and settings shared by the pipeline stages, read from params.yaml and modelrail.yaml."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# src/<package>/config.py -> the repository root; MODEL_REPO_ROOT overrides it for a non-editable install.
REPO_ROOT = Path(os.environ.get("MODEL_REPO_ROOT") or Path(__file__).resolve().parents[2])

TARGET = "target"
RAW_DATA = Path("data/raw/breast_cancer.csv")
TRAIN_DATA = Path("data/prepared/train.csv")
TEST_DATA = Path("data/prepared/test.csv")
MODEL_DIR = Path("models/model")
RUN_RECORD = Path("models/run.json")
METRICS = Path("metrics/metrics.json")
ROC_PLOT = Path("plots/roc.csv")
CONFUSION_PLOT = Path("plots/confusion.csv")
ARTIFACTS_DIR = Path("mlartifacts")


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
    """One section of params.yaml (`prepare` or `train`); a missing section is an error naming the file."""
    file = path("params.yaml", root)
    params = _load_yaml(file)
    if not isinstance(params.get(section), dict):
        raise KeyError(f"{file}: missing section {section!r}")
    return params[section]


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
