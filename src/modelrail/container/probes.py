"""The requests the smoke test sends to the serving container, from inside it, and what a healthy server answers.

The container runs with `network_mode="none"`: a stdlib-only client is run in it with `docker exec`, so nothing else
can reach the server and the server can reach nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from modelrail.gates.records import Check

# Where the baked Dockerfile puts the serving layer (serving/modelrail_serving.py); the client asks it for the limit.
SERVING_DIR = "/opt/serving"
INVALID_JSON_MB = 50
MAX_ANSWER_BYTES = 4096
# Put into the malformed requests: an answer that contains it echoes the input back.
SENTINEL = "modelrail-probe-7f3a"
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
