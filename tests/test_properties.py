"""Property-based: for arbitrary bytes, JSON and YAML in every file a command reads, the exit code is 0, 1 or 2
(never 3, never a traceback), and an existing record is either replaced by a complete one or left as it was."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.data import GOOD_CSV

from modelrail import report_sections
from modelrail.cli import main
from modelrail.container import smoke as container_smoke
from modelrail.errors import ConfigError
from modelrail.release import environment
from modelrail.report_records import Gate, load_record

# capsys is read (and so reset) after every example.
CAPSYS_IS_READ_EACH_TIME = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
# Modest counts: the whole file runs in well under a minute on the shared 2-core machine.
FAST = settings(max_examples=40, deadline=None, suppress_health_check=CAPSYS_IS_READ_EACH_TIME)
SLOW = settings(max_examples=15, deadline=None, suppress_health_check=CAPSYS_IS_READ_EACH_TIME)

OLD_RECORD = '{"gate": "old", "passed": true}\n'
CONFIG = "environments: [staging]\ngates: {model: {thresholds: {accuracy: {min: 0.9}}}}\n"
SUITE = {"name": "s", "expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": "height"}}]}
# Keys of modelrail.yaml and of suites, so generated documents reach past the first "unknown key".
KEYS = st.sampled_from(
    ["environments", "gates", "model", "thresholds", "accuracy", "min", "max", "champion", "tolerance", "metrics",
     "when_missing", "drift", "psi", "ks", "pvalue", "bins", "columns", "exclude", "project", "name", "expectations",
     "type", "kwargs", "column", "min_value", "max_value", "value_set", "staging"]
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["expect_column_to_exist", "expect_column_values_to_be_between", "height", "staging"])
)
DOCUMENTS = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=6), inner, max_size=4),
    max_leaves=16,
)  # fmt: skip


@contextlib.contextmanager
def repo():
    """A fresh model-repo folder as the working directory, holding good inputs and an old, complete record."""
    before = Path.cwd()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "gates").mkdir()
        (root / "gates/record.json").write_text(OLD_RECORD)
        (root / "modelrail.yaml").write_text(CONFIG)
        (root / "metrics.json").write_text('{"accuracy": 0.95}')
        (root / "good.csv").write_text(GOOD_CSV)
        (root / "suite.json").write_text(json.dumps(SUITE))
        os.chdir(root)
        try:
            yield root
        finally:
            os.chdir(before)


def run(command: list[str], capsys) -> int:
    code = main([*command, "--record", "gates/record.json"] if command[0] != "suite" else command)
    err = capsys.readouterr().err
    assert code in (0, 1, 2), err
    assert "Traceback" not in err
    return code


def assert_record_whole(root: Path) -> None:
    text = (root / "gates/record.json").read_text()
    if text != OLD_RECORD:
        record = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in a record"))
        assert isinstance(record["passed"], bool) and record["gate"] and record["checks"]
    assert not list(root.rglob("*.tmp"))


def as_yaml(document) -> bytes:
    return yaml.safe_dump(document, allow_unicode=True).encode()


def as_json(document) -> bytes:
    return json.dumps(document).encode()  # NaN and Infinity included, as a careless writer would


@FAST
@given(st.binary(max_size=300) | DOCUMENTS.map(as_json))
def test_gate_model_metrics(capsys, data):
    with repo() as root:
        (root / "metrics.json").write_bytes(data)
        run(["gate", "model", "--metrics", "metrics.json"], capsys)
        assert_record_whole(root)


@FAST
@given(
    st.binary(max_size=300)
    | DOCUMENTS.map(as_yaml)
    | DOCUMENTS.map(lambda d: as_yaml({"environments": ["staging"], "gates": d}))
)
def test_gate_model_config(capsys, data):
    with repo() as root:
        (root / "modelrail.yaml").write_bytes(data)
        run(["gate", "model", "--metrics", "metrics.json"], capsys)
        assert_record_whole(root)


@SLOW
@given(st.binary(max_size=300) | DOCUMENTS.map(as_json) | DOCUMENTS.map(lambda d: as_json({"expectations": [d]})))
def test_gate_data_suite(capsys, data):
    with repo() as root:
        (root / "suite.json").write_bytes(data)
        run(["gate", "data", "--data", "good.csv", "--suite", "suite.json"], capsys)
        assert_record_whole(root)


@settings(SLOW, max_examples=8)  # a CSV that parses is validated by GX: about a second each under load
@given(st.binary(max_size=300) | st.text(alphabet='ab,\r\n"1.e-', max_size=60).map(str.encode))
def test_gate_data_csv(capsys, data):
    with repo() as root:
        (root / "x.csv").write_bytes(data)
        run(["gate", "data", "--data", "x.csv", "--suite", "suite.json"], capsys)
        assert_record_whole(root)


@SLOW
@given(st.binary(max_size=300) | st.text(alphabet='ab,\r\n"1.e-', max_size=60).map(str.encode))
def test_suite_init(capsys, data):
    with repo() as root:
        (root / "x.csv").write_bytes(data)
        (root / "out.json").write_text(OLD_RECORD)
        if run(["suite", "init", "--data", "x.csv", "--out", "out.json", "--force"], capsys) == 0:
            json.loads((root / "out.json").read_text(), parse_constant=lambda name: pytest.fail(name))
        else:
            assert (root / "out.json").read_text() == OLD_RECORD


@settings(SLOW, max_examples=10)  # a config that loads runs the whole drift comparison
@given(DOCUMENTS.map(lambda d: as_yaml({"environments": ["staging"], "drift": d})) | st.binary(max_size=200))
def test_drift_config(capsys, data):
    with repo() as root:
        (root / "modelrail.yaml").write_bytes(data)
        run(["drift", "--reference", "good.csv", "--current", "good.csv", "--config", "modelrail.yaml"], capsys)
        assert_record_whole(root)


@FAST
@given(st.binary(max_size=300) | DOCUMENTS.map(as_json).map(lambda b: b + b"\n" + b))
def test_release_records(data):
    with repo() as root:
        folder = root / "releases/staging"
        folder.mkdir(parents=True)
        (folder / "release.json").write_bytes(data)
        (folder / "history.jsonl").write_bytes(data)
        for read in (environment.current_record, environment.history):
            with contextlib.suppress(ConfigError):
                read(root, "staging")


@FAST
@given(st.binary(max_size=300) | DOCUMENTS.map(lambda d: as_yaml({"signature": {"inputs": json.dumps(d)}})))
def test_mlmodel_signature(data):
    with repo() as root:
        (root / "MLmodel").write_bytes(data)
        with contextlib.suppress(ConfigError):
            assert all(isinstance(name, str) for name in container_smoke.signature_inputs(root))


@FAST
@given(
    st.binary(max_size=300)
    | DOCUMENTS.map(as_json)
    | DOCUMENTS.map(lambda d: as_json({"passed": True, "checks": d}))
    | DOCUMENTS.map(lambda d: as_json({"passed": "yes", "checks": [d], "inputs": {"champion": d}}))
)
def test_report_reads_any_gate_record(data):
    """The report's reading and rendering of gate records (the CLI runs dvc and git around it; see test_report)."""
    record = load_record(data)
    gate = Gate("gates/x.json", record, record is not None, record)
    assert gate.state in ("passed", "failed", "not run")
    assert gate.state != "passed" or record["passed"] is True
    for part in (
        report_sections.gate_table([gate]),
        report_sections.failures([gate]),
        report_sections.data_quality_diff([gate], "main"),
    ):
        assert all(isinstance(line, str) for line in part)
    report_sections.champion([gate])
