"""Stage `train`: fit the classifier, save it as an MLflow model and record the run in MLflow."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from . import config

# skops only loads types it is told to trust; MLflow's sklearn flavor refuses tree models without these.
SKOPS_TRUSTED_TYPES = [
    "sklearn.tree._tree.Tree",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "numpy.dtype",
]
# What the saved model needs to load; pinned to the versions it was trained with. Listing them saves MLflow
# from inferring them, which imports the model in a subprocess and takes seconds.
MODEL_REQUIREMENTS = ("mlflow", "scikit-learn", "skops", "numpy", "scipy", "pandas")


def features_and_target(frame):
    """Split a frame into the feature columns and the target column."""
    return frame.drop(columns=[config.TARGET]), frame[config.TARGET]


def fit(frame, params: dict[str, Any]):
    """Fit a RandomForestClassifier with params.yaml's `train` section; return the fitted model."""
    from sklearn.ensemble import RandomForestClassifier

    features, target = features_and_target(frame)
    model = RandomForestClassifier(
        n_estimators=int(params["n_estimators"]),
        max_depth=None if params.get("max_depth") is None else int(params["max_depth"]),
        random_state=int(params["seed"]),
        n_jobs=1,
    )
    return model.fit(features, target)


def training_metrics(model, frame) -> dict[str, float]:
    """Metrics on the training data; a large gap to the test metrics points at over-fitting."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    features, target = features_and_target(frame)
    predicted = model.predict(features)
    return {
        "train_accuracy": float(accuracy_score(target, predicted)),
        "train_f1": float(f1_score(target, predicted)),
        "train_roc_auc": float(roc_auc_score(target, model.predict_proba(features)[:, 1])),
    }


def md5(file: Path) -> str:
    """Content hash of a data file, tagged on the run so it can be traced back to its data."""
    digest = hashlib.md5()
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_sha(root: Path) -> str:
    """The commit the code was run from, or "unknown" outside a git checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=False
        )
    except OSError:
        return "unknown"
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def ensure_experiment(name: str, uri: str, root: Path) -> str:
    """Return the experiment id, creating it if needed.

    For a local store (sqlite or file) artifacts go to mlartifacts/ in the repository rather than wherever the
    process happens to run; a tracking server decides its own artifact location.
    """
    import mlflow

    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    if uri.startswith(("sqlite:", "file:")):
        location = config.path(config.ARTIFACTS_DIR, root).resolve().as_uri()
        return mlflow.create_experiment(name, artifact_location=location)
    return mlflow.create_experiment(name)


def model_requirements() -> list[str]:
    """Pip requirements of the saved model, pinned to the installed versions."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in MODEL_REQUIREMENTS]


def model_options(model, sample) -> dict[str, Any]:
    """Options shared by the saved and the logged model, so both are the same artifact."""
    from mlflow.models import infer_signature

    return {
        "serialization_format": "skops",
        "skops_trusted_types": SKOPS_TRUSTED_TYPES,
        "pip_requirements": model_requirements(),
        "signature": infer_signature(sample, model.predict(sample)),
        "input_example": sample,
    }


def save_model(model, sample, model_dir: Path) -> None:
    """Save the model as an MLflow model directory (skops, not pickle), replacing any previous one."""
    import mlflow.sklearn

    if model_dir.exists():
        shutil.rmtree(model_dir)
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    mlflow.sklearn.save_model(model, str(model_dir), **model_options(model, sample))


def run(root: Path | None = None) -> str:
    """Train, save models/model, log the run to MLflow and write models/run.json; return the run id."""
    import mlflow
    import mlflow.sklearn
    import pandas as pd

    root = root or config.REPO_ROOT
    params = config.load_params("train", root)
    train_file = config.path(config.TRAIN_DATA, root)
    frame = pd.read_csv(train_file)
    model = fit(frame, params)
    features, _ = features_and_target(frame)
    sample = features.head(5)
    save_model(model, sample, config.path(config.MODEL_DIR, root))

    uri = config.tracking_uri(root)
    mlflow.set_tracking_uri(uri)
    experiment_id = ensure_experiment(config.experiment_name(root), uri, root)
    tags = {
        "git_sha": git_sha(root),
        "data.raw.md5": md5(config.path(config.RAW_DATA, root)),
        "data.train.md5": md5(train_file),
        "data.test.md5": md5(config.path(config.TEST_DATA, root)),
    }
    with mlflow.start_run(experiment_id=experiment_id, tags=tags) as active:
        mlflow.log_params({f"train.{key}": value for key, value in params.items()})
        prepare_params = config.load_params("prepare", root)
        mlflow.log_params({f"prepare.{key}": value for key, value in prepare_params.items()})
        mlflow.log_metrics(training_metrics(model, frame))
        # Logged, not registered: a pull request only reads the registry. `modelrail register` makes the
        # version of modelrail.yaml's registered_model from this run on main (the publish workflow).
        mlflow.sklearn.log_model(model, name="model", **model_options(model, sample))
        run_id = active.info.run_id

    record = config.path(config.RUN_RECORD, root)
    record.parent.mkdir(parents=True, exist_ok=True)
    registered = config.registered_model(root)
    written = {"run_id": run_id, "experiment_id": experiment_id, "registered_model": registered}
    record.write_text(json.dumps(written, indent=2) + "\n", encoding="utf-8")
    return run_id


def main() -> int:
    run_id = run()
    print(f"MLflow run {run_id}; model saved to {config.MODEL_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
