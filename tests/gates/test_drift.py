import hashlib
import itertools
import json
import math
import random
from pathlib import Path

import pytest

from modelrail.cli import main
from modelrail.gates.drift_columns import psi

HEADER = "size,weight,colour,label\n"


def rows(count: int, seed: int, shift: float = 0.0, colours: str = "rgb", blank_weight: float = 0.0) -> str:
    """Synthetic data: a continuous column, a second one, a categorical one and a low-cardinality label."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        weight = "" if rng.random() < blank_weight else f"{rng.gauss(70, 10):.3f}"
        lines.append(f"{rng.gauss(10 + shift, 2):.4f},{weight},{rng.choice(colours)},{rng.randint(0, 1)}\n")
    return HEADER + "".join(lines)


@pytest.fixture
def reference(workdir) -> Path:
    path = workdir / "reference.csv"
    path.write_text(rows(1000, seed=1))
    return path


def drift(*args: str) -> int:
    return main(["drift", *args])


def record(path="gates/drift.json") -> dict:
    return json.loads(Path(path).read_text())


def test_psi_is_zero_for_equal_shares_and_grows_with_the_shift():
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0
    expected = (0.7 - 0.5) * math.log(0.7 / 0.5) + (0.3 - 0.5) * math.log(0.3 / 0.5)
    assert psi([0.5, 0.5], [0.7, 0.3]) == pytest.approx(expected)
    assert psi([0.5, 0.5], [0.9, 0.1]) > expected
    # An empty bin does not make it infinite.
    assert math.isfinite(psi([1.0, 0.0], [0.0, 1.0]))


def test_undrifted_data_passes_and_records_both_inputs(workdir, reference, capsys):
    current = workdir / "current.csv"
    current.write_text(rows(800, seed=2))
    assert drift("--reference", str(reference), "--current", str(current)) == 0
    data = record()
    assert data["gate"] == "drift" and data["passed"] is True
    assert data["inputs"]["reference"]["rows"] == 1000 and "sha256" in data["inputs"]["current"]
    methods = {check["column"]: check["details"]["method"] for check in data["checks"]}
    assert methods == {
        "size": "PSI (10 quantile bins) + KS",
        "weight": "PSI (10 quantile bins) + KS",
        "colour": "PSI (categories)",
        "label": "PSI (categories)",
    }
    size = next(check for check in data["checks"] if check["column"] == "size")
    ks, pvalue = size["details"]["ks"], size["details"]["pvalue"]
    psi_text = f"PSI {size['details']['psi']:.3f}"
    assert size["message"] == f"{psi_text}, KS distance {ks:.3f} (p={pvalue:.2g}): within the limits"
    report = Path("gates/drift.md").read_text()
    assert "drift gate ✅ passed" in report and "```mermaid" not in report
    assert "drift gate passed: " in capsys.readouterr().out


def test_a_shifted_numeric_column_fails_with_its_name_and_a_chart(workdir, reference, capsys):
    current = workdir / "current.csv"
    current.write_text(rows(800, seed=2, shift=1.5))
    assert drift("--reference", str(reference), "--current", str(current)) == 1
    err = capsys.readouterr().err
    assert f"{current}: column 'size' drifted: PSI" in err
    assert "'weight'" not in err
    failed = [check for check in record()["checks"] if not check["success"]]
    assert [check["column"] for check in failed] == ["size"]
    assert failed[0]["details"]["ks"] > 0.2 and len(failed[0]["details"]["bins"]) == 10
    report = Path("gates/drift.md").read_text()
    assert report.count("```mermaid") == 1 and "##### size" in report
    assert 'title "size: % of rows per bin' in report


def test_a_new_category_and_more_missing_values_are_drift(workdir, reference, capsys):
    current = workdir / "current.csv"
    current.write_text(rows(800, seed=2, colours="rgbyy", blank_weight=0.3))
    assert drift("--reference", str(reference), "--current", str(current)) == 1
    failed = {check["column"]: check for check in record()["checks"] if not check["success"]}
    assert set(failed) == {"colour", "weight"}
    assert "(other)" in failed["colour"]["details"]["bins"]
    assert failed["weight"]["details"]["bins"][-1] == "(missing)"


def test_thresholds_come_from_modelrail_yaml_globally_and_per_column(workdir, reference):
    current = workdir / "current.csv"
    current.write_text(rows(800, seed=2, shift=1.5))
    config = workdir / "modelrail.yaml"
    config.write_text("environments: [production]\ndrift:\n  columns:\n    size: {psi: 5, ks: 1}\n")
    # modelrail.yaml in the working directory is read without --config.
    assert drift("--reference", str(reference), "--current", str(current)) == 0
    assert record()["inputs"]["config"] == "modelrail.yaml"
    config.write_text("environments: [production]\ndrift: {psi: 0.001, ks: 1}\n")
    assert drift("--reference", str(reference), "--current", str(reference), "--config", str(config)) == 0
    assert drift("--reference", str(reference), "--current", str(current), "--config", str(config)) == 1
    assert len([check for check in record()["checks"] if not check["success"]]) >= 2


def test_excluded_columns_are_skipped_and_extra_current_columns_are_noted(workdir, reference):
    current = workdir / "current.csv"
    # Prediction logs: no label, but a prediction column the reference does not have.
    lines = rows(500, seed=3).splitlines()
    current.write_text(
        "\n".join(",".join([*line.split(",")[:3], "prediction" if i == 0 else "1"]) for i, line in enumerate(lines))
    )
    (workdir / "modelrail.yaml").write_text("environments: [production]\ndrift: {exclude: [label]}\n")
    assert drift("--reference", str(reference), "--current", str(current)) == 0
    assert {check["column"] for check in record()["checks"]} == {"size", "weight", "colour"}
    report = Path("gates/drift.md").read_text()
    assert "Not compared (not in the reference): prediction." in report
    assert "Excluded by drift.exclude: label." in report
    # Several names are listed with commas.
    current.write_text("\n".join(line + (",score,rank" if i == 0 else ",1,2") for i, line in enumerate(lines)))
    (workdir / "modelrail.yaml").write_text("environments: [production]\ndrift: {exclude: [label, colour]}\n")
    drift("--reference", str(reference), "--current", str(current))
    report = Path("gates/drift.md").read_text()
    assert "Not compared (not in the reference): score, rank." in report
    assert "Excluded by drift.exclude: label, colour." in report


def test_a_missing_column_fails_naming_it_and_the_fix(workdir, reference, capsys):
    current = workdir / "current.csv"
    current.write_text("\n".join(",".join(line.split(",")[:3]) for line in rows(500, seed=3).splitlines()))
    assert drift("--reference", str(reference), "--current", str(current)) == 1
    err = capsys.readouterr().err
    assert f"{current}: column 'label' of the reference {reference} is missing" in err
    assert "drift.exclude" in err
    (check,) = [check for check in record()["checks"] if check["column"] == "label"]
    assert (check["name"], check["success"], check["file"]) == ("drift column present", False, str(current))
    # A missing column does not end the comparison: the columns after it are still compared.
    current.write_text("\n".join(",".join(line.split(",")[1:]) for line in rows(500, seed=3).splitlines()))
    assert drift("--reference", str(reference), "--current", str(current)) == 1
    names = {check["column"]: check["name"] for check in record()["checks"]}
    assert names == {
        "size": "drift column present",
        "weight": "drift psi+ks",
        "colour": "drift psi",
        "label": "drift psi",
    }


def test_text_in_a_numeric_column_fails_naming_the_column(workdir, reference, capsys):
    current = workdir / "current.csv"
    current.write_text(rows(500, seed=3).replace(HEADER, HEADER + "big,70.1,r,1\n", 1))
    assert drift("--reference", str(reference), "--current", str(current)) == 1
    assert "column 'size' is text (e.g. 'big') but numeric" in capsys.readouterr().err
    checks = {check["column"]: check for check in record()["checks"]}
    assert (checks["size"]["name"], checks["size"]["success"]) == ("drift column type", False)
    assert checks["size"]["file"] == str(current)
    # The other columns are still compared.
    assert [checks[name]["name"] for name in ("weight", "colour", "label")] == [
        "drift psi+ks",
        "drift psi",
        "drift psi",
    ]


def test_text_in_a_numeric_category_column_fails_naming_it(workdir, reference, capsys):
    # `label` holds few distinct numbers: binned by value, as a category, but still numbers.
    current = workdir / "current.csv"
    long = "yes, and a long answer that goes on past forty characters"
    current.write_text(rows(500, seed=3).replace(HEADER, HEADER + f'10.2,70.1,r,"{long}"\n', 1))
    assert drift("--reference", str(reference), "--current", str(current)) == 1
    assert f"column 'label' is text (e.g. {long[:40]!r}) but numeric" in capsys.readouterr().err


def test_every_figure_is_recorded_to_six_decimals_with_the_file(workdir):
    from modelrail.gates import drift as drift_gate

    reference, current = workdir / "reference.csv", workdir / "current.csv"
    reference.write_text(rows(997, seed=1))  # 997 rows: shares with more than six decimals on both sides
    current.write_text(rows(700, seed=9, shift=0.2, colours="rgbx"))
    result = drift_gate.run(reference, current, None, None, workdir / "r.json", workdir / "r.md")
    checks = {check.column: check for check in result.checks}
    for column in result.columns:
        details = checks[column.column].details
        assert checks[column.column].file == str(current)
        assert details["psi"] == round(column.psi, 6)
        assert details["reference_shares"] == [round(share, 6) for share in column.reference_shares]
        assert details["current_shares"] == [round(share, 6) for share in column.current_shares]
        if column.ks is not None:
            assert (details["ks"], details["ks_error_bound"]) == (round(column.ks, 6), round(column.ks_error_bound, 6))
        if column.unseen_share is not None:
            assert details["unseen_share"] == round(column.unseen_share, 6)
    # Not already round: six decimals are a choice, not what the figures happen to be.
    figures = [column.psi for column in result.columns] + [column.ks for column in result.columns if column.ks]
    assert all(round(figure, 7) != round(figure, 6) for figure in figures)
    for shares in (
        [column.reference_shares for column in result.columns],
        [column.current_shares for column in result.columns],
    ):
        assert any(round(share, 7) != round(share, 6) for column in shares for share in column)


def test_a_folder_of_prediction_logs_is_concatenated(workdir, reference):
    logs = workdir / "logs"
    (logs / "2024-06-02").mkdir(parents=True)
    (logs / "2024-06-01.csv").write_text(rows(300, seed=4))
    import pandas as pd

    pd.read_csv(pd.io.common.StringIO(rows(300, seed=5))).to_parquet(logs / "2024-06-02" / "part-0.parquet")
    (logs / "README.txt").write_text("not data")
    (logs / ".hidden.csv").write_text("not,data\n")
    assert drift("--reference", str(reference), "--current", str(logs)) == 0
    current = record()["inputs"]["current"]
    assert current["rows"] == 600
    assert [Path(item["path"]).name for item in current["files"]] == ["2024-06-01.csv", "part-0.parquet"]


def test_an_empty_folder_is_a_usage_error(workdir, reference, capsys):
    (workdir / "logs").mkdir()
    assert drift("--reference", str(reference), "--current", "logs") == 2
    assert "logs: the folder holds no .csv or .parquet files" in capsys.readouterr().err


def test_log_files_with_different_columns_name_the_file(workdir, reference, capsys):
    logs = workdir / "logs"
    logs.mkdir()
    (logs / "a.csv").write_text(rows(300, seed=4))
    (logs / "b.csv").write_text(rows(300, seed=5).replace("colour", "color", 1))
    assert drift("--reference", str(reference), "--current", str(logs)) == 1
    err = capsys.readouterr().err
    assert f"{logs / 'b.csv'}: columns differ from {logs / 'a.csv'}" in err
    assert "missing column(s): colour; unexpected column(s): color" in err
    assert record()["passed"] is False
    # Each part only when it applies, every name listed.
    (logs / "b.csv").write_text("size,weight\n1.0,2.0\n")
    drift("--reference", str(reference), "--current", str(logs))
    assert f"columns differ from {logs / 'a.csv'}: missing column(s): colour, label\n" in capsys.readouterr().err
    (logs / "b.csv").write_text(
        rows(3, seed=5).replace("label", "label,x,y").replace(",0\n", ",0,1,2\n").replace(",1\n", ",1,1,2\n")
    )
    drift("--reference", str(reference), "--current", str(logs))
    assert f"columns differ from {logs / 'a.csv'}: unexpected column(s): x, y\n" in capsys.readouterr().err


def test_rows_are_counted_per_file_across_batches(workdir, reference):
    import pandas as pd

    from modelrail.gates import drift as drift_gate

    logs = workdir / "logs"
    logs.mkdir()
    # Parquet, read in batches of batch_rows rows (CSV is read in blocks of at least 1 MiB: one batch here).
    for name, count, seed in (("a", 7, 4), ("b", 5, 5)):
        pd.read_csv(pd.io.common.StringIO(rows(count, seed=seed))).to_parquet(logs / f"{name}.parquet")
    result = drift_gate.run(reference, logs, None, None, workdir / "r.json", workdir / "r.md", batch_rows=2)
    assert [entry["rows"] for entry in result.inputs["current"]["files"]] == [7, 5]
    # Each file named by its sha256 alone (not md5 as well: hashing many GB twice is what the record avoids).
    assert [set(entry) for entry in result.inputs["current"]["files"]] == [{"path", "rows", "sha256"}] * 2
    sha256 = hashlib.sha256((logs / "a.parquet").read_bytes()).hexdigest()
    assert result.inputs["current"]["files"][0]["sha256"] == sha256


def test_parts_counted_apart_add_up_to_one_pass_in_the_datas_order(workdir, reference):
    """Row groups and files are counted on every core, each apart, then added up in order: the record equals the
    one of the same rows in one part, down to which never-seen values it gives as examples (the first, in order)."""
    import io

    import pandas as pd

    from modelrail.data_files import data_parts
    from modelrail.gates import drift as drift_gate

    frame = pd.read_csv(io.StringIO(rows(4000, seed=8, shift=0.4, blank_weight=0.1)))
    frame.loc[::500, "colour"] = [f"new{index}" for index in range(8)]
    whole, parts = workdir / "whole.parquet", workdir / "parts"
    frame.to_parquet(whole, row_group_size=len(frame))
    parts.mkdir()
    for index, start in enumerate(range(0, 4000, 1000)):
        frame.iloc[start : start + 1000].to_parquet(parts / f"part-{index}.parquet", row_group_size=250)
    assert len(data_parts(whole)) == 1 and len(data_parts(parts)) == 16
    one = drift_gate.run(reference, whole, None, None, workdir / "one.json", workdir / "one.md", batch_rows=100)
    many = drift_gate.run(reference, parts, None, None, workdir / "many.json", workdir / "many.md", batch_rows=100)
    assert [check.details for check in many.checks] == [check.details for check in one.checks]
    assert [check.message.replace(str(parts), str(whole)) for check in many.checks] == [
        check.message for check in one.checks
    ]
    colour = next(check for check in many.checks if check.column == "colour")
    assert colour.details["unseen_examples"] == ["new0", "new1", "new2", "new3", "new4"]
    assert [entry["rows"] for entry in many.inputs["current"]["files"]] == [1000] * 4


@pytest.mark.parametrize(
    ("content", "expected"),
    [("", "the file is empty"), (HEADER, "has a header but no rows"), ("a,b\n1,2,3\n", "malformed or truncated CSV")],
)
def test_unreadable_current_data_fails_the_gate_with_a_record(workdir, reference, capsys, content, expected):
    (workdir / "current.csv").write_text(content)
    assert drift("--reference", str(reference), "--current", "current.csv") == 1
    assert expected in capsys.readouterr().err
    assert {key: record()["checks"][0][key] for key in ("name", "success", "file")} == {
        "name": "readable",
        "success": False,
        "file": "current.csv",
    }
    assert record()["inputs"]["current"] == {"path": "current.csv"}


def test_unreadable_current_data_fails_the_suite_too_once_named(workdir, reference, suite, capsys):
    (workdir / "current.csv").write_text("")
    assert drift("--reference", str(reference), "--current", "current.csv", "--suite", str(suite)) == 1
    unreadable = {
        "name": "readable",
        "success": False,
        "message": "current.csv: the file is empty",
        "file": "current.csv",
    }
    # One for the drift part, one for the suite's, each whole.
    assert record()["checks"] == [unreadable, unreadable]


def test_an_unreadable_reference_fails_the_gate_with_a_record_naming_it(workdir, reference, capsys):
    # drift.engine is recorded even though nothing was counted (no Spark is started for an unreadable reference).
    (workdir / "modelrail.yaml").write_text("environments: [production]\ndrift: {engine: spark, bins: 5}\n")
    (workdir / "empty.csv").write_text("")
    code = drift("--reference", "empty.csv", "--current", str(reference), "--save-profile", "profile.json")
    assert code == 1
    assert "empty.csv: the file is empty" in capsys.readouterr().err
    data = record()
    assert data["checks"] == [
        {"name": "readable", "success": False, "message": "empty.csv: the file is empty", "file": "empty.csv"}
    ]
    assert data["inputs"]["reference"] == {"path": "empty.csv"} and not (workdir / "profile.json").exists()
    limits = {"psi": 0.2, "ks": 0.2, "pvalue": 0.05, "unseen": 0.05}
    assert {key: data["inputs"][key] for key in ("limits", "bins", "config", "engine")} == {
        "limits": limits,
        "bins": 5,
        "config": "modelrail.yaml",
        "engine": "spark",
    }
    assert "pyspark" in data["versions"]
    # --engine wins over drift.engine.
    assert drift("--reference", "empty.csv", "--current", str(reference), "--engine", "pandas") == 1
    assert record()["inputs"]["engine"] == "pandas" and "pyspark" not in record()["versions"]


def test_past_ten_charts_the_report_says_where_the_other_bins_are(workdir):
    rng = random.Random(5)
    header = ",".join(f"c{index}" for index in range(12)) + "\n"
    for name, shift in (("reference.csv", 0), ("current.csv", 5)):
        lines = [",".join(f"{rng.gauss(shift, 1):.4f}" for _ in range(12)) + "\n" for _ in range(400)]
        (workdir / name).write_text(header + "".join(lines))
    assert drift("--reference", "reference.csv", "--current", "current.csv") == 1
    assert "2 more drifted columns; their bins are in gates/drift.json." in Path("gates/drift.md").read_text()


def test_parts_are_counted_only_a_few_ahead_of_the_one_awaited():
    """While the first part is slow, the others' counts must not pile up in memory: at most `ahead` are in flight."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from modelrail.gates.drift import _in_order

    started, release = [], threading.Event()

    def count(item: int) -> int:
        started.append(item)
        if item == 0:
            assert release.wait(10)
        return item * 10

    threading.Timer(0.5, release.set).start()  # the other worker has long run out of work by then
    with ThreadPoolExecutor(2) as pool:
        results = _in_order(pool, count, list(range(20)), 4)
        assert next(results) == 0
        assert sorted(started) == [0, 1, 2, 3]
        assert list(results) == [item * 10 for item in range(1, 20)]


def test_a_part_without_rows_does_not_end_the_count(workdir, reference):
    logs = workdir / "logs"
    logs.mkdir()
    (logs / "a.csv").write_text(HEADER)  # a log file that has only its header so far
    (logs / "b.csv").write_text(rows(300, seed=4))
    assert drift("--reference", str(reference), "--current", str(logs)) == 0
    assert [entry["rows"] for entry in record()["inputs"]["current"]["files"]] == [300]


def test_missing_files_and_bad_config_are_usage_errors(workdir, reference, capsys):
    assert drift("--reference", "nope.csv", "--current", str(reference)) == 2
    assert "nope.csv: no such file" in capsys.readouterr().err
    config = workdir / "modelrail.yaml"
    config.write_text("environments: [production]\ndrift: {columns: {sise: {psi: 0.3}}}\n")
    assert drift("--reference", str(reference), "--current", str(reference)) == 2
    assert f"key 'drift.columns.sise': 'sise' is not a column of {reference}\n" in capsys.readouterr().err
    config.write_text("environments: [production]\ndrift: {psi: -1}\n")
    assert drift("--reference", str(reference), "--current", str(reference)) == 2
    assert "key 'drift.psi' must be greater than 0" in capsys.readouterr().err


def test_the_suite_runs_on_the_current_data_and_outputs_tell_drift_from_bad_data(
    workdir, reference, suite, monkeypatch, capsys
):
    # The `suite` fixture is drafted from support/data.py's GOOD_CSV (height, count, label): compare it with itself.
    outputs = workdir / "github_output"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    good = workdir / "good.csv"
    assert drift("--reference", str(good), "--current", str(good), "--suite", str(suite)) == 0
    assert "drifted=false" in outputs.read_text() and "passed=true" in outputs.read_text()
    bad = workdir / "bad.csv"
    bad.write_text(good.read_text().replace("\n1.5,", "\n99.5,", 1))
    outputs.unlink()
    assert drift("--reference", str(good), "--current", str(bad), "--suite", str(suite)) == 1
    text = outputs.read_text()
    assert "passed=false" in text and "drifted=false" in text and "report-path=gates/drift.md" in text
    assert "column 'height'" in capsys.readouterr().err
    assert record()["inputs"]["suite"]["path"] == str(suite)


def test_the_suite_runs_on_a_folder_of_logs_as_one_table(workdir, suite, capsys):
    good = workdir / "good.csv"
    header, *lines = good.read_text().splitlines(keepends=True)
    logs = workdir / "logs"
    logs.mkdir()
    (logs / "a.csv").write_text(header + "".join(lines[:3]))
    (logs / "b.csv").write_text(header + "".join(lines[3:]).replace("1.8,", "99.5,", 1))  # out of range in b only
    assert drift("--reference", str(good), "--current", str(logs), "--suite", str(suite)) == 1
    failed = [check for check in record()["checks"] if not check["success"]]
    assert [check["column"] for check in failed] == ["height"]
    # One table: both files' rows, counted together, the bad row numbered after a.csv's.
    assert failed[0]["details"]["element_count"] == len(lines)
    assert failed[0]["message"].startswith(f"{logs}: column 'height'")
    assert record()["inputs"]["current"]["path"] == str(logs)
    assert failed[0]["message"].endswith(
        ": 1 of 20 values fail expect_column_values_to_be_between(min_value=1.31, max_value=3.59), e.g. row 4: 99.5"
    )
    # Files whose columns differ are not one table: the suite's part says so, naming both.
    (logs / "a0.csv").write_text("other\n1\n")
    assert drift("--reference", str(good), "--current", str(logs), "--suite", str(suite)) == 1
    differ = f"{logs / 'a0.csv'}: columns differ from {logs / 'a.csv'}"
    assert [check["message"] for check in record()["checks"] if check["name"] == "readable"] == [
        f"{differ}: missing column(s): height, count, label; unexpected column(s): other",
        differ,
    ]


# --- bounded memory: profile + streamed batches, against the exact in-memory figures --------------------------------


def exact_figures(reference: Path, current: Path, column: str, bins: int = 10) -> tuple[float, float]:
    """PSI over the reference's quantile bins and the exact KS distance, from both columns whole in memory."""
    import numpy as np
    import pandas as pd
    from scipy.stats import ks_2samp

    ref, cur = pd.read_csv(reference)[column].dropna(), pd.read_csv(current)[column].dropna()
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    shares = [
        np.bincount(np.searchsorted(edges, s, side="left"), minlength=len(edges) + 1) / len(s) for s in (ref, cur)
    ]
    return psi(list(shares[0]), list(shares[1])), float(ks_2samp(ref, cur).statistic)


@pytest.mark.parametrize("shift", [0.0, 0.3, 1.5])
def test_streamed_figures_agree_with_the_exact_ones_within_the_stated_bound(workdir, reference, shift):
    from modelrail.gates import drift as drift_module

    current = workdir / "current.csv"
    current.write_text(rows(3000, seed=7, shift=shift))
    # Batches of 97 rows: many partial batches, so the counts must add up across them.
    drift_module.run(reference, current, None, None, Path("gates/drift.json"), Path("gates/drift.md"), batch_rows=97)
    checks = {check["column"]: check for check in record()["checks"]}
    exact_psi, exact_ks = exact_figures(reference, current, "size")
    details = checks["size"]["details"]
    assert details["psi"] == pytest.approx(exact_psi, abs=1e-6)
    # The bound is the largest share in one fine bin: ~1/1000 inside the reference's range, more beyond it.
    assert 0 < details["ks_error_bound"] <= 0.05
    assert exact_ks - details["ks_error_bound"] - 1e-9 <= details["ks"] <= exact_ks + 1e-9
    # The same record, whatever the batch size.
    assert drift("--reference", str(reference), "--current", str(current)) == (0 if shift < 1 else 1)
    assert {check["column"]: check["details"] for check in record()["checks"]} == {
        name: check["details"] for name, check in checks.items()
    }


def test_a_shift_inside_the_bins_is_caught_by_ks_alone(workdir):
    # Same deciles, but within each decile the current values sit at its centre: PSI ~0, KS = half a decile.
    import numpy as np

    rng = np.random.default_rng(3)
    ref_values = rng.uniform(0, 1, 5000)
    cur_values = (np.floor(rng.uniform(0, 1, 5000) * 10) + 0.5) / 10
    (workdir / "reference.csv").write_text("x\n" + "".join(f"{v:.6f}\n" for v in ref_values))
    (workdir / "current.csv").write_text("x\n" + "".join(f"{v:.6f}\n" for v in cur_values))
    (workdir / "modelrail.yaml").write_text("environments: [production]\ndrift: {ks: 0.03}\n")
    assert drift("--reference", "reference.csv", "--current", "current.csv") == 1
    (check,) = record()["checks"]
    assert check["details"]["psi"] < 0.2 and check["details"]["ks"] >= 0.03
    assert "drifted: KS distance" in check["message"] and "PSI" not in check["message"].split("drifted:")[1]


def test_a_categorical_column_of_new_values_fails_as_unseen(workdir, reference, capsys):
    current = workdir / "current.csv"
    current.write_text(rows(800, seed=2, colours="xyz"))
    assert drift("--reference", str(reference), "--current", str(current)) == 1
    failed = {check["column"]: check for check in record()["checks"] if not check["success"]}
    assert set(failed) == {"colour"}
    assert failed["colour"]["details"]["unseen_share"] == 1.0
    assert "100.0% of its values were never seen in the reference (≥ 5.0%), e.g. [" in capsys.readouterr().err
    details = failed["colour"]["details"]
    assert failed["colour"]["message"] == (
        f"{current}: column 'colour' drifted: PSI {details['psi']:.3f} ≥ 0.2 and 100.0% of its values were never "
        f"seen in the reference (≥ 5.0%), e.g. {details['unseen_examples']}"
    )
    assert sorted(details["unseen_examples"]) == ["x", "y", "z"]
    # A few new values stay under the threshold; the threshold is a setting.
    current.write_text(rows(800, seed=2, colours="r" * 30 + "g" * 30 + "b" * 39 + "x"))
    assert drift("--reference", str(reference), "--current", str(current)) == 0
    colour = next(check for check in record()["checks"] if check["column"] == "colour")
    share = colour["details"]["unseen_share"]
    assert colour["message"] == f"PSI {colour['details']['psi']:.3f}, {share:.1%} unseen: within the limits"
    (workdir / "modelrail.yaml").write_text("environments: [production]\ndrift: {unseen: 0.001}\n")
    assert drift("--reference", str(reference), "--current", str(current)) == 1


@pytest.mark.parametrize("value", [1.5, 0, -0.1])
def test_the_unseen_threshold_is_validated(workdir, reference, capsys, value):
    (workdir / "modelrail.yaml").write_text(f"environments: [production]\ndrift: {{unseen: {value}}}\n")
    assert drift("--reference", str(reference), "--current", str(reference)) == 2
    assert f"key 'drift.unseen' must be in (0, 1], got {value}" in capsys.readouterr().err


def test_non_finite_current_values_fail_naming_the_column(workdir, reference, capsys):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pd.read_csv(pd.io.common.StringIO(rows(500, seed=3)))
    frame.loc[: int(len(frame) * 0.18) - 1, "size"] = float("inf")
    frame.loc[0, "weight"] = float("nan")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # Parquet can hold NaN as a value (pandas would write it as missing).
    weight = pa.array(frame["weight"].to_numpy(), from_pandas=False)
    pq.write_table(table.set_column(1, "weight", weight), workdir / "current.parquet")
    assert drift("--reference", str(reference), "--current", "current.parquet") == 1
    err = capsys.readouterr().err
    assert "current.parquet: column 'size': 90 of 500 values (18.0%) are not finite (inf or NaN)" in err
    assert "current.parquet: column 'weight': 1 of 500 values (0.2%) are not finite" in err
    finite = [check for check in record()["checks"] if check["name"] == "drift finite values"]
    assert [(check["column"], check["success"], check["file"]) for check in finite] == [
        ("size", False, "current.parquet"),
        ("weight", False, "current.parquet"),
    ]


def test_counts_add_up_across_batches_and_parts_and_rare_values_are_not_unseen(workdir):
    """Non-finite numbers, values the reference has beyond the 20 it keeps (its "other") and never-seen values,
    spread over files and row groups and read in small batches: all counted, not only one batch's or one part's."""
    import pandas as pd

    from modelrail.gates import drift as drift_gate

    rng = random.Random(3)
    colours = [f"c{index:02d}" for index in range(25)]  # c20-c24 are rare: seen, but not among the 20 kept
    reference = workdir / "reference.csv"
    pd.DataFrame(
        {
            "size": [rng.gauss(10, 2) for _ in range(2000)],
            "colour": [colours[index % 20] for index in range(1950)] + [colours[20 + index % 5] for index in range(50)],
        }
    ).to_csv(reference, index=False)
    new = [f"never seen before, value number {index}, and then some more" for index in range(7)]
    current = workdir / "current"
    current.mkdir()
    for part in range(2):
        colour = [colours[index % 20] for index in range(200)]
        size = [rng.gauss(10, 2) for _ in range(200)]
        for group in range(2):  # per row group of 100 (four batches): six inf in two batches, two rare seen values
            start = 100 * group
            size[start : start + 3] = size[start + 97 : start + 100] = [float("inf")] * 3
            colour[start + 10 : start + 12] = ["c24", "c24"]
        if part == 0:
            colour[20:27] = new
        frame = pd.DataFrame({"size": size, "colour": colour})
        frame.to_parquet(current / f"part-{part}.parquet", row_group_size=100)
    result = drift_gate.run(reference, current, None, None, workdir / "r.json", workdir / "r.md", batch_rows=30)
    messages = [check.message for check in result.checks]
    assert f"{current}: column 'size': 24 of 400 values (6.0%) are not finite (inf or NaN)" in messages
    colour = next(column for column in result.columns if column.column == "colour")
    assert colour.unseen_share == 7 / 400
    assert colour.unseen_examples == [value[:40] for value in new[:5]]
    other = colour.labels.index("(other)")
    assert colour.current_shares[other] == (8 + 7) / 400


def test_a_saved_profile_replaces_the_reference(workdir, reference):
    current = workdir / "current.csv"
    current.write_text(rows(800, seed=2, shift=1.5))
    assert drift("--reference", str(reference), "--current", str(current), "--save-profile", "profile.json") == 1
    first = record()
    profile_sha256 = first["inputs"]["reference"]["profile_sha256"]
    assert first["inputs"]["reference"] == {
        "path": str(reference),
        "rows": 1000,
        "sha256": hashlib.sha256(reference.read_bytes()).hexdigest(),
        "profile_sha256": profile_sha256,
        "profile_path": "profile.json",
    }
    assert drift("--reference", "profile.json", "--current", str(current)) == 1
    second = record()
    assert second["checks"] == first["checks"]
    assert second["inputs"]["reference"] == {"path": "profile.json", "rows": 1000, "profile_sha256": profile_sha256}
    (workdir / "modelrail.yaml").write_text("environments: [production]\ndrift: {bins: 20}\n")
    assert drift("--reference", "profile.json", "--current", str(current)) == 2


def test_a_failure_in_the_hashing_thread_reaches_whoever_waits_for_it():
    from modelrail.errors import DataError
    from modelrail.gates.drift import _in_background

    def unreadable():
        raise DataError("data.csv: gone while it was hashed")

    with pytest.raises(DataError, match="gone while it was hashed"):
        _in_background(unreadable).result(timeout=10)
    assert _in_background(lambda: 42).result(timeout=10) == 42


def test_the_ks_p_value_is_kolmogorovs_limit_distribution():
    from scipy.stats import kstwobign

    from modelrail.gates.drift_columns import kolmogorov_sf

    for z in (0.1, 0.3, 0.5, 1.0, 1.36, 2.0, 4.0):
        assert kolmogorov_sf(z) == pytest.approx(kstwobign.sf(z), rel=1e-9, abs=1e-5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[]", "not a reference profile"),
        ('{"format": "modelrail drift reference profile", "version": 1, "bins": 10}', "'rows' and 'columns'"),
        (
            '{"format": "modelrail drift reference profile", "version": 1, "bins": 10, "rows": 5,'
            ' "columns": {"size": {"kind": "continuous", "rows": 5}}}',
            "column 'size': key 'missing' must be a int",
        ),
        (
            '{"format": "modelrail drift reference profile", "version": 1, "bins": 10, "rows": 5,'
            ' "columns": {"size": {"kind": "continuous", "rows": 5, "missing": 0, "edges": [1.0],'
            ' "counts": [2, 3], "fine_edges": [2.0, 1.0], "fine_counts": [1, 2, 2]}}}',
            "column 'size': key 'fine_edges' must be finite numbers in increasing order",
        ),
        (
            '{"format": "modelrail drift reference profile", "version": 1, "bins": 10, "rows": 5,'
            ' "columns": {"size": {"kind": "continuous", "rows": 5, "missing": 0, "edges": [NaN],'
            ' "counts": [2, 3], "fine_edges": [1.0, 2.0], "fine_counts": [1, 2, 2]}}}',
            "column 'size': key 'edges' must be finite numbers in increasing order",
        ),
    ],
)
def test_a_broken_profile_is_a_config_error(workdir, reference, capsys, text, expected):
    (workdir / "profile.json").write_text(text)
    assert drift("--reference", "profile.json", "--current", str(reference)) == 2
    assert expected in capsys.readouterr().err


def test_a_shift_only_the_ks_test_sees_fails_the_gate(workdir, capsys):
    """Every decile of the reference keeps a share PSI tolerates (6.5% or 13.5% instead of 10%), but the values sit high
    in their bins and the lower half is thinner: the distribution functions part by more than the KS limit."""
    import numpy as np

    rng = np.random.default_rng(7)
    reference = rng.normal(10, 2, 2000)
    edges = np.quantile(reference, np.linspace(0, 1, 11))
    current = np.concatenate(
        [
            rng.uniform(low + 0.8 * (high - low), low + 0.95 * (high - low), 65 if decile < 5 else 135)
            for decile, (low, high) in enumerate(itertools.pairwise(edges))
        ]
    )
    (workdir / "reference.csv").write_text("x\n" + "".join(f"{value:.6f}\n" for value in reference))
    (workdir / "current.csv").write_text("x\n" + "".join(f"{value:.6f}\n" for value in current))
    assert drift("--reference", "reference.csv", "--current", "current.csv") == 1
    (check,) = record()["checks"]
    assert check["column"] == "x" and check["success"] is False
    limits = check["details"]["limits"]
    assert check["details"]["psi"] < limits["psi"], "PSI alone would catch this: not a KS-only case"
    assert check["details"]["ks"] >= limits["ks"] and check["details"]["pvalue"] < limits["pvalue"]
    assert "current.csv: column 'x' drifted: KS distance" in capsys.readouterr().err


def column_drift(psi_value=0.0, ks=None, pvalue=None, unseen=None, **limits):
    from modelrail.gates.drift_columns import DEFAULT_LIMITS, ColumnDrift

    return ColumnDrift(
        "x",
        "m",
        ["a"],
        [1.0],
        [1.0],
        psi_value,
        {**DEFAULT_LIMITS, **limits},
        ks=ks,
        pvalue=pvalue,
        unseen_share=unseen,
    )


def test_each_limit_is_reached_at_its_threshold():
    """The verdict's boundaries, exactly: PSI, KS distance and the unseen share fail at their limit (≥); the KS
    p-value must be below its limit, and KS counts only when both hold. (mutmut leaves properties alone: these pin
    what the record's `drifted` flags mean.)"""
    assert column_drift(0.2).psi_drifted and not column_drift(0.1999).psi_drifted
    assert column_drift(ks=0.2, pvalue=0.0499).ks_drifted
    assert not column_drift(ks=0.1999, pvalue=0.0).ks_drifted, "a small distance, however significant"
    assert not column_drift(ks=0.9, pvalue=0.05).ks_drifted, "a large distance that is not significant"
    assert not column_drift(ks=None, pvalue=None).ks_drifted
    assert column_drift(unseen=0.05).unseen_drifted and not column_drift(unseen=0.0499).unseen_drifted
    assert not column_drift(unseen=None).unseen_drifted
    # Any one of the three is drift; none of them is not.
    assert [
        column_drift(*case).drifted
        for case in [(0.2,), (0.0, 0.3, 0.01), (0.0, None, None, 0.5), (0.1, 0.1, 0.5, 0.01)]
    ] == [
        True,
        True,
        True,
        False,
    ]


def test_a_missing_column_is_drift_and_a_suite_failure_alone_is_not():
    from modelrail.gates.drift import DriftResult
    from modelrail.gates.records import Check

    def result(*checks, columns=()):
        return DriftResult("drift", list(checks), {}, Path("r.json"), Path("r.md"), (), columns=columns)

    assert not result(Check("expect_column_values_to_not_be_null", False, "nulls")).drifted
    assert result(Check("drift column present", False, "missing")).drifted
    assert not result(Check("drift column present", True, "ok")).drifted
    assert result(columns=(column_drift(0.1), column_drift(0.5))).drifted
    assert not result(columns=(column_drift(0.1), column_drift(0.0))).drifted


def details_by_column() -> dict[str, dict]:
    return {check["column"]: check["details"] for check in record()["checks"] if check["name"].startswith("drift psi")}


@pytest.mark.parametrize("current", ["unseen and missing values", "one row"])
def test_every_columns_shares_sum_to_one_on_both_sides(workdir, current):
    """Whatever falls outside the kept bins (other values, unseen ones, missing ones) is still counted once: both
    distributions PSI compares are whole. The `id` column has more distinct values than a profile keeps."""
    rng = random.Random(5)
    lines = [
        f"{rng.gauss(10, 2):.4f},c{rng.randrange(25)},id{i},{i % 2}\n" for i in range(10_100)
    ]  # 10,100 distinct ids
    (workdir / "reference.csv").write_text("size,colour,id,label\n" + "".join(lines))
    if current == "one row":
        text = "3.5,c1,id7,1\n"
    else:
        text = "".join(
            f"{'' if i % 7 == 0 else rng.gauss(12, 2)},{'zz' if i % 3 else ''},new{i},{i % 3}\n" for i in range(300)
        )
    (workdir / "current.csv").write_text("size,colour,id,label\n" + text)
    drift("--reference", "reference.csv", "--current", "current.csv")
    details = details_by_column()
    assert set(details) == {"size", "colour", "id", "label"}
    for column, found in details.items():
        assert sum(found["reference_shares"]) == pytest.approx(1, abs=1e-4), column
        assert sum(found["current_shares"]) == pytest.approx(1, abs=1e-4), column
    # The continuous column's last bin is everything above its last edge.
    labels = [label for label in details["size"]["bins"] if label != "(missing)"]
    assert labels[-1].startswith("> ") and labels[-1][2:] == labels[-2][2:]


def test_the_unseen_share_is_of_the_present_finite_values(workdir):
    (workdir / "reference.csv").write_text("colour,label\n" + "r,0\ng,1\n" * 50)
    # label (numeric, two values): 5 missing, 10 non-finite, 10 unseen (5) of the 25 present finite values.
    rows_ = ["r,\n"] * 5 + ["r,inf\n"] * 10 + ["r,5\n"] * 10 + ["r,0\n"] * 15
    (workdir / "current.csv").write_text("colour,label\n" + "".join(rows_))
    drift("--reference", "reference.csv", "--current", "current.csv")
    assert details_by_column()["label"]["unseen_share"] == pytest.approx(10 / 25, abs=1e-6)
    # A column with no value at all has no unseen share to speak of (its missing share is what drifts).
    (workdir / "current.csv").write_text("colour,label\n" + "r,\n" * 20)
    drift("--reference", "reference.csv", "--current", "current.csv")
    assert details_by_column()["label"]["unseen_share"] == 0.0


def test_the_binned_ks_test_matches_kolmogorovs_statistic_and_needs_both_samples():
    from modelrail.gates.drift_columns import kolmogorov_sf, ks_from_bins

    distance, pvalue, bound = ks_from_bins([50, 50], [30, 70])
    assert distance == pytest.approx(0.2) and bound == pytest.approx(0.7)
    # The statistic scales the distance by sqrt(n m / (n + m)); kolmogorov_sf is checked against scipy above.
    assert pvalue == pytest.approx(kolmogorov_sf(0.2 * math.sqrt(100 * 100 / 200)), rel=1e-9) and 0.03 < pvalue < 0.04
    assert ks_from_bins([5, 5], [0, 0]) == (None, None, None)
    assert ks_from_bins([0, 0], [5, 5]) == (None, None, None)


def test_psi_refuses_distributions_over_different_bins():
    with pytest.raises(ValueError):
        psi([0.5, 0.5], [1.0])
