"""Shared fixtures: a small slice of the sample data and an isolated MLflow store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = REPO_ROOT / "data" / "raw" / "breast_cancer.csv"


@pytest.fixture(scope="session")
def sample_frame() -> pd.DataFrame:
    """120 rows of the sample data, both classes present, so tests stay fast."""
    frame = pd.read_csv(SAMPLE)
    parts = [frame[frame.target == label].head(60) for label in (0, 1)]
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(autouse=True)
def isolated_mlflow(tmp_path, monkeypatch):
    """Never touch the repository's mlflow.db: every test gets its own sqlite store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
