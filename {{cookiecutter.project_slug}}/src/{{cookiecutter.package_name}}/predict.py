"""Predict a CSV file with the saved MLflow model (usage: `python -m <package>.predict --help`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import config


def predict(model_dir: Path, frame, target: str):
    """Return `frame`'s rows with a `prediction` column added, and for a classifier a `probability` column
    (the probability of the predicted class).

    The label column `target`, if present, is ignored for prediction and kept in the output.
    """
    import mlflow.sklearn

    model = mlflow.sklearn.load_model(str(model_dir))
    features = frame.drop(columns=[target], errors="ignore")
    result = frame.copy()
    result["prediction"] = model.predict(features)
    if hasattr(model, "predict_proba"):
        result["probability"] = model.predict_proba(features).max(axis=1)
    return result


def main(argv: list[str] | None = None) -> int:
    import pandas as pd

    parser = argparse.ArgumentParser(description="Predict a CSV file with the saved model.")
    parser.add_argument("input", type=Path, help="CSV with the feature columns")
    parser.add_argument("output", type=Path, help="CSV to write, with prediction (and probability) columns")
    parser.add_argument("--model", type=Path, default=config.path(config.MODEL_DIR), help="MLflow model dir")
    args = parser.parse_args(argv)
    result = predict(args.model, pd.read_csv(args.input), config.data()["target"])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    result.to_csv(args.output, index=False, lineterminator="\n")
    print(f"wrote {len(result)} predictions to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
