"""The stages end to end on a small copy of the repository, with a throw-away sqlite MLflow store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from {{ cookiecutter.package_name }} import config, evaluate, prepare, train

REPO_ROOT = Path(__file__).resolve().parents[1]


def make_root(tmp_path, sample_frame):
    root = tmp_path / "repo"
    (root / "data" / "raw").mkdir(parents=True)
    sample_frame.to_csv(root / "data" / "raw" / "breast_cancer.csv", index=False)
    shutil.copy(REPO_ROOT / "modelrail.yaml", root / "modelrail.yaml")
    params = {
        "prepare": {"test_size": 0.25, "seed": 0},
        "train": {"n_estimators": 10, "max_depth": 3, "seed": 0},
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    return root


def test_prepare_train_evaluate(tmp_path, sample_frame):
    import mlflow

    root = make_root(tmp_path, sample_frame)

    prepare.run(root)
    run_id = train.run(root)
    metrics = evaluate.run(root)

    assert json.loads((root / "models" / "run.json").read_text())["run_id"] == run_id
    assert (root / "models" / "model" / "MLmodel").is_file()
    assert set(json.loads((root / "metrics" / "metrics.json").read_text())) == set(metrics)
    assert (root / "plots" / "roc.csv").read_text().startswith("fpr,tpr")
    assert (root / "plots" / "confusion.csv").read_text().startswith("actual,predicted")

    mlflow.set_tracking_uri(config.tracking_uri(root))
    logged = mlflow.get_run(run_id)
    assert logged.data.params["train.n_estimators"] == "10"
    assert logged.data.tags["git_sha"] == "unknown"
    assert logged.data.tags["data.raw.md5"] == train.md5(root / "data" / "raw" / "breast_cancer.csv")
    assert logged.data.metrics["test_accuracy"] == metrics["accuracy"]
    assert "train_accuracy" in logged.data.metrics
