"""`modelrail containerize smoke` (container/smoke.py, probes.py): the gate's checks on their own, then the image
against the real engine, and images that must fail it (a suite-breaking model, servers that crash or err on bad
input, an image serving another model)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import urllib.parse
from pathlib import Path

import pytest
from support.template import modelrail

from modelrail.cli import main
from modelrail.container import probes
from modelrail.container import smoke as container_smoke
from modelrail.gates.records import Check


def test_smoke_without_an_engine_exits_2(tiny_repo, monkeypatch, capsys):
    model = tiny_repo / "models/model"
    (model / "MLmodel").write_text('signature:\n  inputs: \'[{"type": "double", "name": "x"}]\'\n', encoding="utf-8")
    (tiny_repo / "sample.csv").write_text("x,target\n1.0,0\n")
    suite = {"name": "p", "expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": "prediction"}}]}
    (tiny_repo / "suite.json").write_text(json.dumps(suite))
    monkeypatch.setattr(container_smoke, "_predict_in_process", lambda model_dir, frame: [0])
    # The model was rewritten above: without dvc.lock nothing claims its hash, so the engine is what is missing.
    (tiny_repo / "dvc.lock").unlink()
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    code = main(["containerize", "smoke", "--image", "x:1", "--sample", "sample.csv", "--suite", "suite.json"])
    assert code == 2
    assert "DOCKER_HOST=tcp://127.0.0.1:9" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("status", "passed", "says"),
    [
        (400, True, "400"),
        (413, True, "413"),
        (200, False, "accepted it"),
        (500, False, "server error"),
        (None, False, "crashed"),
    ],
)
def test_a_malformed_request_must_get_a_4xx(status, passed, says):
    request = probes.Request("empty-body", "an empty body", "")
    check = probes.refused(request, {"status": status, "body": "ConnectionResetError()"})
    assert check.success is passed
    assert says in check.message


def test_predictions_that_differ_name_the_row():
    import pandas as pd

    served, expected = pd.DataFrame({"prediction": [0, 1, 1]}), pd.DataFrame({"prediction": [0, 1, 0]})
    check = container_smoke.compare(served, expected, 1e-6)
    assert isinstance(check, Check) and not check.success
    assert "row 2: the image answered 1, the in-process model 0" in check.message
    assert container_smoke.compare(served.astype(float) + 1e-9, served, 1e-6).success


def test_smoke_passes_and_records_the_container_gate(built):
    repo, image_id, _ = built
    proc = modelrail(repo, "containerize", "smoke", "--image", image_id)
    record = json.loads((repo / "gates/container.json").read_text())
    assert record["gate"] == "container" and record["passed"] is True, proc.stdout
    names = [check["name"] for check in record["checks"]]
    assert "healthy" in names and "predictions match the in-process model" in names
    assert "predictions: expect_column_values_to_be_in_set" in names
    refusals = [check for check in record["checks"] if check["name"].startswith("refuses ")]
    assert len(refusals) == 11 and all(check["success"] for check in refusals), refusals
    answers = {check["name"]: check["details"] for check in refusals}
    for probe in ("a NaN value", "an Infinity value", "the value 1e309 (beyond float range)"):
        assert answers[f"refuses {probe} with a 4xx"]["status"] == 400
    assert answers["refuses a request without Content-Type with a 4xx"]["status"] == 415
    assert answers["refuses Content-Type text/plain with a 4xx"]["status"] == 415
    for probe in ("50 MB of invalid JSON", "a body one byte over the limit", "a chunked body over the limit"):
        assert answers[f"refuses {probe} with a 4xx"]["status"] == 413
    assert all(d["answer_bytes"] < 4096 and "stack_trace" not in d["answer"] for d in answers.values())
    assert record["inputs"]["image"]["id"] == image_id


def variant(built, tmp_path: Path, project: str) -> Path:
    """A copy of the built repo under another project name, so its image gets its own tags."""
    repo = shutil.copytree(built[0], tmp_path / project, symlinks=True)
    config = repo / "modelrail.yaml"
    config.write_text(config.read_text().replace("project: breast-cancer-classifier", f"project: {project}"))
    return repo


def test_a_model_whose_predictions_break_the_suite_fails_smoke(built, tmp_path):
    import numpy as np
    import skops.io

    repo = variant(built, tmp_path, "unknown-classes")
    model_file = repo / "models/model/model.skops"
    model = skops.io.load(model_file, trusted=skops.io.get_untrusted_types(file=model_file))
    model.classes_ = np.array([0, 7])  # a class the predictions suite does not know
    skops.io.dump(model, model_file)
    # Recorded in dvc.lock, as a pipeline run would: an honest model whose predictions the suite refuses.
    subprocess.run([sys.executable, "-m", "dvc", "commit", "-f", "-q"], cwd=repo, check=True)
    modelrail(repo, "containerize", "build")
    proc = modelrail(repo, "containerize", "smoke", check=False)
    assert proc.returncode == 1, proc.stdout
    record = json.loads((repo / "gates/container.json").read_text())
    failed = {check["name"] for check in record["checks"] if not check["success"]}
    assert failed == {
        "predictions: expect_column_values_to_be_between",
        "predictions: expect_column_values_to_be_in_set",
    }
    assert "column 'prediction'" in proc.stderr


SERVER = """
import json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

import mlflow.pyfunc
import pandas as pd

model = mlflow.pyfunc.load_model(os.environ["__pyfunc_model_path__"])


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            split = json.loads(body)["dataframe_split"]
            predictions = model.predict(pd.DataFrame(split["data"], columns=split["columns"])).tolist()
        except Exception:
            ON_BAD_INPUT
        answer = json.dumps({"predictions": predictions}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
"""


ON_BAD_INPUT = {
    "crashing": "os._exit(3)  # bad input takes the whole server down",
    # It stays up, but blames itself for the client's mistake: a 500 where a 4xx is due.
    "answers-500": "self.send_response(500); self.send_header('Content-Length', '0'); self.end_headers(); return",
}


def thin_image(base: str, tmp_path: Path, name: str, files: dict[str, str | Path], lines: list[str]) -> str:
    """An image of one thin layer on top of the built one (quick even on vfs): `files` copied in, `lines` added."""
    import docker

    context = tmp_path / name
    context.mkdir()
    for target, source in files.items():
        if isinstance(source, Path):
            shutil.copytree(source, context / target)
        else:
            (context / target).write_text(source)
    (context / "Dockerfile").write_text("\n".join([f"FROM {base}", *lines]) + "\n")
    image, _ = docker.from_env().images.build(
        path=str(context), network_mode="host", rm=True, tag=f"modelrail-test/{name}:1"
    )
    return image.id


def server_image(built, tmp_path: Path, behaviour: str) -> str:
    server = textwrap.dedent(SERVER).replace("ON_BAD_INPUT", ON_BAD_INPUT[behaviour])
    lines = ["COPY server.py /opt/server.py", 'CMD ["python3", "/opt/server.py"]']
    return thin_image(built[1], tmp_path, behaviour, {"server.py": server}, lines)


def failed_smoke(repo: Path, image: str, name: str):
    """`containerize smoke` of `image`, recorded in gates/<name>.json, which must fail the gate (exit 1): the
    process, the record and its checks by name."""
    proc = modelrail(repo, "containerize", "smoke", "--image", image, "--record", f"gates/{name}.json", check=False)
    assert proc.returncode == 1, proc.stdout
    record = json.loads((repo / f"gates/{name}.json").read_text())
    return proc, record, {check["name"]: check for check in record["checks"]}


def test_a_server_that_crashes_on_bad_input_fails_smoke(built, tmp_path):
    repo, _, _ = built
    proc, _, checks = failed_smoke(repo, server_image(built, tmp_path, "crashing"), "crashing")
    assert checks["healthy"]["success"] and checks["predictions match the in-process model"]["success"]
    assert not checks["refuses columns the model does not know with a 4xx"]["success"]
    assert not checks["survives malformed requests"]["success"]
    assert "the server crashed" in proc.stderr


def test_a_server_that_answers_500_to_bad_input_fails_smoke(built, tmp_path):
    repo, _, _ = built
    proc, record, checks = failed_smoke(repo, server_image(built, tmp_path, "answers-500"), "answers-500")
    assert record["passed"] is False
    assert checks["predictions match the in-process model"]["success"], "the golden sample is served right"
    assert checks["survives malformed requests"]["success"], "it stays up: only the status is wrong"
    for what in ("columns the model does not know", "an empty body"):
        check = checks[f"refuses {what} with a 4xx"]
        assert not check["success"] and check["details"]["status"] == 500, check
    assert "a server error, expected a 4xx" in proc.stderr


def test_an_image_serving_another_model_than_the_one_on_disk_fails_smoke(built, tmp_path):
    """The image's model answers in the suite's own classes, only flipped: the comparison alone can catch it."""
    import numpy as np
    import skops.io

    repo, image_id, _ = built
    model_dir = tmp_path / "swapped-model"
    shutil.copytree(repo / "models/model", model_dir)
    model_file = model_dir / "model.skops"
    model = skops.io.load(model_file, trusted=skops.io.get_untrusted_types(file=model_file))
    model.classes_ = np.array(model.classes_[::-1])
    skops.io.dump(model, model_file)
    image = thin_image(image_id, tmp_path, "swapped", {"model": model_dir}, ["COPY model /opt/model"])
    proc, _, checks = failed_smoke(repo, image, "swapped")
    failed = {name for name, check in checks.items() if not check["success"]}
    assert failed == {"predictions match the in-process model"}, failed
    assert "predictions differ, e.g. row" in proc.stderr and "the in-process model" in proc.stderr


def refusal_check(status, body="", **answer) -> Check:
    request = probes.Request("empty-body", "an empty body", "")
    return probes.refused(request, {"status": status, "body": body, **answer})


@pytest.mark.parametrize(
    ("status", "body", "extra", "passed", "message"),
    [
        (400, '{"error_code": "BAD_REQUEST"}', {"received_bytes": 29}, True, "400"),
        (499, "x" * 4095, {}, True, "499"),
        (400, "x", {"received_bytes": 4096}, False, "answered 400 to an empty body with 4096 bytes: an error answer"),
        (400, "x" * 4096, {}, False, "answered 400 to an empty body with 4096 bytes: an error answer must be under"),
        (400, "Traceback (most recent call last):", {}, False, "answered 400 to an empty body with a stack trace"),
        (422, '{"stack_trace": "..."}', {}, False, "answered 422 to an empty body with a stack trace: errors must not"),
        (400, f"bad value {probes.SENTINEL}", {}, False, "answered 400 to an empty body with the input echoed back"),
        (302, "", {}, False, "answered 302 to an empty body: accepted it, expected a 4xx"),
        (500, "", {}, False, "answered 500 to an empty body: a server error, expected a 4xx"),
    ],
)
def test_the_4xx_rule_exactly(status, body, extra, passed, message):
    """A short 4xx without a stack trace or an echo passes; each other answer fails and says why (probes.refused)."""
    check = refusal_check(status, body, sent_bytes=7, **extra)
    assert (check.name, check.success) == ("refuses an empty body with a 4xx", passed)
    assert check.message.startswith(message) and (check.message == message or not passed)
    size = extra.get("received_bytes", len(body))
    assert check.details == {"status": status, "answer": body[:300], "sent_bytes": 7, "answer_bytes": size}


def test_no_answer_fails_quoting_what_the_client_saw():
    check = refusal_check(None, "E" * 250 + "F" * 100)
    assert not check.success
    assert check.message == f"no answer to an empty body: {'E' * 200} (the server crashed or hung up)"
    assert check.details["answer"] == "E" * 250 + "F" * 50 and check.details["sent_bytes"] is None
    # An answer without a body (the client's record lacks it) is measured as empty, not refused for its size.
    check = probes.refused(probes.Request("x", "x"), {"status": 400})
    assert check.success and check.details["answer"] == "" and check.details["answer_bytes"] == 0


def test_predictions_must_have_the_model_s_shape():
    import pandas as pd

    expected = pd.DataFrame({"prediction": [0.5, 1.5, 2.5]})
    for served, says in [
        (pd.DataFrame({"label": [0.5, 1.5, 2.5]}), "3 rows x ['label'], the in-process model 3 rows x ['prediction']"),
        (pd.DataFrame({"prediction": [0.5, 1.5]}), "2 rows x ['prediction'], the in-process model 3 rows x"),
    ]:
        check = container_smoke.compare(served, expected, 1e-6)
        assert (check.name, check.success) == ("predictions match the in-process model", False)
        assert check.message.startswith(f"the image answered {says}")


def test_predictions_are_compared_number_by_number_within_the_absolute_tolerance():
    import pandas as pd

    expected = pd.DataFrame({"prediction": [10.0, 20.0, 30.0]})
    check = container_smoke.compare(expected + 0.009, expected, 0.01)
    assert check == Check(
        "predictions match the in-process model", True, "3 rows equal within 0.01", details={"rows": 3}
    )
    # No relative slack: 30 against 20 is a difference of 10, far beyond 0.01 whatever the values' size.
    served = pd.DataFrame({"prediction": [10.0, 30.0, 45.0]})
    check = container_smoke.compare(served, expected, 0.01)
    assert (check.name, check.success) == ("predictions match the in-process model", False)
    assert check.column == "prediction" and check.file is None
    assert check.message == (
        "2 of 3 predictions differ, e.g. row 1: the image answered 30.0, the in-process model 20.0 (tolerance 0.01)"
    )


def test_labels_are_compared_as_labels():
    import pandas as pd

    expected = pd.DataFrame({"prediction": ["cat", "dog"]})
    assert container_smoke.compare(expected.copy(), expected, 1e-6).success
    check = container_smoke.compare(pd.DataFrame({"prediction": ["cat", "cow"]}), expected, 1e-6)
    assert (
        "1 of 2 predictions differ, e.g. row 1: the image answered 'cow', the in-process model 'dog'" in check.message
    )
    # Labels where the model gives numbers, and numbers where it gives labels, differ: not compared as numbers.
    check = container_smoke.compare(pd.DataFrame({"prediction": ["1", "2"]}), pd.DataFrame({"prediction": [1, 2]}), 1)
    assert not check.success and check.message.startswith("2 of 2 predictions differ")
    check = container_smoke.compare(pd.DataFrame({"prediction": [1, 2]}), pd.DataFrame({"prediction": ["1", "2"]}), 1)
    assert not check.success and check.message.startswith("2 of 2 predictions differ")


def test_integers_and_large_numbers_are_held_to_the_absolute_tolerance():
    import pandas as pd

    # An image that answers integers for the model's floats matches within the tolerance, compared as numbers.
    floats = pd.DataFrame({"prediction": [10.0000001, 20.0]})
    assert container_smoke.compare(pd.DataFrame({"prediction": [10, 20]}), floats, 1e-6).success
    # No relative slack for large values either: 5 apart at a million is 5 apart.
    million = pd.DataFrame({"prediction": [1e6]})
    assert not container_smoke.compare(million + 5, million, 0.01).success


# The health wait against a real HTTP server standing in for the engine: the Docker SDK's own Container object asks
# it for /containers/<id>/json (the state, one answer per poll) and /containers/<id>/logs, as it asks the engine.
class FakeEngine:
    def __init__(self, states: list[dict], logs: bytes | None = b"starting server\nlistening on 8080\n"):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.states, self.logs, self.polls = states, logs, 0
        engine = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path, _, query = self.path.partition("?")
                if path.endswith("/logs"):
                    engine.polls -= 1  # the SDK read the state once more first, to know the stream's framing
                    if engine.logs is None:
                        return self._answer(404, b'{"message": "No such container: c0ffee"}')
                    tail = int(urllib.parse.parse_qs(query)["tail"][0])
                    text = b"".join(engine.logs.splitlines(keepends=True)[-tail:])
                    # The engine's multiplexed stream: one stdout frame (stream 1, then the length, big-endian).
                    return self._answer(200, bytes([1, 0, 0, 0]) + len(text).to_bytes(4, "big") + text)
                state = engine.states[min(engine.polls, len(engine.states) - 1)]
                engine.polls += 1
                body = {"Id": "c0ffee", "Name": "/smoke", "Config": {"Tty": False}, "State": state}
                return self._answer(200, json.dumps(body).encode())

            def _answer(self, status: int, body: bytes):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # quiet: the test reads the checks, not the access log
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def container(self):
        import docker

        client = docker.DockerClient(base_url=f"tcp://127.0.0.1:{self.server.server_port}", version="1.41")
        container = client.containers.get("c0ffee")
        self.polls = 0  # the lookup above read the first state; the wait starts from it again
        return container

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_engine(monkeypatch):
    """A FakeEngine factory; the health wait polls every 20 ms instead of every 0.5 s."""
    monkeypatch.setattr(container_smoke, "POLL_SECONDS", 0.02)
    made: list[FakeEngine] = []

    def make(*states: dict, **kwargs) -> FakeEngine:
        made.append(FakeEngine(list(states), **kwargs))
        return made[-1]

    yield make
    for fake in made:
        fake.close()


STARTING = {"Status": "running", "Health": {"Status": "starting"}}


def test_the_health_wait_polls_until_healthy(fake_engine):
    fake = fake_engine(STARTING, STARTING, {"Status": "running", "Health": {"Status": "healthy"}})
    check = container_smoke.wait_healthy(fake.container(), timeout=3)
    assert fake.polls == 3, "it waits through the two 'starting' answers"
    assert (check.name, check.success, check.file, check.column) == ("healthy", True, None, None)
    seconds = check.details["seconds"]
    assert list(check.details) == ["seconds"] and 0.04 <= seconds < 3, "two sleeps of 20 ms at least"
    assert seconds == round(seconds, 2), "recorded to the hundredth of a second"
    # The message says the same wait to the tenth (rounded from the clock, not from the hundredths recorded).
    said = check.message.removeprefix("healthy after ").removesuffix("s")
    assert check.message == f"healthy after {said}s" and len(said.split(".")[1]) == 1
    assert abs(float(said) - seconds) <= 0.051


@pytest.mark.parametrize("status", ["exited", "dead"])
def test_a_container_that_stops_before_it_is_healthy_fails_with_its_logs(fake_engine, status):
    fake = fake_engine(STARTING, {"Status": status, "ExitCode": 3, "Health": {"Status": "starting"}})
    check = container_smoke.wait_healthy(fake.container(), timeout=3)
    assert fake.polls == 2
    assert check == Check(
        "healthy",
        False,
        "the container exited with code 3 before it was healthy: starting server | listening on 8080",
    )


def test_an_image_without_a_healthcheck_fails_at_once(fake_engine):
    fake = fake_engine({"Status": "running"}, {"Status": "running", "Health": {"Status": "healthy"}})
    check = container_smoke.wait_healthy(fake.container(), timeout=3)
    assert fake.polls == 1
    assert check == Check("healthy", False, "the image declares no HEALTHCHECK (fix: add one to the Dockerfile)")
    # The engine reports a null Health for such a container in some versions: the same verdict.
    fake = fake_engine({"Status": "running", "Health": None})
    assert container_smoke.wait_healthy(fake.container(), timeout=3) == check


def test_an_unhealthy_container_fails_at_once_with_its_logs(fake_engine):
    fake = fake_engine({"Status": "running", "Health": {"Status": "unhealthy"}}, STARTING)
    check = container_smoke.wait_healthy(fake.container(), timeout=3)
    assert fake.polls == 1
    assert check == Check("healthy", False, "not healthy after 0s (unhealthy): starting server | listening on 8080")
    # Logs that are not UTF-8 are still shown, the bad bytes replaced.
    fake = fake_engine({"Status": "running", "Health": {"Status": "unhealthy"}}, logs=b"bad \xff byte\n")
    assert container_smoke.wait_healthy(fake.container(), timeout=3).message.endswith(": bad \ufffd byte")


def test_the_health_wait_gives_up_after_the_timeout(fake_engine):
    fake = fake_engine(STARTING, logs=b"")
    check = container_smoke.wait_healthy(fake.container(), timeout=0.3)
    # It polled again while the time was not up (how often depends on the machine's load), then gave up.
    assert fake.polls >= 2
    assert (check.name, check.success) == ("healthy", False)
    assert check.message == "not healthy after 0s (starting): (no output)"


def test_the_logs_in_a_failure_are_the_last_lines_joined_and_cut(fake_engine):
    def failure_logs(lines: bytes) -> str:
        fake = fake_engine({"Status": "exited", "ExitCode": 1}, logs=lines)
        message = container_smoke.wait_healthy(fake.container(), timeout=3).message
        return message.removeprefix("the container exited with code 1 before it was healthy: ")

    # The last 15 lines, joined by " | "; of those at most the last 1500 characters.
    assert failure_logs(b"".join(b"line %d\n" % n for n in range(40))) == " | ".join(f"line {n}" for n in range(25, 40))
    long = [f"line {n:04} " + "x" * 200 for n in range(40)]
    logs = failure_logs("\n".join(long).encode() + b"\n")
    assert logs == " | ".join(long[-15:])[-1500:] and len(logs) == 1500 and logs.endswith("line 0039 " + "x" * 200)
    # A container already gone answers no logs: the verdict stands, the hint says so.
    fake = fake_engine({"Status": "dead", "ExitCode": 137}, logs=None)
    check = container_smoke.wait_healthy(fake.container(), timeout=3)
    assert check.message == "the container exited with code 137 before it was healthy: (no logs)"


class RecordedContainer:
    """A container whose client run (`exec_run`) prints recorded answers, one JSON line each, as the real client
    does; `reload` moves it to the state it is in after the requests."""

    def __init__(self, answers: list[dict], after: str = "running", stderr: bytes = b"", noise: bytes = b""):
        self.answers, self.after, self.stderr, self.noise = answers, after, stderr, noise
        self.attrs = {"State": {"Status": "running"}}
        self.commands: list[list[str]] = []

    def exec_run(self, command, demux):
        assert demux is True, "stdout and stderr apart: the answers are on stdout"
        self.commands.append(command)
        if self.after == "removed":  # the engine no longer knows the container
            import docker

            raise docker.errors.APIError("404 Client Error: Not Found (No such container: c0ffee)")
        stdout = self.noise + "".join(json.dumps(answer) + "\n" for answer in self.answers).encode()
        return 0, (stdout or None, self.stderr or None)

    def reload(self):
        self.attrs = {"State": {"Status": self.after}}

    def logs(self, tail):
        return b"Traceback (most recent call last):\nMemoryError\n"


REFUSALS = [
    "columns the model does not know",
    "text in the numeric column 'x'",
    "a NaN value",
    "an Infinity value",
    "the value 1e309 (beyond float range)",
    "a request without Content-Type",
    "Content-Type text/plain",
    "an empty body",
    "50 MB of invalid JSON",
    "a body one byte over the limit",
    "a chunked body over the limit",
]


def recorded(golden: dict | None = None, ping: dict | None = None, **statuses: int) -> list[dict]:
    """A healthy server's answers (the golden sample predicted as 0, 1; 400 to each malformed request; /ping 200),
    with `golden`, `ping` and the statuses by request name (nan=500) changed."""
    answers = [{"name": "golden", "status": 200, "body": json.dumps({"predictions": [0, 1]}), **(golden or {})}]
    for request in probes.requests_for(sample())[1:-1]:
        status = statuses.get(request.name.replace("-", "_"), 400)
        answers.append({"name": request.name, "status": status, "body": '{"error_code": "BAD_REQUEST"}'})
    answers.append({"name": "health-after", "status": 200, "body": "", **(ping or {})})
    return answers


def sample():
    """The golden sample of these tests: two rows of the model's two input columns."""
    import pandas as pd

    return pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]})


@pytest.fixture
def answers_of(workdir):
    """Run the smoke gate's checks of the answers (`_check_answers`) on a container's recorded answers, against a
    predictions suite that knows the classes 0 and 1 and a model that predicts 0, 1."""
    import pandas as pd

    from modelrail.gates.suites import load_suite

    spec = {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "prediction", "value_set": [0, 1]}}
    (workdir / "predictions.json").write_text(json.dumps({"name": "predictions", "expectations": [spec]}))
    suite = load_suite(workdir / "predictions.json")
    expected = pd.DataFrame({"prediction": [0, 1]})

    def check(container) -> dict[str, Check]:
        requests = probes.requests_for(sample())
        checks = container_smoke._check_answers(
            container, requests, expected, 1e-6, workdir / "build/smoke/predictions.csv", suite
        )
        by_name = {check.name: check for check in checks}
        assert len(by_name) == len(checks), "one check per name"
        return by_name

    return check


def test_a_healthy_server_s_answers_pass_every_check(answers_of, workdir):
    container = RecordedContainer(recorded())
    checks = answers_of(container)
    assert list(checks) == [
        "predictions match the in-process model",
        "predictions: expect_column_values_to_be_in_set",
        *[f"refuses {what} with a 4xx" for what in REFUSALS],
        "survives malformed requests",
    ]
    assert [name for name, check in checks.items() if not check.success] == []
    assert checks["predictions match the in-process model"].message == "2 rows equal within 1e-06"
    assert checks["survives malformed requests"] == Check(
        "survives malformed requests", True, "still running and answering /ping"
    )
    assert checks["refuses a NaN value with a 4xx"].details["status"] == 400
    # The served predictions are kept for the report, exactly as the image answered them (a second run replaces them).
    assert (workdir / "build/smoke/predictions.csv").read_text() == "prediction\n0\n1\n"
    answers_of(RecordedContainer(recorded(golden={"body": json.dumps({"predictions": [1, 1]})})))
    assert (workdir / "build/smoke/predictions.csv").read_text() == "prediction\n1\n1\n"
    # All requests go in one run of the client inside the container, one JSON case per request.
    ((python, flag, client, *cases),) = container.commands
    assert (python, flag, client) == ("python3", "-c", probes._CLIENT)
    assert [json.loads(case) for case in cases] == [
        {
            "name": r.name,
            "path": r.path,
            "body": r.body,
            "content_type": r.content_type,
            "size": r.size,
            "chunked": r.chunked,
            "keep": r.keep,
        }
        for r in probes.requests_for(sample())
    ]


def test_predictions_that_differ_or_break_the_suite_fail(answers_of, workdir):
    checks = answers_of(RecordedContainer(recorded(golden={"body": json.dumps({"predictions": [0, 7]})})))
    failed = {name: check.message for name, check in checks.items() if not check.success}
    assert failed == {
        "predictions match the in-process model": (
            "1 of 2 predictions differ, e.g. row 1: the image answered 7, the in-process model 1 (tolerance 1e-06)"
        ),
        "predictions: expect_column_values_to_be_in_set": failed["predictions: expect_column_values_to_be_in_set"],
    }
    assert checks["predictions: expect_column_values_to_be_in_set"].column == "prediction"
    assert (workdir / "build/smoke/predictions.csv").read_text() == "prediction\n0\n7\n"


def test_a_golden_sample_answered_with_an_error_fails_without_predictions(answers_of, workdir):
    body = "Internal Server Error: " + "e" * 400
    checks = answers_of(RecordedContainer(recorded(golden={"status": 500, "body": body})))
    assert list(checks) == [
        "answers the golden sample",
        *[f"refuses {what} with a 4xx" for what in REFUSALS],
        "survives malformed requests",
    ]
    assert checks["answers the golden sample"] == Check(
        "answers the golden sample", False, f"answered 500 to the golden sample: {body[:300]}"
    )
    assert not any(name.startswith("predictions") for name in checks), "no predictions to compare or check"
    assert not (workdir / "build/smoke/predictions.csv").exists()
    assert checks["survives malformed requests"].success
    # A golden answer that is a 2xx but not 200 is not the predictions either.
    checks = answers_of(RecordedContainer(recorded(golden={"status": 201})))
    assert checks["answers the golden sample"].message.startswith("answered 201 to the golden sample: {")


def test_a_server_error_to_a_malformed_request_fails_that_refusal(answers_of):
    checks = answers_of(RecordedContainer(recorded(nan=500, empty_body=200)))
    failed = {name: check.message for name, check in checks.items() if not check.success}
    assert failed == {
        "refuses a NaN value with a 4xx": "answered 500 to a NaN value: a server error, expected a 4xx",
        "refuses an empty body with a 4xx": "answered 200 to an empty body: accepted it, expected a 4xx",
    }


@pytest.mark.parametrize(
    ("after", "ping"), [("exited", {}), ("running", {"status": 502}), ("running", {"status": None, "body": "reset"})]
)
def test_a_server_down_after_the_malformed_requests_fails(answers_of, after, ping):
    checks = answers_of(RecordedContainer(recorded(ping=ping), after=after))
    failed = [name for name, check in checks.items() if not check.success]
    assert failed == ["survives malformed requests"]
    assert checks["survives malformed requests"].message == (
        f"the server is down after the malformed requests (/ping: {ping.get('status', 200)}): "
        "Traceback (most recent call last): | MemoryError"
    )


def test_a_container_that_stopped_under_the_client_fails_every_answer(answers_of):
    """The client's run ended before any answer (the container stopped): each request is unanswered, and says why."""
    container = RecordedContainer([], after="exited", stderr=b"OCI runtime exec failed: container not running\n")
    checks = answers_of(container)
    gone = "the container stopped before answering (OCI runtime exec failed: container not running)"
    assert checks["answers the golden sample"].message == f"answered None to the golden sample: {gone}"
    for what in REFUSALS:
        check = checks[f"refuses {what} with a 4xx"]
        assert not check.success and check.message == f"no answer to {what}: {gone} (the server crashed or hung up)"
    assert not checks["survives malformed requests"].success


def test_the_client_s_output_is_read_leniently_and_what_it_could_not_answer_is_said(workdir):
    """exchange: a line that is not an answer is skipped, bytes that are not UTF-8 do not stop the reading, and each
    request the client did not answer gets status None and the end of what it wrote on stderr."""
    requests = probes.requests_for(sample())
    golden = {"name": "golden", "status": 200, "body": "[0, 1]"}
    tail = "E" * 300
    container = RecordedContainer([golden], stderr=b"\xff" + b"x" * 100 + tail.encode(), noise=b"\xff warning\n")
    answers = probes.exchange(container, requests)
    assert list(answers) == [r.name for r in requests] and answers["golden"] == golden
    gone = f"the container stopped before answering ({tail})"
    assert answers["nan"] == {"name": "nan", "status": None, "body": gone}
    # Nothing on stderr either, and bytes that are not UTF-8 in it: both still said.
    answers = probes.exchange(RecordedContainer([]), requests)
    assert answers["health-after"] == {
        "name": "health-after",
        "status": None,
        "body": "the container stopped before answering (no output)",
    }
    answers = probes.exchange(RecordedContainer([], stderr=b"killed \xff"), requests)
    assert answers["golden"]["body"] == "the container stopped before answering (killed \ufffd)"
    # The engine no longer knows the container: every request unanswered, with the engine's words.
    answers = probes.exchange(RecordedContainer([], after="removed"), requests)
    assert {answer["body"] for answer in answers.values()} == {
        "the container stopped before answering (404 Client Error: Not Found (No such container: c0ffee))"
    }


def test_the_probes_are_the_golden_request_then_each_malformed_one_whole():
    """Every request the smoke gate sends, field by field, for a two-column sample: what each probes is fixed."""
    import pandas as pd

    from modelrail.container.probes import Request, requests_for

    frame = pd.DataFrame({"a": [1.5, 3.0], "b": [2.0, 4.25]})
    split = '{"dataframe_split": {"columns": ["a", "b"], "data": '
    cell = split + '[["modelrail-probe-7f3a", 2.0]]}}'
    first = split + "[[1.5, 2.0]]}}"
    assert requests_for(frame) == [
        Request("golden", "the golden sample", split + "[[1.5, 2.0], [3.0, 4.25]]}}", keep=1 << 30),
        Request(
            "wrong-columns",
            "columns the model does not know",
            '{"dataframe_split": {"columns": ["modelrail-probe-7f3a_a", "modelrail-probe-7f3a_b"], '
            '"data": [[1.5, 2.0], [3.0, 4.25]]}}',
        ),
        Request("wrong-types", "text in the numeric column 'a'", cell),
        Request("nan", "a NaN value", split + "[[NaN, 2.0]]}}"),
        Request("infinity", "an Infinity value", split + "[[Infinity, 2.0]]}}"),
        Request("overflow", "the value 1e309 (beyond float range)", split + "[[1e309, 2.0]]}}"),
        Request("no-content-type", "a request without Content-Type", first, content_type=None),
        Request("wrong-content-type", "Content-Type text/plain", first, content_type="text/plain"),
        Request("empty-body", "an empty body", ""),
        Request("invalid-json", "50 MB of invalid JSON", size=50_000_000),
        Request("over-limit", "a body one byte over the limit", size="over-limit"),
        Request("chunked-over-limit", "a chunked body over the limit", chunked=True),
        Request("health-after", "/ping after the malformed requests", path="/ping"),
    ]
    # The defaults every probe above relies on.
    default = Request("x", "y")
    assert (default.body, default.path, default.content_type, default.size, default.chunked, default.keep) == (
        None,
        "/invocations",
        "application/json",
        None,
        False,
        2000,
    )
