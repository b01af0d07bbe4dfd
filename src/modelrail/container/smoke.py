"""`modelrail containerize smoke`: start the image with no network, check its answers, record the verdict.

The container runs with `network_mode="none"`: it has only its own loopback. The requests are sent from inside it
(`docker exec` of a stdlib-only client), so nothing else can reach the server and the server can reach nothing.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from modelrail.container import engine as docker_engine
from modelrail.container.probes import exchange, refused, requests_for
from modelrail.errors import ConfigError
from modelrail.files import digests, parse_json, read_regular
from modelrail.gates.records import Check, GateResult, publish

TOOLS = ("docker", "mlflow", "great_expectations", "pandas")
GATE = "container"
POLL_SECONDS = 0.5


def signature_inputs(model_dir: Path) -> list[str]:
    """The input column names of the model's signature (MLmodel); the sample must have them."""
    import yaml

    path = model_dir / "MLmodel"
    raw = read_regular(path, missing=f"no such file (is {model_dir} an MLflow model directory?)")
    try:
        meta = yaml.safe_load(raw.decode("utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError, ValueError, RecursionError):
        raise ConfigError(f"{path}: not a valid MLmodel file (YAML)") from None
    signature = meta.get("signature") if isinstance(meta, dict) else None
    inputs = signature.get("inputs") if isinstance(signature, dict) else None
    if not inputs:
        raise ConfigError(f"{path}: the model has no input signature, so the server cannot enforce one")
    columns = parse_json(inputs.encode("utf-8") if isinstance(inputs, str) else b"", f"{path}: signature.inputs")
    if not isinstance(columns, list) or not all(isinstance(column, dict) for column in columns):
        raise ConfigError(f"{path}: signature.inputs must be a JSON list of columns")
    names = [column.get("name") for column in columns]
    if not all(names):
        raise ConfigError(f"{path}: the signature's inputs are not named columns")
    return names


def golden_sample(path: Path, columns: list[str], rows: int):
    """The first `rows` rows of the sample file, with exactly the signature's columns in its order."""
    from modelrail.data_files import load_table

    frame = load_table(path).frame
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise ConfigError(f"{path}: missing column(s) the model needs: {', '.join(missing)}")
    if frame.empty:
        raise ConfigError(f"{path}: no rows to use as a golden sample")
    return frame[columns].head(rows)


def as_frame(predictions):
    """Predictions (server JSON or in-process output) as a DataFrame with a `prediction` column per output."""
    import pandas as pd

    if isinstance(predictions, dict) and "predictions" in predictions:
        predictions = predictions["predictions"]
    if isinstance(predictions, pd.DataFrame):
        return predictions.reset_index(drop=True)
    if isinstance(predictions, dict):
        return pd.DataFrame(predictions)
    values = list(predictions.tolist() if hasattr(predictions, "tolist") else predictions)
    if values and isinstance(values[0], dict):
        return pd.DataFrame(values)
    return pd.DataFrame({"prediction": values})


def compare(served, expected, tolerance: float) -> Check:
    """The image's predictions equal the in-process model's, number by number within `tolerance`."""
    import numpy as np

    name = "predictions match the in-process model"
    if list(served.columns) != list(expected.columns) or len(served) != len(expected):
        return Check(
            name,
            False,
            f"the image answered {len(served)} rows x {list(served.columns)}, "
            f"the in-process model {len(expected)} rows x {list(expected.columns)}",
        )
    for column in expected.columns:
        left, right = served[column].to_numpy(), expected[column].to_numpy()
        numeric = np.issubdtype(left.dtype, np.number) and np.issubdtype(right.dtype, np.number)
        same = np.isclose(left, right, rtol=0, atol=tolerance) if numeric else left == right
        if not same.all():
            row = int(np.argmin(same))
            return Check(
                name,
                False,
                f"{int((~same).sum())} of {len(same)} predictions differ, e.g. row {row}: the image answered "
                f"{_scalar(left[row])!r}, the in-process model {_scalar(right[row])!r} (tolerance {tolerance})",
                column=str(column),
            )
    return Check(name, True, f"{len(expected)} rows equal within {tolerance}", details={"rows": len(expected)})


def _scalar(value):
    return value.item() if hasattr(value, "item") else value


def wait_healthy(container, timeout: float) -> Check:
    """Poll the engine's health status of the container (the image's own HEALTHCHECK) until healthy."""
    start = time.monotonic()
    while True:
        container.reload()
        state = container.attrs["State"]
        health = (state.get("Health") or {}).get("Status")
        waited = time.monotonic() - start
        if state.get("Status") in ("exited", "dead"):
            return Check(
                "healthy",
                False,
                f"the container exited with code {state.get('ExitCode')} before it was healthy: {_logs(container)}",
            )
        if health is None:
            return Check("healthy", False, "the image declares no HEALTHCHECK (fix: add one to the Dockerfile)")
        if health == "healthy":
            return Check("healthy", True, f"healthy after {waited:.1f}s", details={"seconds": round(waited, 2)})
        if health == "unhealthy" or waited > timeout:
            return Check("healthy", False, f"not healthy after {waited:.0f}s ({health}): {_logs(container)}")
        time.sleep(POLL_SECONDS)


def _logs(container, lines: int = 15) -> str:
    try:
        text = container.logs(tail=lines).decode(errors="replace").strip()
    except Exception:  # the container may already be gone; the logs are only a hint
        return "(no logs)"
    return text.replace("\n", " | ")[-1500:] or "(no output)"


def _require_dvc_content(*paths: Path) -> None:
    """The reference model and golden sample, where dvc.lock tracks them, must be dvc.lock's bytes."""
    from modelrail.trust import integrity

    repo = Path(".")
    if not (repo / "dvc.lock").is_file():
        return
    integrity.require_outputs_match_lock(repo, [path.as_posix() for path in paths], only_tracked=True)


def run(
    image: str,
    model_dir: Path,
    sample: Path,
    suite_path: Path,
    record_path: Path,
    summary_path: Path,
    predictions_path: Path,
    rows: int = 50,
    tolerance: float = 1e-6,
    timeout: float = 120.0,
) -> GateResult:
    """Start the image, wait for health, check golden predictions and malformed requests; publish the record."""
    from modelrail.gates.suites import load_suite

    _require_dvc_content(model_dir, sample)
    suite = load_suite(suite_path)
    frame = golden_sample(sample, signature_inputs(model_dir), rows)
    expected = as_frame(_predict_in_process(model_dir, frame))
    client = docker_engine.connect()
    built = docker_engine.get_image(client, image)
    inputs = {
        "image": {"reference": image, "id": built.id, "tags": built.tags, "labels": built.labels or {}},
        "sample": {"path": str(sample), "rows": len(frame), **digests(sample.read_bytes())},
        "suite": {"path": str(suite_path), **suite.digests},
        "model": {"path": str(model_dir)},
    }
    requests = requests_for(frame)
    checks: list[Check] = []
    container = client.containers.run(
        built.id,
        detach=True,
        name=f"modelrail-smoke-{uuid.uuid4().hex[:12]}",
        network_mode="none",
        # Inherit the image's HEALTHCHECK command, probe it often: the gate should not wait out the interval.
        healthcheck={"interval": int(POLL_SECONDS * 1e9)},
        labels={"io.modelrail.smoke": "true"},
        # As deploy/base/deployment.yaml runs it: a read-only root file system with an emptyDir at /tmp.
        read_only=True,
        tmpfs={"/tmp": "size=64m"},
    )
    try:
        health = wait_healthy(container, timeout)
        checks.append(health)
        if health.success:
            checks.extend(_check_answers(container, requests, expected, tolerance, predictions_path, suite))
    finally:
        container.remove(force=True, v=True)
    result = GateResult(
        gate=GATE,
        checks=checks,
        inputs=inputs,
        record_path=record_path,
        summary_path=summary_path,
        tools=TOOLS,
    )
    publish(result)
    return result


def _check_answers(container, requests, expected, tolerance, predictions_path, suite) -> list[Check]:
    from modelrail.data_files import load_table
    from modelrail.gates.data import check_table

    answers = exchange(container, requests)
    checks: list[Check] = []
    golden = answers["golden"]
    if golden.get("status") != 200:
        checks.append(
            Check(
                "answers the golden sample",
                False,
                f"answered {golden.get('status')} to the golden sample: {golden.get('body', '')[:300]}",
            )
        )
    else:
        served = as_frame(json.loads(golden["body"]))
        checks.append(compare(served, expected, tolerance))
        predictions_path.parent.mkdir(parents=True, exist_ok=True)
        served.to_csv(predictions_path, index=False, lineterminator="\n")
        for check in check_table(load_table(predictions_path), suite):
            check.name = f"predictions: {check.name}"
            checks.append(check)
    for request in requests:
        if request.name not in ("golden", "health-after"):
            checks.append(refused(request, answers[request.name]))
    container.reload()
    after = answers["health-after"]
    alive = container.attrs["State"].get("Status") == "running" and after.get("status") == 200
    message = (
        "still running and answering /ping"
        if alive
        else f"the server is down after the malformed requests (/ping: {after.get('status')}): {_logs(container)}"
    )
    checks.append(Check("survives malformed requests", alive, message))
    return checks


def _predict_in_process(model_dir: Path, frame):
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(str(model_dir)).predict(frame)
