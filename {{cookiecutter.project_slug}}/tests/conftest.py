"""Shared fixtures: a small slice of the sample data and an isolated MLflow store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import config

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def target() -> str:
    """The label column, as params.yaml names it."""
    return config.data(REPO_ROOT)["target"]


@pytest.fixture(scope="session")
def task() -> str:
    return config.task(REPO_ROOT)


@pytest.fixture(scope="session")
def sample_frame(target, task) -> pd.DataFrame:
    """120 rows of the sample data (every class present, for a classifier), so tests stay fast."""
    frame = pd.read_csv(REPO_ROOT / config.data(REPO_ROOT)["raw"])
    if task == "regression":
        return frame.head(120).reset_index(drop=True)
    classes = sorted(frame[target].unique())
    parts = [frame[frame[target] == label].head(120 // len(classes)) for label in classes]
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(autouse=True)
def isolated_mlflow(tmp_path, monkeypatch):
    """Never touch the repository's mlflow.db: every test gets its own sqlite store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
