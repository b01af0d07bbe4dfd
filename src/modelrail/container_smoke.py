"""`modelrail containerize smoke`: start the image with no network, check its answers, record the verdict.

The container runs with `network_mode="none"`: it has only its own loopback. The requests are sent from inside it
(`docker exec` of a stdlib-only client), so nothing else can reach the server and the server can reach nothing.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from modelrail import docker_engine
from modelrail.errors import ConfigError
from modelrail.files import digests, parse_json, read_regular
from modelrail.gate_records import Check, GateResult, publish

TOOLS = ("docker", "mlflow", "great_expectations", "pandas")
GATE = "container"
# Where the baked Dockerfile puts the serving layer (serving/modelrail_serving.py); the client asks it for the limit.
SERVING_DIR = "/opt/serving"
INVALID_JSON_MB = 50
MAX_ANSWER_BYTES = 4096
# Put into the malformed requests: an answer that contains it echoes the input back.
SENTINEL = "modelrail-probe-7f3a"
POLL_SECONDS = 0.5
# Each request's own timeout inside the container; the whole exchange is bounded by it times the cases.
REQUEST_TIMEOUT = 60

# Runs inside the container with its Python: stdlib only. Prints one JSON line per answer as it comes, so the
# answers before a crash survive the crash (which also ends this process: it lives in the same container). The cases
# come as arguments (one JSON each): the container's root file system is read-only.
_CLIENT = r"""
import http.client, json, os, sys

sys.path.insert(0, "%(serving)s")
try:
    import modelrail_serving
    limit = modelrail_serving.max_body_bytes()
except Exception:  # an image without the serving layer: probe at its default limit
    limit = 16 << 20
port = int(os.environ.get("PORT", "8080"))


def chunks(total, step=1 << 20):
    sent = 0
    while sent < total:
        yield b"x" * min(step, total - sent)
        sent += step


for case in map(json.loads, sys.argv[1:]):
    body, size = case.get("body"), case.get("size")
    if size == "over-limit":
        body = '{"dataframe_split": {"columns": ["' + "x" * (limit + 1) + '"], "data": []}}'
    elif size:
        body = "[" * size
    data = None if body is None else body.encode("utf-8")
    headers = {} if case.get("content_type") is None else {"Content-Type": case["content_type"]}
    answer = {"name": case["name"], "sent_bytes": len(data or b"")}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=%(timeout)d)
    try:
        if case.get("chunked"):
            answer["sent_bytes"] = limit + (1 << 20)
            connection.request("POST", case["path"], body=chunks(limit + (1 << 20)), headers=headers,
                               encode_chunked=True)
        else:
            connection.request("GET" if data is None else "POST", case["path"], body=data, headers=headers)
        response = connection.getresponse()
        text = response.read(1 << 20)
        answer["status"], answer["received_bytes"] = response.status, len(text)
    except Exception as exc:
        answer["status"], text = None, repr(exc).encode()
    finally:
        connection.close()
    answer["body"] = text.decode("utf-8", "replace")[: case.get("keep", 2000)]
    print(json.dumps(answer), flush=True)
""".replace("%(timeout)d", str(REQUEST_TIMEOUT)).replace("%(serving)s", SERVING_DIR)


@dataclass
class Request:
    """One request of the smoke test, and what a healthy server must answer."""

    name: str
    what: str
    body: str | None = None
    path: str = "/invocations"
    content_type: str | None = "application/json"
    # "over-limit": a JSON body one byte over the server's limit; a number: that many bytes of invalid JSON.
    size: str | int | None = None
    chunked: bool = False
    keep: int = 2000


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


def requests_for(frame) -> list[Request]:
    """The golden request, then malformed ones a server must refuse with a 4xx, then a health check."""
    columns = list(frame.columns)
    data = frame.to_numpy().tolist()  # Python floats: json.dumps keeps every digit
    golden = json.dumps({"dataframe_split": {"columns": columns, "data": data}})
    first = json.dumps({"dataframe_split": {"columns": columns, "data": data[:1]}})
    # The first numeric cell of the first row, as JSON text: the non-finite probes replace it.
    cell = json.dumps({"dataframe_split": {"columns": columns, "data": [[SENTINEL, *data[0][1:]]]}})
    return [
        Request("golden", "the golden sample", golden, keep=1 << 30),
        Request(
            "wrong-columns",
            "columns the model does not know",
            json.dumps({"dataframe_split": {"columns": [f"{SENTINEL}_{c}" for c in columns], "data": data}}),
        ),
        Request("wrong-types", f"text in the numeric column '{columns[0]}'", cell),
        Request("nan", "a NaN value", cell.replace(f'"{SENTINEL}"', "NaN")),
        Request("infinity", "an Infinity value", cell.replace(f'"{SENTINEL}"', "Infinity")),
        Request("overflow", "the value 1e309 (beyond float range)", cell.replace(f'"{SENTINEL}"', "1e309")),
        Request("no-content-type", "a request without Content-Type", first, content_type=None),
        Request("wrong-content-type", "Content-Type text/plain", first, content_type="text/plain"),
        Request("empty-body", "an empty body", ""),
        Request("invalid-json", f"{INVALID_JSON_MB} MB of invalid JSON", size=INVALID_JSON_MB * 10**6),
        Request("over-limit", "a body one byte over the limit", size="over-limit"),
        Request("chunked-over-limit", "a chunked body over the limit", chunked=True),
        Request("health-after", "/ping after the malformed requests", path="/ping"),
    ]


def exchange(container, requests: list[Request]) -> dict[str, dict]:
    """Send the requests from inside the container; return each answer by request name.

    A request the client could not send (the container stopped under it) gets status None.
    """
    import docker

    cases = [
        json.dumps(
            {
                "name": r.name,
                "path": r.path,
                "body": r.body,
                "content_type": r.content_type,
                "size": r.size,
                "chunked": r.chunked,
                "keep": r.keep,
            }
        )
        for r in requests
    ]
    stdout = stderr = ""
    try:
        _, output = container.exec_run(["python3", "-c", _CLIENT, *cases], demux=True)
        stdout, stderr = (output[0] or b"").decode(errors="replace"), (output[1] or b"").decode(errors="replace")
    except docker.errors.APIError as exc:  # the container is gone: every request is unanswered
        stderr = str(exc)
    answers = {}
    for line in stdout.splitlines():
        if line.startswith("{"):
            answer = json.loads(line)
            answers[answer["name"]] = answer
    gone = f"the container stopped before answering ({stderr.strip()[-300:] or 'no output'})"
    for request in requests:
        answers.setdefault(request.name, {"name": request.name, "status": None, "body": gone})
    return answers


def refused(request: Request, answer: dict) -> Check:
    """A malformed request must get a short 4xx: a 2xx means no validation, a 5xx or no answer means a crash, and
    the answer must be under 4 KB with no stack trace and no echo of the input."""
    status = answer.get("status")
    body = answer.get("body", "")
    size = answer.get("received_bytes", len(body.encode()))
    name = f"refuses {request.what} with a 4xx"
    details = {"status": status, "answer": body[:300], "sent_bytes": answer.get("sent_bytes"), "answer_bytes": size}
    ok = False
    if status is None:
        message = f"no answer to {request.what}: {body[:200]} (the server crashed or hung up)"
    elif status >= 500:
        message = f"answered {status} to {request.what}: a server error, expected a 4xx"
    elif status < 400:
        message = f"answered {status} to {request.what}: accepted it, expected a 4xx"
    elif size >= MAX_ANSWER_BYTES:
        message = f"answered {status} to {request.what} with {size} bytes: an error answer must be under 4 KB"
    elif "Traceback" in body or "stack_trace" in body:
        message = f"answered {status} to {request.what} with a stack trace: errors must not expose the server's code"
    elif SENTINEL in body:
        message = f"answered {status} to {request.what} with the input echoed back"
    else:
        ok, message = True, f"{status}"
    return Check(name, ok, message, details=details)


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
    from modelrail import integrity

    repo = Path(".")
    if not (repo / "dvc.lock").is_file():
        return
    tracked = {item.path for item in integrity.expected_outputs(repo)}
    integrity.require_outputs_match_lock(repo, [path.as_posix() for path in paths if path.as_posix() in tracked])


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
    from modelrail.suites import load_suite

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
    from modelrail.data_gate import check_table

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
