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
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["prepare"] = {"test_size": 0.25, "seed": 0}
    params["train"] = {**params["train"], "n_estimators": 10, "max_depth": 3, "seed": 0}
    raw = root / params["data"]["raw"]
    raw.parent.mkdir(parents=True)
    sample_frame.to_csv(raw, index=False)
    shutil.copy(REPO_ROOT / "modelrail.yaml", root / "modelrail.yaml")
    (root / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    return root, raw


def test_prepare_train_evaluate(tmp_path, sample_frame, task):
    import mlflow

    root, raw = make_root(tmp_path, sample_frame)

    prepare.run(root)
    run_id = train.run(root)
    metrics = evaluate.run(root)

    assert json.loads((root / "models" / "run.json").read_text())["run_id"] == run_id
    assert (root / "models" / "model" / "MLmodel").is_file()
    assert set(json.loads((root / "metrics" / "metrics.json").read_text())) == set(metrics)
    # The metrics modelrail.yaml gates on are the ones this task's evaluate writes.
    thresholds = config.load_settings(root)["gates"]["model"]["thresholds"]
    assert set(thresholds) <= set(metrics)
    plots = sorted(path.name for path in (root / "plots").iterdir())
{%- if cookiecutter.task == "regression" %}
    assert plots == ["predicted.csv", "residuals.csv"]
    assert (root / "plots" / "residuals.csv").read_text().startswith("predicted,residual")
{%- else %}
    assert plots == ["confusion.csv", "precision_recall.csv", "roc.csv"]
    assert (root / "plots" / "roc.csv").read_text().startswith("fpr,tpr")
    assert (root / "plots" / "confusion.csv").read_text().startswith("actual,predicted")
{%- endif %}

    mlflow.set_tracking_uri(config.tracking_uri(root))
    logged = mlflow.get_run(run_id)
    assert logged.data.params["train.n_estimators"] == "10"
    assert logged.data.params["task"] == task
    assert logged.data.tags["git_sha"] == "unknown"
    assert logged.data.tags["data.raw.md5"] == train.md5(raw)
    first = sorted(metrics)[0]
    assert logged.data.metrics[f"test_{first}"] == metrics[first]
    assert f"train_{first}" in logged.data.metrics
