"""The data gate on Spark writes the record the pandas gate writes: same verdicts, same counts, same refusals."""

import json
from pathlib import Path

import pytest
from support import ROOT
from test_data import BAD_CSV

from modelrail.cli import main

# The binary kind's sample data and its raw suite, as a bake writes them.
SAMPLE = ROOT / "templates/samples/binary-classification"
COUNTS = ("element_count", "unexpected_count", "unexpected_percent", "observed_value")
TYPE_CHECK = "expect_column_values_to_be_in_type_list"


def gate(data, suite, engine: str, *extra: str) -> tuple[int, dict]:
    record = Path(f"gates/{engine}.json")
    code = main(["gate", "data", *extra, "--data", str(data), "--suite", str(suite), "--record", str(record)])
    return code, json.loads(record.read_text())


def verdicts(record: dict) -> list[tuple]:
    """Per check: what was checked, the verdict, and the observed counts.

    A type check is the exception: Spark checks the column's schema type (observed e.g. 'DoubleType'), pandas the
    dtype ('float64'), or each value of a text column; only the verdict is comparable.
    """
    rows = []
    for check in record["checks"]:
        details = check.get("details", {})
        counts = {} if check["name"] == TYPE_CHECK else {key: details[key] for key in COUNTS if key in details}
        rows.append(
            (check["name"], check.get("file"), check.get("column"), check["success"], details.get("kwargs"), counts)
        )
    return rows


def both(data, suite, *extra: str) -> tuple[dict, dict]:
    """Run the gate on pandas and on Spark; assert the exit codes and the verdicts agree; return both records."""
    code_pandas, pandas = gate(data, suite, "pandas", "--engine", "pandas", *extra)
    code_spark, spark = gate(data, suite, "spark", "--engine", "spark", *extra)
    assert (code_pandas, pandas["passed"]) == (code_spark, spark["passed"])
    assert verdicts(pandas) == verdicts(spark)
    assert spark["inputs"]["engine"] == "spark" and "pyspark" in spark["versions"]
    assert [entry.get("rows") for entry in pandas["inputs"]["data"]] == [
        entry.get("rows") for entry in spark["inputs"]["data"]
    ]
    return pandas, spark


def test_sample_data_agrees_on_every_expectation(workdir, spark):
    # Read in place: the template folder's name has `{`, `}` that Spark must not expand as a glob.
    pandas, spark_record = both(SAMPLE / "data.csv", SAMPLE / "raw.json")
    assert pandas["passed"] is True
    assert len(spark_record["checks"]) == len(json.loads((SAMPLE / "raw.json").read_text())["expectations"])
    types = {check["details"]["observed_value"] for check in spark_record["checks"] if check["name"] == TYPE_CHECK}
    assert types == {"DoubleType", "IntegerType"}
    assert pandas["inputs"]["data"][0]["sha256"] == spark_record["inputs"]["data"][0]["sha256"]


def test_corrupted_sample_data_agrees(workdir, spark):
    import pandas as pd

    frame = pd.read_csv(SAMPLE / "data.csv")
    frame.loc[3, "mean_radius"] = 99.0
    frame.loc[[5, 7], "mean_texture"] = None
    frame.loc[9, "target"] = 7
    frame.to_csv(workdir / "corrupted.csv", index=False)
    pandas, _ = both("corrupted.csv", SAMPLE / "raw.json")
    failed = {
        (check["column"], check["details"].get("unexpected_count"))
        for check in pandas["checks"]
        if not check["success"]
    }
    assert failed == {("mean_radius", 1), ("mean_texture", 2), ("target", 1)}


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_each_corrupt_case_fails_alike(workdir, suite, spark, capsys, case):
    text, expected = BAD_CSV[case]
    (workdir / "bad.csv").write_text(text)
    _, spark_record = both("bad.csv", suite)
    assert spark_record["passed"] is False
    err = capsys.readouterr().err
    # The first fragment is the cause in modelrail's words (the second, if any, may be the parser's own).
    assert err.count(expected[0]) >= 2


@pytest.mark.parametrize(
    "payload",
    [b"height,count,label\n1.5,1,\xff\xfe\n", bytes(range(256)) * 4],
    ids=["not_utf8", "binary_garbage"],
)
def test_undecodable_bytes_fail_alike(workdir, suite, spark, payload):
    (workdir / "bad.csv").write_bytes(payload)
    pandas, spark_record = both("bad.csv", suite)
    assert pandas["checks"][0]["message"] == spark_record["checks"][0]["message"]


def test_a_partitioned_parquet_data_set_is_accepted_by_both(workdir, suite, spark):
    import pandas as pd

    frame = pd.read_csv(workdir / "good.csv")
    # Hive partitions (label=a/, label=b/): the partition column comes last, as both readers put it.
    frame[["height", "count", "label"]].to_parquet(workdir / "data_set", partition_cols=["label"])
    (workdir / "data_set" / "_SUCCESS").write_text("")
    pandas, _ = both("data_set", suite)
    assert pandas["passed"] is True and pandas["inputs"]["data"][0]["rows"] == 20
    bad = frame.copy()
    bad.loc[0, "height"] = 99.0
    bad.to_parquet(workdir / "bad_set", partition_cols=["label"])
    pandas, _ = both("bad_set", suite)
    assert [check["column"] for check in pandas["checks"] if not check["success"]] == ["height"]


def test_engine_comes_from_modelrail_yaml_and_is_validated(workdir, suite, spark, capsys):
    (workdir / "modelrail.yaml").write_text("environments: [production]\ngates:\n  data: {engine: spark}\n")
    code, record = gate("good.csv", suite, "spark")
    assert code == 0 and record["inputs"]["engine"] == "spark"
    (workdir / "modelrail.yaml").write_text("environments: [production]\ngates:\n  data: {engine: dask}\n")
    assert main(["gate", "data", "--data", "good.csv", "--suite", str(suite)]) == 2
    assert "key 'gates.data.engine' must be one of pandas, spark, got 'dask'" in capsys.readouterr().err


def test_an_unknown_spark_setting_is_a_config_error(workdir, suite, capsys):
    (workdir / "modelrail.yaml").write_text("environments: [production]\nspark: {masters: local}\n")
    assert main(["gate", "data", "--data", "good.csv", "--suite", str(suite)]) == 2
    assert "unknown key 'spark.masters'" in capsys.readouterr().err
