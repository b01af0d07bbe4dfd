"""Stage `evaluate`: score the saved model on the test set, write metrics and plots, log them to the run.

What is measured follows params.yaml's `task`; modelrail.yaml's thresholds and champion metrics use these
names.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import config

# Macro averages for several classes: every class counts the same, however rare.
MACRO = {"average": "macro", "zero_division": 0}


def compute_metrics(actual, predicted, probability, task: str) -> dict[str, float]:
    """Test metrics the model gate checks against modelrail.yaml's thresholds.

    `probability` is the model's predict_proba output (one column per class); regression has none (None).
    """
    from sklearn import metrics

    if task == "regression":
        return {
            "rmse": float(metrics.root_mean_squared_error(actual, predicted)),
            "mae": float(metrics.mean_absolute_error(actual, predicted)),
            "r2": float(metrics.r2_score(actual, predicted)),
        }
    if task == "binary-classification":
        return {
            "accuracy": float(metrics.accuracy_score(actual, predicted)),
            "precision": float(metrics.precision_score(actual, predicted, zero_division=0)),
            "recall": float(metrics.recall_score(actual, predicted, zero_division=0)),
            "f1": float(metrics.f1_score(actual, predicted, zero_division=0)),
            "roc_auc": float(metrics.roc_auc_score(actual, probability[:, 1])),
        }
    return {
        "accuracy": float(metrics.accuracy_score(actual, predicted)),
        "precision_macro": float(metrics.precision_score(actual, predicted, **MACRO)),
        "recall_macro": float(metrics.recall_score(actual, predicted, **MACRO)),
        "f1_macro": float(metrics.f1_score(actual, predicted, **MACRO)),
        "roc_auc_ovr": float(metrics.roc_auc_score(actual, probability, multi_class="ovr", average="macro")),
    }


def score(model, features, actual, task: str) -> dict[str, float]:
    """compute_metrics() for a fitted model on one data set."""
    probability = None if task == "regression" else model.predict_proba(features)
    return compute_metrics(actual, model.predict(features), probability, task)


def _one_vs_rest(actual, probability, classes):
    """Labels and scores flattened over the classes (micro-average): one curve covers several classes."""
    from sklearn.preprocessing import label_binarize

    if probability.shape[1] == 2:
        return [int(label == classes[1]) for label in actual], probability[:, 1]
    return label_binarize(actual, classes=classes).ravel(), probability.ravel()


def roc_points(actual, probability, classes):
    """The ROC curve (micro-averaged over classes) as a frame with columns fpr, tpr."""
    import pandas as pd
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(*_one_vs_rest(actual, probability, classes))
    return pd.DataFrame({"fpr": fpr.round(6), "tpr": tpr.round(6)})


def precision_recall_points(actual, probability, classes):
    """The precision-recall curve (micro-averaged) as a frame with columns recall, precision."""
    import pandas as pd
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(*_one_vs_rest(actual, probability, classes))
    return pd.DataFrame({"recall": recall.round(6), "precision": precision.round(6)})


def confusion_rows(actual, predicted):
    """One row per test example with columns actual, predicted (the `confusion` DVC plot template)."""
    import pandas as pd

    return pd.DataFrame({"actual": list(actual), "predicted": list(predicted)})


def regression_rows(actual, predicted):
    """Predicted against actual, and residual (actual - predicted) against predicted; a row per example."""
    import pandas as pd

    actual, predicted = pd.Series(list(actual), dtype=float), pd.Series(list(predicted), dtype=float).round(6)
    residual = (actual - predicted).round(6)
    return pd.DataFrame({"actual": actual, "predicted": predicted}), pd.DataFrame(
        {"predicted": predicted, "residual": residual}
    )


def plots(model, features, actual, predicted, task: str) -> dict[str, object]:
    """File name under plots/ -> frame, for the task's plots (dvc.yaml says how each is drawn)."""
    if task == "regression":
        versus, residuals = regression_rows(actual, predicted)
        return {"predicted.csv": versus, "residuals.csv": residuals}
    probability = model.predict_proba(features)
    return {
        "roc.csv": roc_points(actual, probability, list(model.classes_)),
        "precision_recall.csv": precision_recall_points(actual, probability, list(model.classes_)),
        "confusion.csv": confusion_rows(actual, predicted),
    }


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
    task, data = config.task(root), config.data(root)
    model = load_model(config.path(config.MODEL_DIR, root))
    features, actual = features_and_target(pd.read_csv(config.path(data["test"], root)), data["target"])
    predicted = model.predict(features)
    metrics = score(model, features, actual, task)

    metrics_file = config.path(config.METRICS, root)
    metrics_file.parent.mkdir(parents=True, exist_ok=True)
    metrics_file.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for name, frame in plots(model, features, actual, predicted, task).items():
        out = config.path(config.PLOTS_DIR / name, root)
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
