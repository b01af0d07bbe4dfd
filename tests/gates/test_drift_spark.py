"""Drift counted on Spark writes the record drift on pandas writes: the same checks, figures, rows and verdicts."""

import json
from pathlib import Path

import pytest
from test_drift import HEADER, rows

from modelrail.cli import main


def drift(reference: Path, current: Path, engine: str) -> tuple[int, dict]:
    record = Path(f"gates/drift-{engine}.json")
    args = ["--reference", str(reference), "--current", str(current), "--record", str(record)]
    code = main(["drift", *args, "--engine", engine])
    return code, json.loads(record.read_text())


def both(reference: Path, current: Path) -> dict:
    """Drift on pandas and on Spark; the exit codes, checks and current data's part of the record agree."""
    code_pandas, pandas = drift(reference, current, "pandas")
    code_spark, spark = drift(reference, current, "spark")
    assert code_pandas == code_spark
    assert pandas["checks"] == spark["checks"]
    assert pandas["inputs"]["current"] == spark["inputs"]["current"]
    assert (pandas["inputs"]["engine"], spark["inputs"]["engine"]) == ("pandas", "spark")
    assert "pyspark" in spark["versions"] and "pyspark" not in pandas["versions"]
    return pandas


def replace_size(text: str, values: dict[int, str]) -> str:
    """The CSV text with the first column of the given lines (1 is the first data row) replaced."""
    lines = text.splitlines()
    for line, value in values.items():
        lines[line] = value + "," + lines[line].split(",", 1)[1]
    return "\n".join(lines) + "\n"


def without_weight(text: str) -> str:
    return "".join(",".join(line.split(",")[:1] + line.split(",")[2:]) for line in text.splitlines(keepends=True))


def parquet(path: Path, text: str) -> Path:
    import io

    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    pq.write_table(pacsv.read_csv(io.BytesIO(text.encode())), path)
    return path


@pytest.fixture
def reference(workdir) -> Path:
    path = workdir / "reference.csv"
    path.write_text(rows(1000, seed=1))
    return path


@pytest.mark.parametrize(
    ("case", "text", "passed", "failing"),
    [
        ("undrifted", rows(800, seed=2), True, set()),
        ("a shifted numeric column", rows(800, seed=2, shift=1.5), False, {"size"}),
        ("new category, blanks", rows(800, seed=2, colours="rgbx", blank_weight=0.3), False, {"colour", "weight"}),
        ("text in a numeric column", replace_size(rows(50, seed=2), {5: "seven"}), False, {"size"}),
        ("a missing column", without_weight(rows(800, seed=2)), False, {"weight"}),
    ],
)
def test_every_verdict_agrees_with_the_pandas_engine(workdir, reference, spark, case, text, passed, failing):
    current = workdir / "current.csv"
    current.write_text(text)
    pandas = both(reference, current)
    assert pandas["passed"] is passed, case
    assert {check["column"] for check in pandas["checks"] if not check["success"]} == failing, case


def test_non_finite_values_in_parquet_fail_on_both_engines(workdir, reference, spark):
    current = parquet(workdir / "current.parquet", replace_size(rows(200, seed=2), {3: "inf", 9: "-inf"}))
    pandas = both(reference, current)
    finite = [check for check in pandas["checks"] if check["name"] == "drift finite values"]
    assert [(check["column"], check["success"]) for check in finite] == [("size", False)]
    assert "2 of 200 values" in finite[0]["message"]


def test_a_partitioned_parquet_data_set_counts_each_part(workdir, reference, spark):
    folder = workdir / "logs"
    for day, seed in (("2026-11-01", 2), ("2026-11-02", 3)):
        (folder / f"day={day}").mkdir(parents=True)
        parquet(folder / f"day={day}" / "part-0.parquet", rows(300 + seed, seed=seed, shift=2.0))
    pandas = both(reference, folder)
    assert [entry["rows"] for entry in pandas["inputs"]["current"]["files"]] == [302, 303]
    assert pandas["passed"] is False


def test_the_engine_comes_from_modelrail_yaml_and_a_wrong_one_is_a_config_error(workdir, reference, capsys):
    current = workdir / "current.csv"
    current.write_text(HEADER + "10.5,70.1,r,0\n" * 20)
    Path("modelrail.yaml").write_text("environments: [staging]\ndrift:\n  engine: dask\n")
    assert main(["drift", "--reference", str(reference), "--current", str(current)]) == 2
    assert "key 'drift.engine' must be one of pandas, spark, got 'dask'" in capsys.readouterr().err
