"""The serving layer in front of MLflow's scoring server (the template's serving/modelrail_serving.py), over ASGI.

The inner app here stands in for MLflow's the way MLflow's misbehaves (echoes the input, adds a stack trace); the
real server behind the real layer is exercised by the container smoke gate in test_smoke.py.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json

import pytest
from support import ROOT

spec = importlib.util.spec_from_file_location(
    "modelrail_serving", ROOT / "{{cookiecutter.project_slug}}/serving/modelrail_serving.py"
)
serving = importlib.util.module_from_spec(spec)
spec.loader.exec_module(serving)

LIMIT = 1000


async def echoing_app(scope, receive, send):
    """Like MLflow's scoring server on bad input: a 400 that echoes the whole body, with a stack trace."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/boom":
        raise RuntimeError("secret internals")
    status = 200 if b"good" in body or scope["path"] == "/ping" else 400
    answer = json.dumps({"error_code": "BAD_REQUEST", "message": body.decode(), "stack_trace": "Traceback ..."})
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": answer.encode() if status != 200 else b'{"predictions": [1]}'})


def call(body: bytes | list[bytes], content_type: str | None = "application/json", path="/invocations", method="POST"):
    """One request through the guard; returns (status, body, bytes of the request it read)."""
    chunks = body if isinstance(body, list) else [body]
    headers = [] if content_type is None else [(b"content-type", content_type.encode())]
    if not isinstance(body, list):
        headers.append((b"content-length", str(len(body)).encode()))
    scope = {"type": "http", "path": path, "method": method, "headers": headers}
    sent, read = [], [0]

    async def receive():
        if not chunks:
            return {"type": "http.disconnect"}
        chunk = chunks.pop(0)
        read[0] += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message):
        sent.append(message)

    asyncio.run(serving.Guard(echoing_app, LIMIT)(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"), read[0]


def test_a_good_request_reaches_the_model_unchanged():
    assert call(b'{"inputs": ["good"]}') == (200, b'{"predictions": [1]}', 20)


@pytest.mark.parametrize(
    "body",
    [
        b'{"inputs": [NaN]}',
        b'{"inputs": [Infinity]}',
        b'{"inputs": [-Infinity]}',
        b'{"inputs": [1e309]}',
        b'{"inputs": ["NaN", "good"]}',
        b"{not json",
        b"\xff\xfe",
        b"",
        b"[" * 200 + b"]" * 200,
    ],
)
def test_non_finite_or_malformed_json_is_a_short_400(body):
    status, answer, _ = call(body)
    assert status == 400 and len(answer) < 300
    assert json.loads(answer)["error_code"] in ("MALFORMED_REQUEST", "NON_FINITE_VALUE")


@pytest.mark.parametrize("body", [b"x\ninf\n", b"x\n1e999\n", b"x\n-Infinity\n", b"x\r1\r"])
def test_non_finite_csv_is_a_400(body):
    assert call(body, "text/csv")[0] == 400


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/vnd.apache.parquet"])
def test_other_content_types_are_a_415(content_type):
    status, answer, _ = call(b'{"inputs": ["good"]}', content_type)
    assert status == 415 and b"good" not in answer


def test_a_declared_length_over_the_limit_is_a_413_and_the_body_is_drained():
    status, answer, read = call(b"x" * (LIMIT + 1))
    assert status == 413 and read == LIMIT + 1 and b"x" not in answer


def test_a_chunked_body_over_the_limit_is_a_413():
    status, _, read = call([b"x" * 400] * 5)
    assert status == 413 and read == 2000


def test_an_error_answer_from_the_model_loses_its_echo_and_stack_trace():
    status, answer, _ = call(b'{"inputs": ["modelrail-secret-input"]}')
    assert status == 400
    assert json.loads(answer) == {"error_code": "BAD_REQUEST", "message": serving.MESSAGES[400]}


def test_an_exception_in_the_model_is_a_short_500(capsys):
    status, answer, _ = call(b'{"inputs": ["good"]}', path="/boom")
    assert status == 500 and b"secret" not in answer
    assert "secret internals" in capsys.readouterr().err  # the operator still finds it in the log


def test_other_paths_pass_through():
    assert call(b"", None, path="/ping", method="GET")[0] == 200


def test_the_default_limit_follows_the_memory_limit(monkeypatch):
    monkeypatch.delenv(serving.LIMIT_ENV, raising=False)
    monkeypatch.setattr(serving, "memory_limit", lambda: 1 << 30)
    assert serving.max_body_bytes() == 16 << 20
    monkeypatch.setattr(serving, "memory_limit", lambda: None)
    assert serving.max_body_bytes() == serving.DEFAULT_LIMIT
    monkeypatch.setenv(serving.LIMIT_ENV, "2048")
    assert serving.max_body_bytes() == 2048
    monkeypatch.setenv(serving.LIMIT_ENV, "2048\n0")
    with pytest.raises(SystemExit, match="whole number of bytes"):
        serving.max_body_bytes()
