"""Every bad input fails closed with a clear message: one test per way an input used to fail open or crash."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import pytest
from support.data import GOOD_CSV

from modelrail import errors
from modelrail.cli import main
from modelrail.config import load_config
from modelrail.container import smoke as container_smoke
from modelrail.errors import ConfigError
from modelrail.gates import champion
from modelrail.gates.records import Check, GateResult, publish, render_summary
from modelrail.identity import Identity
from modelrail.layout import Layout
from modelrail.release import environment, records

CONFIG = """\
environments: [staging, production]
gates:
  model:
    thresholds:
      accuracy: {min: 0.9}
"""


def strict(text: str):
    """Parse as strict JSON: NaN and Infinity are not JSON."""
    return json.loads(text, parse_constant=lambda name: pytest.fail(f"non-strict JSON constant {name}"))


@pytest.fixture
def repo(workdir):
    (workdir / "modelrail.yaml").write_text(CONFIG)
    return workdir


def model_gate(repo: Path, metrics_text: str, *args: str) -> int:
    (repo / "metrics.json").write_text(metrics_text)
    return main(["gate", "model", "--metrics", "metrics.json", *args])


# ---------------------------------------------------------------- non-finite numbers


@pytest.mark.parametrize("value", ["Infinity", "1e999", "NaN", "-Infinity", "1" * 5000, "1" * 400, "-" + "9" * 309])
def test_non_finite_or_huge_metrics_are_refused_naming_the_file(repo, capsys, value):
    (repo / "gates").mkdir()
    (repo / "gates/model.json").write_text('{"old": true}\n')
    assert model_gate(repo, f'{{"accuracy": {value}}}') == 2
    err = capsys.readouterr().err
    assert "metrics.json: not valid JSON" in err and "Traceback" not in err and len(err) < 400
    assert (repo / "gates/model.json").read_text() == '{"old": true}\n'


@pytest.mark.parametrize(
    ("yaml_text", "key"),
    [
        ("gates: {model: {thresholds: {accuracy: {}}}}", "gates.model.thresholds.accuracy' has neither min nor max"),
        (
            "gates: {model: {thresholds: {accuracy: {min: .nan}}}}",
            "gates.model.thresholds.accuracy.min' must be a finite",
        ),
        (
            "gates: {model: {thresholds: {accuracy: {max: .inf}}}}",
            "gates.model.thresholds.accuracy.max' must be a finite",
        ),
        (
            "gates: {model: {thresholds: {a: {min: 0}}, champion: {tolerance: .nan}}}",
            "champion.tolerance' must be a fin",
        ),
        (
            "gates: {model: {thresholds: {a: {min: 0}}, champion: {tolerance: .inf}}}",
            "champion.tolerance' must be a fin",
        ),
        ("drift: {psi: .nan}", "drift.psi' must be a finite number"),
        ("drift: {psi: .inf}", "drift.psi' must be a finite number"),
        ("drift: {bins: .nan}", "drift.bins' must be a finite number"),
        ("drift: {bins: .inf}", "drift.bins' must be a finite number"),
        ("drift: {bins: '10'}", "drift.bins' must be a number"),
        ("drift: {columns: {x: {ks: -.inf}}}", "drift.columns.x.ks' must be a finite number"),
        ("drift: {pvalue: " + "9" * 400 + "}", "drift.pvalue' must be a finite number"),
    ],
)
def test_config_numbers_must_be_finite_and_a_threshold_must_bound(tmp_path, yaml_text, key):
    path = tmp_path / "modelrail.yaml"
    path.write_text("environments: [staging]\n" + yaml_text + "\n")
    with pytest.raises(ConfigError, match=None) as caught:
        load_config(path)
    assert str(path) in str(caught.value) and key in str(caught.value), caught.value


def champion_of(metrics: dict) -> champion.Champion:
    return champion.Champion("staging", "clf", "3", "run", metrics)


@pytest.mark.parametrize(
    ("value", "best", "lower_is_better"),
    [
        (math.inf, 0.9, False),
        (0.9, -math.inf, False),
        (0.1, math.inf, True),
        (math.nan, 0.9, False),
        (0.9, math.nan, False),
    ],
)
def test_a_non_finite_metric_never_wins_the_champion_comparison(value, best, lower_is_better):
    check = champion._compare_one("accuracy", value, champion_of({"accuracy": best}), 0.0, lower_is_better, Path("m"))
    assert check.success is False and "not a finite number" in check.message


@pytest.mark.parametrize("alias", ["bad name", "staging\n", "", "x" * 256, "é"])
def test_an_alias_mlflow_rejects_is_a_usage_error_not_no_champion_yet(repo, capsys, alias):
    assert model_gate(repo, '{"accuracy": 0.95}', "--alias", alias) == 2
    assert "is not a name MLflow accepts for an alias" in capsys.readouterr().err
    assert not (repo / "gates/model.json").exists()


@pytest.mark.parametrize("bound", ["NaN", "Infinity", "1e400"])
def test_a_suite_with_a_non_finite_bound_is_refused(workdir, capsys, bound):
    (workdir / "good.csv").write_text(GOOD_CSV)
    kwargs = f'{{"column": "height", "min_value": {bound}, "max_value": 10}}'
    (workdir / "s.json").write_text(
        f'{{"name": "s", "expectations": [{{"type": "expect_column_values_to_be_between", "kwargs": {kwargs}}}]}}'
    )
    assert main(["gate", "data", "--data", "good.csv", "--suite", "s.json"]) == 2
    assert "s.json: not valid JSON" in capsys.readouterr().err


def test_records_are_strict_json_even_when_a_check_saw_nan(workdir):
    result = GateResult(
        gate="data",
        checks=[Check("mean", False, "mean is nan", details={"observed": math.nan, "bound": [math.inf, -math.inf]})],
        inputs={"x": math.nan},
        record_path=workdir / "gates/x.json",
        summary_path=workdir / "gates/x.md",
    )
    publish(result)
    record = strict((workdir / "gates/x.json").read_text())
    assert record["checks"][0]["details"] == {"observed": "nan", "bound": ["inf", "-inf"]}


# ---------------------------------------------------------------- the error handler


def test_an_unexpected_error_is_exit_3_with_one_line_and_the_debug_hint(repo, monkeypatch, capsys):
    from modelrail.gates import model as model_gate

    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(model_gate, "run", broken)
    monkeypatch.delenv("MODELRAIL_DEBUG", raising=False)
    assert model_gate_cli(repo) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "unexpected KeyError while checking metrics against thresholds and the champion" in err
    assert "re-run with MODELRAIL_DEBUG=1 for the traceback" in err
    monkeypatch.setenv("MODELRAIL_DEBUG", "1")
    assert model_gate_cli(repo) == 3
    assert "Traceback" in capsys.readouterr().err


def model_gate_cli(repo: Path) -> int:
    (repo / "metrics.json").write_text('{"accuracy": 0.95}')
    return main(["gate", "model", "--metrics", "metrics.json"])


def test_inside_github_actions_every_failure_is_annotated_and_summarised(repo, monkeypatch, capsys):
    summary = repo / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["gate", "model", "--metrics", "no-such.json"]) == 2
    out = capsys.readouterr().out
    assert "::error::modelrail gate model: no-such.json: no such metrics file" in out
    assert "❌ modelrail gate model (exit 2): no-such.json: no such metrics file" in summary.read_text()
    with pytest.raises(SystemExit) as caught:
        main(["gate", "model"])
    assert caught.value.code == 2
    assert "::error::modelrail gate model: the following arguments are required: --metrics" in capsys.readouterr().out


def test_an_annotation_cannot_be_split_into_a_second_workflow_command(monkeypatch, capsys):
    from modelrail import github

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    github.error("bad\n::add-mask::x 100%", file="a,b:c.csv")
    assert capsys.readouterr().out == "::error file=a%2Cb%3Ac.csv::bad%0A::add-mask::x 100%25\n"


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--tolerance", "inf", "is not a finite number"),
        ("--tolerance", "nan", "is not a finite number"),
        ("--timeout", "-1", "is not a finite number"),
        ("--rows", "0", "is not a whole number, 1 or more"),
    ],
)
def test_smoke_options_that_would_pass_anything_are_usage_errors(capsys, option, value, says):
    with pytest.raises(SystemExit) as caught:
        main(["containerize", "smoke", "--image", "x:1", option, value])
    assert caught.value.code == 2 and says in capsys.readouterr().err


@pytest.mark.parametrize("since", ["yesterday", "nan", "-1", "inf"])
def test_report_since_must_be_epoch_seconds(workdir, capsys, since):
    assert main(["report", "--since", since]) == 2
    assert "must be epoch seconds" in capsys.readouterr().err


# ---------------------------------------------------------------- files


@pytest.mark.parametrize("which", ["metrics", "config", "suite", "data"])
def test_a_directory_where_a_file_belongs_is_named(repo, capsys, which):
    (repo / "good.csv").write_text(GOOD_CSV)
    assert main(["suite", "init", "--data", "good.csv", "--out", "suite.json"]) == 0
    (repo / "metrics.json").write_text('{"accuracy": 0.95}')
    (repo / "dir.csv").mkdir()
    command = {
        "metrics": ["gate", "model", "--metrics", "dir.csv"],
        "config": ["gate", "model", "--metrics", "metrics.json", "--config", "dir.csv"],
        "suite": ["gate", "data", "--data", "good.csv", "--suite", "dir.csv"],
        "data": ["gate", "data", "--data", "dir.csv", "--suite", "suite.json"],
    }[which]
    assert main(command) == 2
    # A data folder is read as a Parquet data set; this one has none.
    says = "a folder is read as a Parquet data set, but it holds no" if which == "data" else "is a directory"
    assert f"dir.csv: {says}" in capsys.readouterr().err


@pytest.mark.parametrize("target", ["fifo", "/dev/zero"])
def test_a_fifo_or_device_is_refused_without_reading(repo, capsys, target):
    (repo / "suite.json").write_text(
        '{"name": "s", "expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": "a"}}]}'
    )
    if target == "fifo":
        os.mkfifo(repo / "x.csv")
    else:
        (repo / "x.csv").symlink_to(target)
    assert main(["gate", "data", "--data", "x.csv", "--suite", "suite.json"]) == 2  # would block or fill memory
    assert "x.csv: is not a regular file" in capsys.readouterr().err


def test_a_link_to_a_file_outside_the_repo_is_never_quoted(repo, capsys, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside.write_text("a,b\nroot:x:0:0:secret-line,1,2\n")
    (repo / "x.csv").symlink_to(outside)
    (repo / "suite.json").write_text(
        '{"name": "s", "expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": "a"}}]}'
    )
    assert main(["gate", "data", "--data", "x.csv", "--suite", "suite.json"]) == 1
    seen = capsys.readouterr()
    assert "malformed or truncated CSV" in seen.err
    for text in (seen.out, seen.err, *(p.read_text() for p in (repo / "gates").glob("*"))):
        assert "secret-line" not in text


def test_a_data_file_over_the_size_limit_is_refused(repo, capsys, monkeypatch):
    monkeypatch.setenv("MODELRAIL_MAX_DATA_MB", "1")
    (repo / "big.csv").write_text("a\n" + "x" * (2 << 20) + "\n")  # one 2 MiB field
    assert main(["suite", "init", "--data", "big.csv", "--out", "s.json"]) == 2
    assert "big.csv: 2097155 bytes, more than the limit of 1048576 bytes" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[" * 10000 + "]" * 10000, "nested"),
        ('{"accuracy": ' + "7" * 5000 + "}", "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        ("[1, 2]", "metrics.json: metrics (name -> number) must be a JSON object, got a JSON list"),
    ],
)
def test_malformed_json_is_a_message_not_a_traceback(repo, capsys, text, says):
    path = repo / "metrics.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert main(["gate", "model", "--metrics", "metrics.json"]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("release.json", b"[1]", "a release record must be a JSON object"),
        ("release.json", b"\xff", "not UTF-8"),
        ("history.jsonl", b'{"model_version": "1"}\n{broken\n', "history.jsonl: line 2: not valid JSON"),
        ("history.jsonl", b'{"a": 1}\n[2]\n', "line 2: a release must be a JSON object"),
    ],
)
def test_malformed_release_records_are_config_errors(workdir, name, content, says):
    folder = workdir / "releases/staging"
    folder.mkdir(parents=True)
    (folder / name).write_bytes(content)
    with pytest.raises(ConfigError, match=None) as caught:
        environment.current_record(workdir, "staging") if name == "release.json" else environment.history(
            workdir, "staging"
        )
    assert says in str(caught.value)


@pytest.mark.parametrize("content", [b"[]", b"\xff\xfe", b'{"passed": true, "checks": 5}'])
def test_a_malformed_gate_record_refuses_the_promotion(workdir, content):
    (workdir / "gates").mkdir()
    (workdir / "gates/raw.json").write_bytes(content)
    claimed = Identity("c" * 32, {}, {"gates/raw.json": "0" * 32}, None)
    with pytest.raises(errors.Refused, match=r"gates/raw\.json"):
        records.check_gate_records(workdir, claimed, ["raw"], Layout())


@pytest.mark.parametrize("line_end", [b"\r", b"\r\n"])
def test_csv_line_ends_the_csv_module_rejects_get_the_malformed_csv_message(repo, capsys, line_end):
    (repo / "suite.json").write_text(
        '{"name": "s", "expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": "a"}}]}'
    )
    (repo / "x.csv").write_bytes(b"a\rb,c" + line_end + b"1,2" + line_end)
    assert main(["gate", "data", "--data", "x.csv", "--suite", "suite.json"]) == 1
    assert "x.csv: malformed or truncated CSV: line 1 (the header): a carriage return (CR)" in capsys.readouterr().err


def test_suite_init_drafts_dates_timestamps_and_lists(workdir):
    import pandas as pd

    frame = pd.DataFrame(
        {
            "day": [pd.Timestamp("2024-01-01").date(), pd.Timestamp("2024-01-02").date()],
            "at": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 11:00"], utc=True),
            "tags": [["a", "b"], ["c"]],
            "x": [1.0, math.inf],
        }
    )
    frame.to_parquet(workdir / "d.parquet")
    assert main(["suite", "init", "--data", "d.parquet", "--out", "s.json"]) == 0
    suite = strict((workdir / "s.json").read_text())
    assert {e["kwargs"].get("column") for e in suite["expectations"]} >= {"day", "at", "tags", "x"}
    (workdir / "out").mkdir()
    assert main(["suite", "init", "--data", "d.parquet", "--out", "out", "--force"]) == 2


def test_an_mlmodel_signature_that_is_not_json_is_named(tmp_path):
    (tmp_path / "MLmodel").write_text("signature:\n  inputs: '[{not json'\n")
    with pytest.raises(ConfigError, match=r"MLmodel: signature\.inputs: not valid JSON"):
        container_smoke.signature_inputs(tmp_path)


# ---------------------------------------------------------------- YAML


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("environments: [staging]\nenvironments: [production]\n", "duplicate key 'environments'"),
        ("environments: &e [staging]\nproject: *e\n", "anchors and aliases"),
        ("environments: [staging]\ngates: {model: {thresholds: {a: {min: 0}, a: {max: 1}}}}\n", "duplicate key 'a'"),
        ("environments: ['staging\\n']\n", "is not a valid branch name"),
        ("environments: [staging]\nproject: " + "[" * 10000 + "]" * 10000 + "\n", "not valid YAML"),
        ("environments: [staging]\ndrift: {psi: " + "7" * 5000 + "}\n", "not valid YAML"),
    ],
)
def test_yaml_duplicates_aliases_and_loose_names_are_refused(tmp_path, text, says):
    path = tmp_path / "modelrail.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=None) as caught:
        load_config(path)
    assert says in str(caught.value)


def test_an_alias_bomb_is_refused_at_once_with_a_short_message(repo, capsys):
    bomb = ["environments: [staging]", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    bomb += [f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
    (repo / "modelrail.yaml").write_text("\n".join(bomb) + "\n")
    assert model_gate(repo, '{"accuracy": 0.95}') == 2
    err = capsys.readouterr().err
    assert "anchors and aliases" in err and len(err) < 300


def test_a_huge_value_is_only_excerpted(tmp_path):
    path = tmp_path / "modelrail.yaml"
    path.write_text("environments: [staging]\nproject: [" + "x" * 100000 + "]\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "key 'project' must be a string" in str(caught.value) and len(str(caught.value)) < 200


# ---------------------------------------------------------------- Markdown from data


def test_markdown_from_data_renders_as_text():
    hostile = "[click](https://evil.example) ![x](http://e/i.png) @org/team <img src=x onerror=1> `rm` a|b\nc"
    result = GateResult("data", [Check(hostile, False, hostile, file="f.csv", column=hostile)], {}, Path(), Path())
    table_row = render_summary(result).splitlines()[6]
    # Markup characters only escaped (a backslash before), never bare.
    for raw in (r"\[click", r"\]\(", r"!\[", r"`rm", r"a\|b"):
        assert not re.search(r"(?<!\\)" + raw, table_row), raw
    for raw in ("<img", " @org", "https://", "\n"):
        assert raw not in table_row, raw
    assert "&lt;img" in table_row and "@&#8203;org" in table_row and "\\[click\\]" in table_row
