import json

import pytest
import yaml
from support.data import leftovers

from modelrail.cli import main

CONFIG = """\
environments: [staging, production]
gates:
  model:
    thresholds:
      accuracy: {min: 0.9}
      log_loss: {max: 0.3}
"""


@pytest.fixture
def repo(workdir):
    (workdir / "modelrail.yaml").write_text(CONFIG)
    return workdir


def gate(metrics: dict | str, repo):
    path = repo / "metrics.json"
    path.write_text(metrics if isinstance(metrics, str) else json.dumps(metrics))
    return main(["gate", "model", "--metrics", "metrics.json"])


def test_metrics_within_thresholds_pass(repo):
    assert gate({"accuracy": 0.95, "log_loss": 0.1}, repo) == 0
    record = json.loads((repo / "gates/model.json").read_text())
    assert record["passed"] is True
    assert [check["name"] for check in record["checks"]] == ["threshold accuracy", "threshold log_loss"]
    assert record["inputs"]["config"]["path"] == "modelrail.yaml"


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        ({"accuracy": 0.85, "log_loss": 0.1}, "accuracy = 0.85 (wanted >= 0.9)"),
        ({"accuracy": 0.95, "log_loss": 0.5}, "log_loss = 0.5 (wanted <= 0.3)"),
        ({"log_loss": 0.1}, "metric 'accuracy' is missing or not a number"),
        ({"accuracy": "high", "log_loss": 0.1}, "metric 'accuracy' is missing or not a number"),
    ],
)
def test_a_metric_outside_its_threshold_fails(repo, capsys, metrics, expected):
    assert gate(metrics, repo) == 1
    err = capsys.readouterr().err
    assert "metrics.json" in err and expected in err
    record = json.loads((repo / "gates/model.json").read_text())
    assert record["passed"] is False
    (failed,) = [check for check in record["checks"] if check["success"] is not True]
    name = failed["name"].removeprefix("threshold ")
    assert failed["success"] is False and failed["file"] == "metrics.json"
    assert failed["details"] == {
        "threshold": yaml.safe_load(CONFIG)["gates"]["model"]["thresholds"][name],
        "value": metrics.get(name),
    }
    assert leftovers(repo) == []


def test_nested_metrics_are_reached_by_dotted_names(repo):
    (repo / "modelrail.yaml").write_text(CONFIG.replace("accuracy:", "test.accuracy:"))
    assert gate({"test": {"accuracy": 0.95}, "log_loss": 0.1}, repo) == 0


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [("{broken", "not valid JSON"), ("[1, 2]", "must be a JSON object")],
)
def test_unreadable_metrics_are_a_usage_error(repo, capsys, metrics, expected):
    assert gate(metrics, repo) == 2
    assert expected in capsys.readouterr().err
    assert not (repo / "gates").exists()


def test_no_thresholds_means_the_gate_cannot_block_and_is_refused(repo, capsys):
    (repo / "modelrail.yaml").write_text("environments: [staging]\n")
    assert gate({"accuracy": 1.0}, repo) == 2
    err = capsys.readouterr().err
    assert "modelrail.yaml: key 'gates.model.thresholds' names no metric, so the gate cannot block" in err
    assert not (repo / "gates").exists()


def test_a_metric_with_both_bounds_is_held_to_both_and_recorded(repo, capsys):
    (repo / "modelrail.yaml").write_text(CONFIG.replace("{min: 0.9}", "{min: 0.9, max: 0.99}"))
    assert gate({"accuracy": 0.995, "log_loss": 0.1}, repo) == 1  # too good to be true: a leak
    assert "metrics.json: accuracy = 0.995 (wanted >= 0.9 and <= 0.99)" in capsys.readouterr().err
    check = json.loads((repo / "gates/model.json").read_text())["checks"][0]
    assert check["details"] == {"threshold": {"min": 0.9, "max": 0.99}, "value": 0.995}
    assert check["file"] == "metrics.json" and check["success"] is False


def test_a_missing_metrics_file_is_a_usage_error_naming_it(repo, capsys):
    assert main(["gate", "model", "--metrics", "metrics.json"]) == 2
    assert "metrics.json: no such metrics file (run the evaluate stage first)" in capsys.readouterr().err


def test_the_record_holds_every_check_and_the_hashes_of_what_was_judged(repo):
    from modelrail.files import digests

    assert gate({"accuracy": 0.95, "log_loss": 0.1}, repo) == 0
    record = json.loads((repo / "gates/model.json").read_text())
    assert (record["gate"], record["passed"]) == ("model", True)
    # No champion section without a target environment or alias: the thresholds alone judged.
    assert record["inputs"] == {
        "metrics": {"path": "metrics.json", **digests((repo / "metrics.json").read_bytes())},
        "config": {"path": "modelrail.yaml", **digests(CONFIG.encode())},
    }
    assert record["checks"] == [
        {
            "name": "threshold accuracy",
            "success": True,
            "message": "accuracy = 0.95 (wanted >= 0.9)",
            "file": "metrics.json",
            "details": {"threshold": {"min": 0.9}, "value": 0.95},
        },
        {
            "name": "threshold log_loss",
            "success": True,
            "message": "log_loss = 0.1 (wanted <= 0.3)",
            "file": "metrics.json",
            "details": {"threshold": {"max": 0.3}, "value": 0.1},
        },
    ]
    assert "threshold accuracy" in (repo / "gates/model.md").read_text()


def test_the_record_and_summary_go_where_they_are_asked(repo):
    (repo / "metrics.json").write_text(json.dumps({"accuracy": 0.95, "log_loss": 0.1}))
    args = ["--metrics", "metrics.json", "--record", "out/m.json", "--summary", "out/m.md"]
    assert main(["gate", "model", *args]) == 0
    assert json.loads((repo / "out/m.json").read_text())["gate"] == "model"
    assert "threshold accuracy" in (repo / "out/m.md").read_text()
    assert not (repo / "gates").exists()
