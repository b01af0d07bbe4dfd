import json
import os
import subprocess
import sys

import pytest
from support.data import GOOD_CSV, leftovers

from modelrail.cli import main

RECORD = "gates/data.json"


def gate(data, suite, record=RECORD):
    return main(["gate", "data", "--data", str(data), "--suite", str(suite), "--record", record])


def test_good_data_passes_and_records_every_expectation(workdir, suite, capsys):
    assert gate("good.csv", suite) == 0
    record = json.loads((workdir / "gates/data.json").read_text())
    assert record["passed"] is True
    assert record["gate"] == "data"
    assert len(record["checks"]) == len(json.loads(suite.read_text())["expectations"])
    assert all(check["success"] for check in record["checks"])
    assert len(record["inputs"]["data"][0]["md5"]) == 32
    assert len(record["inputs"]["suite"]["sha256"]) == 64
    assert record["versions"]["great_expectations"].startswith("1.")
    assert "data gate ✅ passed" in (workdir / "gates/data.md").read_text()
    out = capsys.readouterr().out
    checks = len(record["checks"])
    assert (
        out
        == f"data gate passed: {checks} of {checks} checks passed (record gates/data.json, full table gates/data.md)\n"
    )


BAD_CSV = {
    "missing_column": ("height,label\n1.5,a\n", ["missing column(s): count"]),
    "extra_column": ("height,count,label,extra\n1.5,1,a,9\n", ["unexpected column(s): extra"]),
    "wrong_type": (GOOD_CSV.replace("1.6,1,b", "tall,1,b"), ["column 'height'", "expected type float64, found text"]),
    "nulls": (GOOD_CSV.replace("1.6,1,b", ",1,b"), ["column 'height'", "expect_column_values_to_not_be_null"]),
    "out_of_range": (GOOD_CSV.replace("1.6,1,b", "99.0,1,b"), ["column 'height'", "99.0"]),
    "unknown_class": (GOOD_CSV.replace("1.6,1,b", "1.6,1,zz"), ["column 'label'", "zz"]),
    "empty": ("", ["the file is empty"]),
    "header_only": ("height,count,label\n", ["has a header but no rows"]),
    "truncated": (GOOD_CSV + "2.0,3", ["malformed or truncated CSV", "Expected 3 columns, got 2"]),
    "duplicate_columns": ("height,count,height\n1,2,3\n", ["duplicate column name(s)", "'height'"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_bad_csv_fails_naming_file_and_cause(workdir, suite, capsys, case):
    text, expected = BAD_CSV[case]
    (workdir / "bad.csv").write_text(text)
    assert gate("bad.csv", suite) == 1
    err = capsys.readouterr().err
    assert "bad.csv" in err
    for fragment in expected:
        assert fragment in err
    record = json.loads((workdir / "gates/data.json").read_text())
    assert record["passed"] is False
    assert leftovers(workdir) == []


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"height,count,label\n1.5,1,\xff\xfe\n", "line 2: bytes that are not UTF-8"),
        (bytes(range(256)) * 4, "binary data, not CSV text"),
    ],
    ids=["not_utf8", "binary_garbage"],
)
def test_undecodable_bytes_fail(workdir, suite, capsys, payload, expected):
    (workdir / "bad.csv").write_bytes(payload)
    assert gate("bad.csv", suite) == 1
    assert expected in capsys.readouterr().err


def test_parquet_is_validated_like_csv(workdir, suite):
    import pandas as pd

    frame = pd.read_csv(workdir / "good.csv")
    frame.to_parquet(workdir / "good.parquet")
    assert gate("good.parquet", suite) == 0
    frame.loc[0, "count"] = -50
    frame.to_parquet(workdir / "bad.parquet")
    assert gate("bad.parquet", suite) == 1
    (workdir / "broken.parquet").write_bytes(b"PAR1 not really")
    assert gate("broken.parquet", suite) == 1


def test_every_file_is_checked_when_several_are_given(workdir, suite, capsys):
    (workdir / "bad.csv").write_text("height,label\n1.5,a\n")
    args = ["gate", "data", "--data", "good.csv", "--data", "bad.csv", "--suite", str(suite)]
    assert main(args) == 1
    record = json.loads((workdir / "gates/suite.json").read_text())
    assert [entry["path"] for entry in record["inputs"]["data"]] == ["good.csv", "bad.csv"]
    assert {check["file"] for check in record["checks"]} == {"good.csv", "bad.csv"}


@pytest.mark.parametrize(
    ("suite_text", "expected"),
    [
        ("{not json", "not valid JSON"),
        ('{"name": "s", "expectations": []}', "'expectations' must be a non-empty list"),
        ('{"expectations": [{"type": "make_it_pass"}]}', "expectations[0]: key 'type'"),
        ('{"expectations": [{"type": "expect_the_moon", "kwargs": {}}]}', "(expect_the_moon) is not a valid"),
        ('{"expectations": [{"type": "expect_column_values_to_be_between"}]}', "field required"),
    ],
)
def test_bad_suite_is_a_config_error(workdir, capsys, suite_text, expected):
    (workdir / "good.csv").write_text(GOOD_CSV)
    (workdir / "bad_suite.json").write_text(suite_text)
    assert gate("good.csv", "bad_suite.json") == 2
    err = capsys.readouterr().err
    assert "bad_suite.json" in err and expected in err
    assert not (workdir / "gates").exists()


def test_missing_data_file_is_a_usage_error(workdir, suite, capsys):
    assert gate("nowhere.csv", suite) == 2
    assert "nowhere.csv: no such file" in capsys.readouterr().err


def test_annotations_and_step_summary_inside_github_actions(workdir, suite, capsys, monkeypatch):
    summary = workdir / "step_summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    (workdir / "bad.csv").write_text(GOOD_CSV.replace("1.6,1,b", "99.0,1,b"))
    assert gate("bad.csv", suite) == 1
    assert "::error file=bad.csv::data gate: bad.csv: column 'height'" in capsys.readouterr().out
    assert "data gate ❌ FAILED" in summary.read_text()


def test_the_terminal_shows_a_verdict_and_each_failure_once_grouped(workdir, suite, capsys):
    """A missing column fails every check on it: the terminal says so in one line, the table goes to the summary."""
    (workdir / "bad.csv").write_text("label\n" + "a\n" * 20)
    assert gate("bad.csv", suite) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("data gate FAILED: ") and len(captured.out.splitlines()) == 1
    errors = captured.err.splitlines()
    missing = [line for line in errors if "missing column(s)" in line]
    assert missing == ["ERROR: data gate: bad.csv: 2 missing column(s): height, count (7 checks fail on them)"], (
        captured.err
    )
    assert len(errors) == len(set(errors)), "a failure was printed twice"
    assert "|" not in captured.out + captured.err, "no table rows in the terminal"
    assert "| ❌ |" in (workdir / "gates/data.md").read_text()


@pytest.mark.parametrize(
    ("replace", "expected"),
    [
        (("1.6,1,b", "tall,1,b"), "expected type float64, found text (str): 1 of 20 values, e.g. row 2: 'tall'"),
        (("1.6,1,b", "99.0,1,b"), "1 of 20 values fail expect_column_values_to_be_between"),
    ],
    ids=["type", "range"],
)
def test_type_and_range_failures_show_a_count_and_examples_with_row_numbers(workdir, suite, capsys, replace, expected):
    (workdir / "bad.csv").write_text(GOOD_CSV.replace(*replace))
    assert gate("bad.csv", suite) == 1
    err = capsys.readouterr().err
    assert expected in err, err
    value = replace[1].split(",")[0]
    assert f"row 2: {value!r}" in err or f"row 2: {float(value)!r}" in err


def test_cli_failure_has_no_traceback(workdir, suite):
    (workdir / "bad.csv").write_bytes(b"\x00\x01\x02garbage")
    proc = subprocess.run(
        [sys.executable, "-m", "modelrail", "gate", "data", "--data", "bad.csv", "--suite", str(suite)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("ERROR: data gate: bad.csv: binary data")


# Python ignores SIGXFSZ at start-up; "killed" puts the default action back, so the kernel kills it mid-write.
CHILD = """
import signal, sys
if sys.argv.pop(1) == "killed":
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
from modelrail.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.subprocess
@pytest.mark.parametrize("on_limit", ["killed", "write fails"])
def test_an_interrupted_record_write_leaves_the_old_record_whole(workdir, suite, on_limit):
    """The new record is cut off by a file-size limit (half the old record's size) in a child process: SIGXFSZ kills
    it mid-write, or the write fails with EFBIG. Either way the old record stays, byte for byte."""
    import resource
    import signal

    assert gate("good.csv", suite) == 0
    old = (workdir / RECORD).read_bytes()
    (workdir / "bad.csv").write_text(GOOD_CSV.replace("1.6,1,b", "99.0,1,b"))  # a new verdict, a record as long

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (len(old) // 2, len(old) // 2))

    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            on_limit,
            "gate",
            "data",
            "--data",
            "bad.csv",
            "--suite",
            str(suite),
            "--record",
            RECORD,
        ],
        preexec_fn=limit_file_size,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
    )
    if on_limit == "killed":
        assert proc.returncode == -signal.SIGXFSZ, proc.stderr
    else:
        assert proc.returncode != 0 and "File too large" in proc.stderr, proc.stderr
        assert leftovers(workdir) == [], "a failed write left its temporary file"
    assert (workdir / RECORD).read_bytes() == old
    assert json.loads(old)["passed"] is True
