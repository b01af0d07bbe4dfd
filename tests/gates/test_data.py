import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from support.data import GOOD_CSV, leftovers

from modelrail.cli import main
from modelrail.files import digests
from modelrail.gates import data as data_gate

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
    out, err = capsys.readouterr()
    checks = len(record["checks"])
    assert (
        out
        == f"data gate passed: {checks} of {checks} checks passed (record gates/data.json, full table gates/data.md)\n"
    )
    assert err == "", "nothing else on the terminal (GX's progress bars are off)"


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


# GX keeps one expectation per type and column: without the refusal the first range would never be checked.
TWO_RANGES = [{"column": "count", "min_value": 0, "max_value": 2}, {"column": "count", "min_value": 5, "max_value": 9}]


@pytest.mark.parametrize(
    ("suite_text", "expected"),
    [
        ("{not json", "not valid JSON"),
        ('{"name": "s", "expectations": []}', "'expectations' must be a non-empty list"),
        ('{"expectations": [{"type": "make_it_pass"}]}', "expectations[0]: key 'type'"),
        ('{"expectations": [{"type": "expect_the_moon", "kwargs": {}}]}', "(expect_the_moon) is not a valid"),
        ('{"expectations": [{"type": "expect_column_values_to_be_between"}]}', "field required"),
        (
            json.dumps(
                {"expectations": [{"type": "expect_column_values_to_be_between", "kwargs": k} for k in TWO_RANGES]}
            ),
            "expectations[1] (expect_column_values_to_be_between) repeats an earlier expectation of the same type on "
            "the same column, which it would replace (fix: merge the two into one)",
        ),
    ],
    ids=["not_json", "no_expectations", "no_type", "unknown_type", "no_kwargs", "same_type_and_column_twice"],
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


# The record's fields and messages asserted whole: the mutation run showed that every part a test only searched for
# a fragment of (a count, a key, a row number, a column) could be changed without any test noticing.


def run_gate(*files: str, suite="suite.json") -> dict:
    """The gate run in this process on the files given, in that order; returns the record it wrote."""
    result = data_gate.run([Path(name) for name in files], Path(suite), Path(RECORD), Path("gates/data.md"))
    record = json.loads(Path(RECORD).read_text())
    assert record["passed"] is result.passed
    return record


def write_suite(*expectations: tuple[str, dict], path="custom.json") -> str:
    Path(path).write_text(
        json.dumps({"name": "custom", "expectations": [{"type": t, "kwargs": k} for t, k in expectations]})
    )
    return path


def test_the_record_names_every_input_and_a_file_that_cannot_be_read_does_not_stop_the_others(workdir, suite):
    (workdir / "truncated.csv").write_text("height,count,label\n1,2\n")
    record = run_gate("truncated.csv", "good.csv", suite=suite)
    assert record["gate"] == "data" and record["passed"] is False
    assert record["inputs"] == {
        "suite": {"path": str(suite), **digests(suite.read_bytes())},
        "engine": "pandas",
        "data": [{"path": "truncated.csv"}, {"path": "good.csv", "rows": 20, **digests(GOOD_CSV.encode())}],
    }
    assert sorted(record["versions"]) == ["great_expectations", "modelrail", "pandas", "pyarrow", "python"]
    unreadable, *checks = record["checks"]
    assert unreadable == {
        "name": "readable",
        "success": False,
        "message": "truncated.csv: malformed or truncated CSV: Expected 3 columns, got 2",
        "file": "truncated.csv",
    }
    # Every expectation of the suite, in its order, with the suite's own arguments (GX's batch_id left out).
    expectations = json.loads(suite.read_text())["expectations"]
    assert [(check["name"], check["details"]["kwargs"]) for check in checks] == [
        (e["type"], {key: value for key, value in e["kwargs"].items() if value is not None}) for e in expectations
    ]
    assert {(check["success"], check["message"], check["file"]) for check in checks} == {(True, "ok", "good.csv")}
    assert [check.get("column") for check in checks] == [e["kwargs"].get("column") for e in expectations]
    by_name = {(check["name"], check.get("column")): check["details"] for check in checks}
    assert by_name["expect_column_values_to_be_in_type_list", "height"] == {
        "kwargs": {"column": "height", "type_list": ["float64"]},
        "observed_value": "float64",
    }
    assert by_name["expect_column_values_to_not_be_null", "count"] == {
        "kwargs": {"column": "count"},
        "element_count": 20,
        "unexpected_count": 0,
        "unexpected_percent": 0.0,
    }
    assert "data gate ❌ FAILED" in (workdir / "gates/data.md").read_text()


def test_the_columns_checks_name_what_is_missing_what_is_extra_and_a_wrong_order(workdir):
    suite = write_suite(
        ("expect_table_columns_to_match_set", {"column_set": ["height", "count", "label", "weight"]}),
        ("expect_table_columns_to_match_ordered_list", {"column_list": ["height", "count", "label", "weight"]}),
        ("expect_table_row_count_to_be_between", {"min_value": 10}),
    )
    (workdir / "bad.csv").write_text("count,height,extra,more\n1,2.0,a,b\n")
    (workdir / "swapped.csv").write_text("height,label,count,weight\n" + "2.0,a,1,3\n" * 10)
    record = run_gate("bad.csv", "swapped.csv", suite=suite)
    missing_and_extra = {"missing_columns": ["label", "weight"], "unexpected_columns": ["extra", "more"]}
    assert [check for check in record["checks"] if check["file"] == "bad.csv"] == [
        {
            "name": "expect_table_columns_to_match_set",
            "success": False,
            "message": "bad.csv: missing column(s): label, weight; unexpected column(s): extra, more",
            "file": "bad.csv",
            "details": {
                "kwargs": {"column_set": ["height", "count", "label", "weight"]},
                "observed_value": ["count", "extra", "height", "more"],
                **missing_and_extra,
            },
        },
        {
            "name": "expect_table_columns_to_match_ordered_list",
            "success": False,
            "message": "bad.csv: missing column(s): label, weight; unexpected column(s): extra, more",
            "file": "bad.csv",
            "details": {
                "kwargs": {"column_list": ["height", "count", "label", "weight"]},
                "observed_value": ["count", "height", "extra", "more"],
                **missing_and_extra,
            },
        },
        {
            "name": "expect_table_row_count_to_be_between",
            "success": False,
            "message": "bad.csv: expect_table_row_count_to_be_between(min_value=10) observed 1",
            "file": "bad.csv",
            "details": {"kwargs": {"min_value": 10}, "observed_value": 1},
        },
    ]
    swapped = [(check["success"], check["message"]) for check in record["checks"] if check["file"] == "swapped.csv"]
    assert swapped == [(True, "ok"), (False, "swapped.csv: columns are out of order"), (True, "ok")]
    out_of_order = record["checks"][4]["details"]
    assert (out_of_order["missing_columns"], out_of_order["unexpected_columns"]) == ([], [])


# Nine rows: seven heights that are not numbers (an empty text field among them: a text column keeps it as ''), one
# count that is not a whole number, labels that are text.
MIXED_CSV = "height,count,label\n" + "".join(
    f"{height},{count},{label}\n"
    for height, count, label in [
        ("tall", 1, "a"),
        ("", 2, "b"),
        ("x1", 3, "c"),
        ("1.5", 4, "d"),
        ("x2", 5, "e"),
        ("x3", 6, "f"),
        ("x4", 7, "g"),
        ("x5", 8.5, "h"),
        ("2.0", 9, "a"),
    ]
)


def test_a_type_failure_counts_the_values_that_do_not_fit_with_five_examples_and_their_rows(workdir):
    suite = write_suite(
        ("expect_column_values_to_be_in_type_list", {"column": "height", "type_list": ["float64"]}),
        ("expect_column_values_to_be_in_type_list", {"column": "count", "type_list": ["int64", "int32"]}),
        ("expect_column_values_to_be_in_type_list", {"column": "label", "type_list": ["number"]}),
    )
    (workdir / "mixed.csv").write_text(MIXED_CSV)
    record = run_gate("mixed.csv", suite=suite)
    checks = {check["column"]: check for check in record["checks"]}
    assert checks["height"] == {
        "name": "expect_column_values_to_be_in_type_list",
        "success": False,
        # Row 2's empty field is missing, not text: a not-null expectation judges it, the type check does not.
        "message": "mixed.csv: column 'height': expected type float64, found text (str): 6 of 8 values, "
        "e.g. row 1: 'tall', row 3: 'x1', row 5: 'x2', row 6: 'x3', row 7: 'x4'",
        "file": "mixed.csv",
        "column": "height",
        "details": {
            "kwargs": {"column": "height", "type_list": ["float64"]},
            "element_count": 8,
            "unexpected_count": 6,
            "unexpected_percent": 100 * 6 / 8,
            "unexpected_examples": ["tall", "x1", "x2", "x3", "x4"],
            "unexpected_rows": [1, 3, 5, 6, 7],
        },
    }
    assert checks["count"]["message"] == (
        "mixed.csv: column 'count': expected type int64 or int32, found float64: 1 of 9 values, e.g. row 8: 8.5"
    )
    assert checks["count"]["details"] == {
        "kwargs": {"column": "count", "type_list": ["int64", "int32"]},
        "observed_value": "float64",
        "element_count": 9,
        "unexpected_count": 1,
        "unexpected_percent": 100 / 9,
        "unexpected_examples": [8.5],
        "unexpected_rows": [8],
    }
    assert checks["label"]["message"] == (
        "mixed.csv: column 'label': expected type number, found text (str): 9 of 9 values, "
        "e.g. row 1: 'a', row 2: 'b', row 3: 'c', row 4: 'd', row 5: 'e'"
    )


def test_a_type_failure_of_a_text_type_has_no_count_of_values(workdir):
    suite = write_suite(("expect_column_values_to_be_in_type_list", {"column": "count", "type_list": ["str"]}))
    (workdir / "good.csv").write_text(GOOD_CSV)
    record = run_gate("good.csv", suite=suite)
    assert record["checks"] == [
        {
            "name": "expect_column_values_to_be_in_type_list",
            "success": False,
            "message": "good.csv: column 'count': expected type str, found int64",
            "file": "good.csv",
            "column": "count",
            "details": {"kwargs": {"column": "count", "type_list": ["str"]}, "observed_value": "int64"},
        }
    ]


@pytest.mark.parametrize("name", ["int64", "Float32", "DoubleType", "number"])
def test_every_numeric_type_name_counts_the_values_that_are_not_numbers(name):
    import pandas as pd

    details = {}
    data_gate._count_wrong_types(pd.Series(["1", None, "x", "2", "y", "z", "u", "v", "w"]), ["str", name], details)
    assert details == {
        "element_count": 8,
        "unexpected_count": 6,
        "unexpected_percent": 75.0,
        "unexpected_examples": ["x", "y", "z", "u", "v"],
        "unexpected_rows": [3, 5, 6, 7, 8],
    }


def test_a_value_failure_counts_and_quotes_five_examples_and_a_missing_column_is_named_once(workdir):
    suite = write_suite(
        ("expect_column_values_to_be_between", {"column": "count", "min_value": 0, "max_value": 2}),
        ("expect_column_values_to_be_in_set", {"column": "label", "value_set": ["a", "b"]}),
        ("expect_column_values_to_not_be_null", {"column": "weight"}),
    )
    (workdir / "mixed.csv").write_text(MIXED_CSV)
    record = run_gate("mixed.csv", suite=suite)
    # GX lists a check that raised (the missing column) first; the order of the others is the suite's.
    assert sorted(record["checks"], key=lambda check: check["column"]) == [
        {
            "name": "expect_column_values_to_be_between",
            "success": False,
            "message": "mixed.csv: column 'count': 7 of 9 values fail expect_column_values_to_be_between("
            "min_value=0.0, max_value=2.0), e.g. row 3: 3.0, row 4: 4.0, row 5: 5.0, row 6: 6.0, row 7: 7.0",
            "file": "mixed.csv",
            "column": "count",
            "details": {
                "kwargs": {"column": "count", "min_value": 0.0, "max_value": 2.0},
                "element_count": 9,
                "unexpected_count": 7,
                "unexpected_percent": 77.77777777777779,  # GX computes 7 / 9 * 100
                "unexpected_examples": [3.0, 4.0, 5.0, 6.0, 7.0],
                "unexpected_rows": [3, 4, 5, 6, 7],
            },
        },
        {
            "name": "expect_column_values_to_be_in_set",
            "success": False,
            "message": "mixed.csv: column 'label': 6 of 9 values fail expect_column_values_to_be_in_set("
            "value_set=['a', 'b']), e.g. row 3: 'c', row 4: 'd', row 5: 'e', row 6: 'f', row 7: 'g'",
            "file": "mixed.csv",
            "column": "label",
            "details": {
                "kwargs": {"column": "label", "value_set": ["a", "b"]},
                "element_count": 9,
                "unexpected_count": 6,
                "unexpected_percent": 66.66666666666666,
                "unexpected_examples": ["c", "d", "e", "f", "g"],
                "unexpected_rows": [3, 4, 5, 6, 7],
            },
        },
        {
            "name": "expect_column_values_to_not_be_null",
            "success": False,
            "message": "column 'weight' is missing from mixed.csv",
            "file": "mixed.csv",
            "column": "weight",
            "details": {"kwargs": {"column": "weight"}, "missing_column": True},
        },
    ]


def test_a_check_that_gx_could_not_evaluate_fails_saying_so(workdir):
    """A range on a text column: GX raises inside the check and reports no counts; the check fails all the same."""
    suite = write_suite(("expect_column_values_to_be_between", {"column": "height", "min_value": 0, "max_value": 2}))
    (workdir / "mixed.csv").write_text(MIXED_CSV)
    assert run_gate("mixed.csv", suite=suite)["checks"] == [
        {
            "name": "expect_column_values_to_be_between",
            "success": False,
            "message": "mixed.csv: column 'height': expect_column_values_to_be_between(min_value=0.0, max_value=2.0) "
            "failed",
            "file": "mixed.csv",
            "column": "height",
            "details": {"kwargs": {"column": "height", "min_value": 0.0, "max_value": 2.0}},
        }
    ]


def test_values_of_a_file_outside_the_repository_are_counted_but_never_quoted(workdir, suite, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "data.csv"
    outside.write_text(GOOD_CSV.replace("1.6,1,b", "99.0,1,b"))
    (workdir / "linked.csv").symlink_to(outside)
    record = run_gate("linked.csv", suite=suite)
    failed = [check for check in record["checks"] if not check["success"]]
    assert failed == [
        {
            "name": "expect_column_values_to_be_between",
            "success": False,
            "message": "linked.csv: column 'height': 1 of 20 values fail expect_column_values_to_be_between("
            "min_value=1.31, max_value=3.59)",
            "file": "linked.csv",
            "column": "height",
            "details": {
                "kwargs": {"column": "height", "min_value": 1.31, "max_value": 3.59},
                "element_count": 20,
                "unexpected_count": 1,
                "unexpected_percent": 5.0,
            },
        }
    ]


def outcome(kind: str, kwargs: dict, result: dict | None, success: bool = False):
    """A GX validation result as `_to_check` reads it (GX adds the batch_id to the arguments)."""
    config = SimpleNamespace(type=kind, kwargs={**kwargs, "batch_id": "modelrail-data"})
    return SimpleNamespace(expectation_config=config, result=result, success=success)


# A Spark table as `_to_check` sees it: schema type names, no pandas frame to count values in.
SPARK_TABLE = SimpleNamespace(
    path=Path("big.parquet"), columns=["height", "label"], type_name=lambda column: "StringType"
)
TYPE_CHECK = "expect_column_values_to_be_in_type_list"


def test_a_spark_type_check_is_recorded_in_the_suites_words(workdir):
    type_lists = {"height": ["float64"], "label": ["str"]}
    check = data_gate._to_check(
        outcome(TYPE_CHECK, {"column": "height", "type_list": ["DoubleType"]}, {"observed_value": "StringType"}),
        SPARK_TABLE,
        type_lists,
    )
    assert vars(check) == {
        "name": TYPE_CHECK,
        "success": False,
        "message": "big.parquet: column 'height': expected type float64, found text (StringType)",
        "file": "big.parquet",
        "column": "height",
        "details": {"kwargs": {"column": "height", "type_list": ["float64"]}, "observed_value": "StringType"},
    }
    # A column the suite's type lists do not name keeps the Spark names; another check's arguments are left alone.
    unnamed = data_gate._to_check(
        outcome(TYPE_CHECK, {"column": "label", "type_list": ["LongType"]}, {}), SPARK_TABLE, {}
    )
    assert unnamed.details == {"kwargs": {"column": "label", "type_list": ["LongType"]}}
    in_set = data_gate._to_check(
        outcome("expect_column_values_to_be_in_set", {"column": "label", "value_set": ["a"]}, None, success=True),
        SPARK_TABLE,
        type_lists,
    )
    assert vars(in_set) == {
        "name": "expect_column_values_to_be_in_set",
        "success": True,
        "message": "ok",
        "file": "big.parquet",
        "column": "label",
        "details": {"kwargs": {"column": "label", "value_set": ["a"]}},
    }


def test_examples_without_their_rows_are_quoted_alone_and_a_count_without_a_total_says_so(workdir):
    result = {"unexpected_count": 2, "partial_unexpected_list": ["x", 7], "partial_unexpected_index_list": [4]}
    check = data_gate._to_check(outcome("expect_column_values_to_be_in_set", {"column": "label"}, result), SPARK_TABLE)
    assert (
        check.message
        == "big.parquet: column 'label': 2 of ? values fail expect_column_values_to_be_in_set(), e.g. ['x', 7]"
    )
    assert check.details == {"kwargs": {"column": "label"}, "unexpected_count": 2, "unexpected_examples": ["x", 7]}


def test_examples_quote_their_rows_when_every_row_is_known():
    assert data_gate._examples({}) == ""
    assert data_gate._examples({"unexpected_examples": [], "unexpected_rows": []}) == ""
    assert (
        data_gate._examples({"unexpected_examples": ["x", 7], "unexpected_rows": [3, 9]})
        == ", e.g. row 3: 'x', row 9: 7"
    )
    assert data_gate._examples({"unexpected_examples": ["x", 7], "unexpected_rows": [3]}) == ", e.g. ['x', 7]"


def test_record_values_are_plain_json():
    import numpy as np
    import pandas as pd

    plain = data_gate._plain(
        [np.int64(3), (np.float64(1.5), float("nan")), None, "x", True, pd.Timestamp("2026-01-02")]
    )
    assert plain == [3, [1.5, None], None, "x", True, "2026-01-02 00:00:00"]
    assert [type(value) for value in plain] == [int, list, type(None), str, bool, str]
    assert data_gate._plain(pd.NA) == "<NA>"
    assert data_gate._plain(np.float64("nan")) is None


def test_only_an_integer_type_list_counts_the_numbers_that_are_not_whole():
    import pandas as pd

    def counted(values: list, type_list: list[str]) -> dict:
        details = {}
        data_gate._count_wrong_types(pd.Series(values, dtype=object), type_list, details)
        return details

    assert counted([1, 8.5, "x"], ["Int64", "int32"])["unexpected_examples"] == [8.5, "x"]
    assert counted([1, 8.5, "x"], ["int64", "float64"])["unexpected_examples"] == ["x"]
    assert counted([None, None], ["int64"]) == {
        "element_count": 0,
        "unexpected_count": 0,
        "unexpected_percent": 0.0,
        "unexpected_examples": [],
        "unexpected_rows": [],
    }


# The Spark engine's wiring, without Spark: what runs on it is in test_data_spark.py (marked services).
SPARK_SUITE = data_gate.Suite(
    path=Path("raw.json"),
    name="raw",
    expectations=[
        {"type": TYPE_CHECK, "kwargs": {"column": "height", "type_list": ["float64", "int64", "decimal"]}},
        {"type": TYPE_CHECK, "kwargs": {"column": "count", "type_list": "int64"}},  # not a list: left to GX to refuse
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "height"}},
    ],
    digests={},
)


def test_on_spark_a_suites_pandas_type_names_become_spark_schema_types():
    assert data_gate._for_engine(SPARK_SUITE, "pandas") is SPARK_SUITE
    spark_suite = data_gate._for_engine(SPARK_SUITE, "spark")
    assert spark_suite == data_gate.Suite(
        path=Path("raw.json"),
        name="raw",
        expectations=[
            {
                "type": TYPE_CHECK,
                "kwargs": {
                    "column": "height",
                    "type_list": ["DoubleType", "LongType", "IntegerType", "ShortType", "ByteType", "decimal"],
                },
            },
            SPARK_SUITE.expectations[1],
            SPARK_SUITE.expectations[2],
        ],
        digests={},
    )
    assert SPARK_SUITE.expectations[0]["kwargs"]["type_list"] == ["float64", "int64", "decimal"], "suite unchanged"
    assert data_gate._suite_type_lists(SPARK_SUITE) == {"height": ["float64", "int64", "decimal"], "count": "int64"}


def test_the_spark_engine_starts_its_session_with_the_configuration_and_records_in_the_suites_words(monkeypatch):
    import modelrail.engines
    import modelrail.spark_data

    session, config = object(), {"spark": {"master": "local[1]"}}
    started, validated = [], []
    monkeypatch.setattr(modelrail.engines, "spark_session", lambda given: started.append(given) or session)
    monkeypatch.setattr(modelrail.spark_data, "load_spark_table", lambda spark, path: ("table", spark, path))
    monkeypatch.setattr(data_gate, "_validate_spark", lambda *args: validated.append(args) or ["check"])
    load, validate = data_gate._engine("spark", config, SPARK_SUITE)
    assert started == [config]
    assert load(Path("big.parquet")) == ("table", session, Path("big.parquet"))
    assert validate("the table", "the GX suite") == ["check"]
    assert validated == [("the table", "the GX suite", data_gate._suite_type_lists(SPARK_SUITE))]
    assert data_gate._engine("pandas", config, SPARK_SUITE) == (data_gate.load_table, data_gate._validate)
    assert started == [config], "pandas starts no Spark session"


def test_the_gate_hands_the_engine_its_configuration_and_records_pyspark(workdir, suite, monkeypatch):
    import modelrail.engines
    import modelrail.spark_data

    config = {"spark": {"master": "local[1]"}}
    started = []
    monkeypatch.setattr(modelrail.engines, "spark_session", lambda given: started.append(given) or "session")
    monkeypatch.setattr(modelrail.spark_data, "load_spark_table", lambda spark, path: data_gate.load_table(path))
    monkeypatch.setattr(data_gate, "_validate_spark", lambda table, gx_suite, type_lists: [])
    result = data_gate.run([Path("good.csv")], suite, Path(RECORD), Path("gates/data.md"), "spark", config)
    assert started == [config]
    assert result.inputs["engine"] == "spark"
    assert sorted(json.loads(Path(RECORD).read_text())["versions"]) == [
        "great_expectations",
        "modelrail",
        "pandas",
        "pyarrow",
        "pyspark",
        "python",
    ]
    data_gate.run([Path("good.csv")], suite, Path(RECORD), Path("gates/data.md"), "spark")
    assert started == [config, {}], "no configuration is an empty one"


def test_a_great_expectations_project_in_the_repository_is_left_alone(workdir, suite):
    """The gate's GX context is ephemeral: a `gx/` project of the model team's (or GX Cloud settings) never receives
    the gate's data sources, and two files do not collide on the data source's name there."""
    import great_expectations as gx

    gx.get_context(mode="file", project_root_dir=workdir)
    project = {path: path.read_bytes() for path in (workdir / "gx").rglob("*") if path.is_file()}
    assert project, "GX wrote its project"
    (workdir / "again.csv").write_text(GOOD_CSV)
    assert run_gate("good.csv", "again.csv", suite=suite)["passed"] is True
    assert {path: path.read_bytes() for path in (workdir / "gx").rglob("*") if path.is_file()} == project


def test_an_empty_field_in_a_text_column_is_missing_for_a_not_null_expectation(workdir):
    suite = write_suite(
        ("expect_column_values_to_not_be_null", {"column": "colour"}),
        ("expect_column_values_to_not_be_null", {"column": "size"}),
    )
    (workdir / "blank.csv").write_text("size,colour\n1.0,red\n,\n2.0,blue\n")
    record = run_gate("blank.csv", suite=suite)
    messages = {check["column"]: check["message"] for check in record["checks"] if not check["success"]}
    assert set(messages) == {"colour", "size"}
    assert "column 'colour': 1 of 3 values fail expect_column_values_to_not_be_null(), e.g. row 2" in messages["colour"]
