"""Stage `train`: fit model.py's estimator, save it as an MLflow model and record the run in MLflow.

Only plumbing lives here; the estimator and what saving it safely needs are in model.py.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from . import config
from . import model as model_module


def features_and_target(frame, target: str):
    """Split a frame into the feature columns and the label column `target`."""
    return frame.drop(columns=[target]), frame[target]


def fit(frame, params: dict[str, Any], target: str):
    """Fit model.py's estimator, built from params.yaml's `train` section; return the fitted model."""
    features, labels = features_and_target(frame, target)
    return model_module.build_estimator(params).fit(features, labels)


def training_metrics(model, frame, target: str, task: str) -> dict[str, float]:
    """The test metrics' counterparts on the training data; a large gap points at over-fitting."""
    from .evaluate import score

    features, labels = features_and_target(frame, target)
    return {f"train_{name}": value for name, value in score(model, features, labels, task).items()}


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

    return [f"{name}=={version(name)}" for name in model_module.PIP_REQUIREMENTS]


def model_options(model, sample) -> dict[str, Any]:
    """Options shared by the saved and the logged model, so both are the same artifact."""
    from mlflow.models import infer_signature

    return {
        "serialization_format": "skops",
        "skops_trusted_types": model_module.SKOPS_TRUSTED_TYPES,
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
    data = config.data(root)
    train_file = config.path(data["train"], root)
    frame = pd.read_csv(train_file)
    model = fit(frame, params, data["target"])
    features, _ = features_and_target(frame, data["target"])
    sample = features.head(5)
    save_model(model, sample, config.path(config.MODEL_DIR, root))

    uri = config.tracking_uri(root)
    mlflow.set_tracking_uri(uri)
    experiment_id = ensure_experiment(config.experiment_name(root), uri, root)
    tags = {
        "git_sha": git_sha(root),
        "data.raw.md5": md5(config.path(data["raw"], root)),
        "data.train.md5": md5(train_file),
        "data.test.md5": md5(config.path(data["test"], root)),
    }
    with mlflow.start_run(experiment_id=experiment_id, tags=tags) as active:
        mlflow.log_params({f"train.{key}": value for key, value in params.items()})
        prepare_params = config.load_params("prepare", root)
        mlflow.log_params({f"prepare.{key}": value for key, value in prepare_params.items()})
        mlflow.log_params({"task": config.task(root), "data.target": data["target"]})
        mlflow.log_metrics(training_metrics(model, frame, data["target"], config.task(root)))
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
