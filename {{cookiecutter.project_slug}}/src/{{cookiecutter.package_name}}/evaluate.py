"""Stage `evaluate`: score the saved model on the test set, write metrics and plots, log them to the run."""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import config


def compute_metrics(actual, predicted, probability) -> dict[str, float]:
    """Test metrics the model gate checks against modelrail.yaml's thresholds."""
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

    return {
        "accuracy": float(accuracy_score(actual, predicted)),
        "precision": float(precision_score(actual, predicted, zero_division=0)),
        "recall": float(recall_score(actual, predicted, zero_division=0)),
        "f1": float(f1_score(actual, predicted, zero_division=0)),
        "roc_auc": float(roc_auc_score(actual, probability)),
    }


def roc_points(actual, probability):
    """The ROC curve as a frame with columns fpr, tpr (the `simple` DVC plot template)."""
    import pandas as pd
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(actual, probability)
    return pd.DataFrame({"fpr": fpr.round(6), "tpr": tpr.round(6)})


def confusion_rows(actual, predicted):
    """One row per test example with columns actual, predicted (the `confusion` DVC plot template)."""
    import pandas as pd

    return pd.DataFrame({"actual": list(actual), "predicted": list(predicted)})


def load_model(model_dir: Path):
    """Load the MLflow model directory written by the train stage."""
    import mlflow.sklearn

    return mlflow.sklearn.load_model(str(model_dir))


def log_to_run(run_id: str, metrics: dict[str, float], root: Path) -> None:
    """Add the test metrics to the training run, so the run holds everything about this model."""
    import mlflow

    mlflow.set_tracking_uri(config.tracking_uri(root))
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics({f"test_{name}": value for name, value in metrics.items()})


def run(root: Path | None = None) -> dict[str, float]:
    """Score models/model on the test set; write metrics/metrics.json and plots/*.csv; return the metrics."""
    import pandas as pd

    from .train import features_and_target

    root = root or config.REPO_ROOT
    model = load_model(config.path(config.MODEL_DIR, root))
    features, actual = features_and_target(pd.read_csv(config.path(config.TEST_DATA, root)))
    predicted = model.predict(features)
    probability = model.predict_proba(features)[:, 1]
    metrics = compute_metrics(actual, predicted, probability)

    metrics_file = config.path(config.METRICS, root)
    metrics_file.parent.mkdir(parents=True, exist_ok=True)
    metrics_file.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for frame, relative in (
        (roc_points(actual, probability), config.ROC_PLOT),
        (confusion_rows(actual, predicted), config.CONFUSION_PLOT),
    ):
        out = config.path(relative, root)
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(out, index=False, lineterminator="\n")

    # `modelrail verify` re-runs this stage to recompute the metrics, not to log them to the run again.
    if not os.environ.get("MODELRAIL_REDERIVE"):
        run_id = json.loads(config.path(config.RUN_RECORD, root).read_text(encoding="utf-8"))["run_id"]
        log_to_run(run_id, metrics, root)
    return metrics


def main() -> int:
    metrics = run()
    print(json.dumps(metrics, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
