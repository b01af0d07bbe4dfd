"""The serving image's front door: a small ASGI layer in front of MLflow's scoring server.

MLflow's server buffers any body whole, echoes invalid input back in its 400s, returns Python stack traces and
turns NaN or Infinity into numbers. This layer, in the same process, answers instead of it when a request is
malformed or too large, and shortens every error answer; everything else reaches MLflow unchanged.

- POST /invocations only with Content-Type application/json or text/csv (else 415).
- A body over the limit (Content-Length or chunked) gets 413; the limit is MODELRAIL_MAX_REQUEST_BYTES,
  default 1/64 of the container's memory limit (16 MiB at the deployment's 1 GiB), 16 MiB without one.
- JSON must be strict (no NaN, Infinity or numbers out of float range, bounded nesting); CSV cells must not be
  non-finite numbers (400).
- An error answer from MLflow (4xx/5xx) is replaced by a short JSON body: its error_code and a fixed message,
  never the input or a stack trace (the full answer goes to the server log, cut short).

Standard library only; `uvicorn --factory modelrail_serving:create_app` runs it.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import sys

MIB = 1 << 20
LIMIT_ENV = "MODELRAIL_MAX_REQUEST_BYTES"
DEFAULT_LIMIT = 16 * MIB
# A body is parsed into rows and a DataFrame several times its size: 1/64 of the memory keeps that far from
# the limit.
MEMORY_SHARE = 64
# Past the limit the rest of the body is read and dropped (up to this much) before answering, so the client
# gets the 413 instead of a reset connection.
DRAIN_BYTES = 256 * MIB
MAX_DEPTH = 32
SCORING_PATH = "/invocations"
JSON_TYPE, CSV_TYPE = "application/json", "text/csv"
NON_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
ERROR_CODE = re.compile(r"[A-Z][A-Z_]{0,63}")
MESSAGES = {
    400: "the request does not match the model's input (format, columns or types)",
    404: "not found",
    405: "method not allowed",
    413: "the request body is larger than the limit",
    415: "unsupported Content-Type: send application/json or text/csv",
    422: "the request does not match the model's input (format, columns or types)",
}


def memory_limit() -> int | None:
    """The container's memory limit (cgroup v2, then v1), or None when there is none."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path, encoding="ascii") as handle:
                text = handle.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:  # v1 says "no limit" with a huge number
            return int(text)
    return None


def max_body_bytes() -> int:
    """MODELRAIL_MAX_REQUEST_BYTES, else 1/64 of the memory limit (at least 1 MiB), else 16 MiB."""
    raw = os.environ.get(LIMIT_ENV, "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise SystemExit(f"{LIMIT_ENV}={raw[:20]!r}: must be a whole number of bytes, 1 or more")
        return int(raw)
    memory = memory_limit()
    return max(memory // MEMORY_SHARE, MIB) if memory else DEFAULT_LIMIT


class Refused(Exception):
    def __init__(self, status: int, error_code: str):
        super().__init__(error_code)
        self.status, self.error_code = status, error_code


def _refuse_constant(name: str):
    raise ValueError(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _depth(value) -> int:
    depth, level = 0, [value]
    while level:
        depth += 1
        level = [
            item
            for node in level
            for item in (node.values() if isinstance(node, dict) else node)
            if isinstance(item, (dict, list))
        ]
    return depth


def _non_finite_text(value) -> bool:
    return isinstance(value, str) and value.strip().lower() in NON_FINITE


def check_json(body: bytes) -> None:
    """Strict JSON, bounded nesting, and no string that MLflow would turn into NaN or Infinity."""
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise Refused(400, "MALFORMED_REQUEST") from None
    if isinstance(value, (dict, list)) and _depth(value) > MAX_DEPTH:
        raise Refused(400, "MALFORMED_REQUEST")
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif _non_finite_text(node):
            raise Refused(400, "NON_FINITE_VALUE")


def check_csv(body: bytes) -> None:
    """UTF-8 CSV whose cells are not non-finite numbers (pandas reads 'inf', 'NaN', 1e309 as floats)."""
    try:
        rows = csv.reader(io.StringIO(body.decode("utf-8"), newline=""))
        for row in rows:
            for cell in row:
                if _non_finite_text(cell) or _overflows(cell):
                    raise Refused(400, "NON_FINITE_VALUE")
    except (UnicodeDecodeError, csv.Error):
        raise Refused(400, "MALFORMED_REQUEST") from None


def _overflows(cell: str) -> bool:
    if "e" not in cell.lower():
        return False
    try:
        return not math.isfinite(float(cell))
    except ValueError:
        return False


def media_type(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.decode("latin-1").split(";", 1)[0].strip().lower()
    return None


def content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else -1
    return None


def error_body(status: int, error_code: str) -> bytes:
    message = MESSAGES.get(
        status, "the model server could not answer this request" if status >= 500 else "refused"
    )
    return json.dumps({"error_code": error_code, "message": message}).encode()


async def send_error(send, status: int, error_code: str) -> None:
    body = error_body(status, error_code)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 413:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _log(text: str) -> None:
    print(f"modelrail_serving: {' '.join(text.split())[:500]}", file=sys.stderr, flush=True)


class Guard:
    """ASGI middleware: refuse malformed or oversized scoring requests; shorten every error answer."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            if scope["path"] == SCORING_PATH and scope["method"] == "POST":
                receive = await self._checked_body(scope, receive)
        except Refused as exc:
            await send_error(send, exc.status, exc.error_code)
            return
        await self._forward(scope, receive, send)

    async def _checked_body(self, scope, receive):
        headers = scope.get("headers", [])
        kind = media_type(headers)
        if kind not in (JSON_TYPE, CSV_TYPE):
            await self._drain(receive, 0)
            raise Refused(415, "UNSUPPORTED_MEDIA_TYPE")
        declared = content_length(headers)
        if declared is not None and declared > self.limit:
            await self._drain(receive, 0)
            raise Refused(413, "REQUEST_TOO_LARGE")
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Refused(400, "CLIENT_DISCONNECTED")
            chunk = message.get("body", b"")
            size += len(chunk)
            more = message.get("more_body", False)
            if size > self.limit:
                if more:
                    await self._drain(receive, size)
                raise Refused(413, "REQUEST_TOO_LARGE")
            chunks.append(chunk)
        body = b"".join(chunks)
        (check_json if kind == JSON_TYPE else check_csv)(body)
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay

    async def _drain(self, receive, already: int) -> None:
        """Read and drop the rest of a refused body (bounded), so the client can read the answer."""
        size = already
        while size <= DRAIN_BYTES:
            message = await receive()
            if message["type"] != "http.request":
                return
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    async def _forward(self, scope, receive, send):
        state = {"status": None, "started": False}

        async def guarded_send(message):
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                if message["status"] < 400:
                    state["started"] = True
                    await send(message)
                else:
                    state["buffer"] = bytearray()
                return
            if (
                message["type"] == "http.response.body"
                and state["status"] is not None
                and state["status"] >= 400
            ):
                buffer = state["buffer"]
                if len(buffer) < 64 * 1024:
                    buffer.extend(message.get("body", b"")[: 64 * 1024 - len(buffer)])
                if not message.get("more_body", False):
                    await self._replace(send, state)
                return
            await send(message)

        try:
            await self.app(scope, receive, guarded_send)
        except (
            Exception
        ) as exc:  # the inner app failed before or while answering: a short 500, never a traceback
            _log(f"{scope['method']} {scope['path']}: {type(exc).__name__}: {exc}")
            if not state["started"] and not state.get("sent_error"):
                await send_error(send, 500, "INTERNAL_ERROR")

    async def _replace(self, send, state) -> None:
        text = bytes(state["buffer"]).decode("utf-8", "replace")
        _log(f"answered {state['status']}: {text}")
        try:
            code = json.loads(text).get("error_code", "")
        except (ValueError, AttributeError):
            code = ""
        status = state["status"]
        default = "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR"
        state["sent_error"] = True
        await send_error(
            send, status, code if isinstance(code, str) and ERROR_CODE.fullmatch(code) else default
        )


def create_app():
    """MLflow's scoring server for the model at __pyfunc_model_path__, behind the guard."""
    limit = max_body_bytes()
    from mlflow.pyfunc.scoring_server.app import app

    _log(f"request body limit {limit} bytes")
    return Guard(app, limit)
