import json

from conftest import GOOD_CSV

from modelrail.cli import main


def test_draft_covers_columns_types_nulls_ranges_and_value_sets(workdir, capsys):
    (workdir / "data.csv").write_text(GOOD_CSV)
    assert main(["suite", "init", "--data", "data.csv", "--out", "expectations/raw.json"]) == 0
    suite = json.loads((workdir / "expectations/raw.json").read_text())
    assert suite["name"] == "raw"
    by_column = {}
    for expectation in suite["expectations"]:
        by_column.setdefault(expectation["kwargs"].get("column"), {})[expectation["type"]] = expectation["kwargs"]
    assert by_column[None]["expect_table_columns_to_match_ordered_list"]["column_list"] == ["height", "count", "label"]
    assert by_column["height"]["expect_column_values_to_be_in_type_list"]["type_list"] == ["float64"]
    height = by_column["height"]["expect_column_values_to_be_between"]
    assert height["min_value"] < 1.5 and height["max_value"] > 3.4
    assert "expect_column_values_to_not_be_null" in by_column["height"]
    assert by_column["count"]["expect_column_values_to_be_between"]["min_value"] == 0.0
    assert by_column["label"]["expect_column_values_to_be_in_set"]["value_set"] == ["a", "b"]
    assert "review them" in capsys.readouterr().out


def test_nullable_columns_get_no_not_null_expectation(workdir):
    (workdir / "data.csv").write_text("x,y\n1.5,\n2.5,3\n")
    assert main(["suite", "init", "--data", "data.csv", "--out", "s.json"]) == 0
    types = [
        (e["kwargs"].get("column"), e["type"]) for e in json.loads((workdir / "s.json").read_text())["expectations"]
    ]
    assert ("x", "expect_column_values_to_not_be_null") in types
    assert ("y", "expect_column_values_to_not_be_null") not in types


def test_an_existing_suite_is_not_overwritten_without_force(workdir, capsys):
    (workdir / "data.csv").write_text(GOOD_CSV)
    (workdir / "s.json").write_text("reviewed by a human")
    assert main(["suite", "init", "--data", "data.csv", "--out", "s.json"]) == 2
    assert "s.json: already exists" in capsys.readouterr().err
    assert (workdir / "s.json").read_text() == "reviewed by a human"
    assert main(["suite", "init", "--data", "data.csv", "--out", "s.json", "--force"]) == 0


def test_bad_data_writes_no_suite(workdir, capsys):
    (workdir / "data.csv").write_text("a,a\n1,2\n")
    assert main(["suite", "init", "--data", "data.csv", "--out", "s.json"]) == 1
    assert "duplicate column name(s)" in capsys.readouterr().err
    assert not (workdir / "s.json").exists()
