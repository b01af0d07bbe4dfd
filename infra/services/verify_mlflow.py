"""Smoke check of a running MLflow tracking server: log a run with an artifact and a model, register a model
version, set and resolve an alias. Uses MLFLOW_TRACKING_URI. Exit 0 on success.

    MLFLOW_TRACKING_URI=http://127.0.0.1:5055 python infra/services/verify_mlflow.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid

import mlflow
from mlflow import MlflowClient


class _Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


def main() -> int:
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri or not uri.startswith("http"):
        print("set MLFLOW_TRACKING_URI to the server's http URL", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    suffix = uuid.uuid4().hex[:8]
    mlflow.set_experiment(f"modelrail-smoke-{suffix}")
    with mlflow.start_run() as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_metric("auc", 0.91)
        mlflow.set_tag("modelrail.artifact_id", f"sha256:{suffix}")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "report.txt")
            with open(path, "w") as fh:
                fh.write("ok\n")
            mlflow.log_artifact(path)
        info = mlflow.pyfunc.log_model(name="model", python_model=_Echo(), pip_requirements=["mlflow"])
    name = f"modelrail-smoke-{suffix}"
    mv = mlflow.register_model(info.model_uri, name, tags={"modelrail.artifact_id": f"sha256:{suffix}"})
    client = MlflowClient()
    client.set_registered_model_alias(name, "staging", mv.version)
    got = client.get_model_version_by_alias(name, "staging")
    assert got.version == mv.version, (got.version, mv.version)
    assert got.tags.get("modelrail.artifact_id") == f"sha256:{suffix}"
    arts = [a.path for a in client.list_artifacts(run.info.run_id)]
    assert "report.txt" in arts, arts
    local = mlflow.artifacts.download_artifacts(f"models:/{name}@staging")
    assert os.path.exists(os.path.join(local, "MLmodel")), local
    print(
        f"ok: run {run.info.run_id}, artifact_uri {run.info.artifact_uri}, model {name} v{mv.version} "
        f"@staging, {time.perf_counter() - t0:.1f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
