import json

from support.data import GOOD_CSV

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


def by_column(suite_path) -> dict:
    found: dict = {}
    for expectation in json.loads(suite_path.read_text())["expectations"]:
        found.setdefault(expectation["kwargs"].get("column"), {})[expectation["type"]] = expectation["kwargs"]
    return found


def test_a_suite_drafted_from_several_files_fits_each_of_them(workdir):
    # The test split holds values the training split never saw: a suite drafted from train.csv alone fails it.
    (workdir / "train.csv").write_text("x,code\n" + "".join(f"{i / 10},{1 + i % 2}\n" for i in range(80)))
    (workdir / "test.csv").write_text("x,code\n" + "".join(f"{-5 + i},{1 + i % 2}\n" for i in range(20)))
    assert main(["suite", "init", "--data", "train.csv", "--out", "train_only.json"]) == 0
    assert main(["gate", "data", "--data", "test.csv", "--suite", "train_only.json", "--record", "r0.json"]) == 1

    args = ["suite", "init", "--data", "train.csv", "--data", "test.csv", "--out", "both.json"]
    assert main(args) == 0
    for name in ("train.csv", "test.csv"):
        assert main(["gate", "data", "--data", name, "--suite", "both.json", "--record", f"{name}.json"]) == 0
    suite = json.loads((workdir / "both.json").read_text())
    assert suite["meta"]["drafted_from"] == ["train.csv", "test.csv"]
    assert suite["meta"]["rows"] == [80, 20]
    # Proportional to the smallest file seen, not 1.
    assert by_column(workdir / "both.json")[None]["expect_table_row_count_to_be_between"]["min_value"] == 10


def test_a_two_valued_float_column_gets_a_value_set_not_a_range(workdir):
    (workdir / "data.csv").write_text("sex,bmi\n" + "".join(f"{1.0 + i % 2},{20 + i / 7:.3f}\n" for i in range(40)))
    assert main(["suite", "init", "--data", "data.csv", "--out", "s.json"]) == 0
    columns = by_column(workdir / "s.json")
    assert columns["sex"]["expect_column_values_to_be_in_set"]["value_set"] == [1.0, 2.0]
    assert "expect_column_values_to_be_between" not in columns["sex"]
    assert "expect_column_values_to_be_in_set" not in columns["bmi"]
    # A few floats seen once each are measurements, not codes: they keep a range.
    (workdir / "few.csv").write_text("x\n1.5\n2.5\n3.5\n")
    assert main(["suite", "init", "--data", "few.csv", "--out", "few.json"]) == 0
    assert "expect_column_values_to_be_between" in by_column(workdir / "few.json")["x"]


def test_files_with_different_columns_name_the_file(workdir, capsys):
    (workdir / "a.csv").write_text("x,y\n1,2\n")
    (workdir / "b.csv").write_text("x,z\n1,2\n")
    assert main(["suite", "init", "--data", "a.csv", "--data", "b.csv", "--out", "s.json"]) == 2
    assert "b.csv: its columns differ from a.csv's" in capsys.readouterr().err
    assert not (workdir / "s.json").exists()
