"""`modelrail report`: gates, data-quality diff against the base branch, outputs for the composite action."""

import json
import subprocess

import pytest

from modelrail.cli import main

# The report runs git and DVC in child processes, in real repositories.
pytestmark = pytest.mark.subprocess


def record(gate: str, checks: list[tuple[str, str, bool]], **inputs) -> str:
    rows = [
        {"name": n, "column": c, "success": ok, "message": "ok" if ok else f"column '{c}' bad"} for n, c, ok in checks
    ]
    return json.dumps({"gate": gate, "passed": all(ok for *_, ok in checks), "inputs": inputs, "checks": rows})


def git(repo, *args):
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", *args], cwd=repo, check=True, capture_output=True
    )


@pytest.fixture
def repo(workdir, monkeypatch):
    """A git repo whose main branch has passing raw and model gate records."""
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    gates = workdir / "gates"
    gates.mkdir()
    (gates / "raw.json").write_text(record("data", [("expect_a", "radius", True), ("expect_b", "area", True)]))
    (gates / "model.json").write_text(record("model", [("threshold accuracy", None, True)]))
    git(workdir, "init", "-q", "-b", "main")
    git(workdir, "add", "-A")
    git(workdir, "commit", "-q", "-m", "base")
    git(workdir, "checkout", "-q", "-b", "pr")
    return workdir


def test_a_passing_pull_request_reports_every_gate_and_sets_outputs(repo, monkeypatch):
    summary, output = repo / "summary.md", repo / "output.txt"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    assert main(["report", "--base", "main", "--out", "report.md"]) == 0
    text = (repo / "report.md").read_text()
    assert text.startswith("<!-- modelrail-report -->\n## modelrail: ✅ all 2 gates passed")
    assert "| ✅ | raw | gates/raw.json | 2 of 2 |" in text
    # The data-quality diff counts the raw gate's two expectations; the model gate's threshold is not one.
    assert "\n2 expectation results unchanged.\n" in text
    assert summary.read_text().strip() == text.strip()
    outputs = output.read_text()
    assert "passed=true\n" in outputs and f"report-path={repo / 'report.md'}\n" in outputs
    delimiter = outputs.split("report<<", 1)[1].splitlines()[0]
    assert delimiter.startswith("modelrail_") and len(delimiter) > 20


def test_a_failed_expectation_shows_base_against_head(repo, capsys):
    (repo / "gates/raw.json").write_text(record("data", [("expect_a", "radius", True), ("expect_b", "area", False)]))
    assert main(["report", "--base", "main", "--out", "report.md"]) == 1
    text = (repo / "report.md").read_text()
    assert "## modelrail: ❌ raw gate failed" in text
    assert "| raw | expect_b | area | ✅ | ❌ | column 'area' bad |" in text
    assert "- **raw** expect_b: column 'area' bad" in text


def test_one_failed_gate_among_passed_ones_fails_the_verdict_in_every_output(repo, monkeypatch):
    """The overall verdict is the conjunction: exit code, headline and the `passed` output all say failed."""
    output = repo / "output.txt"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    (repo / "gates/model.json").write_text(record("model", [("threshold accuracy", None, False)]))
    assert main(["report", "--base", "main", "--out", "report.md"]) == 1
    text = (repo / "report.md").read_text()
    assert text.startswith("<!-- modelrail-report -->\n## modelrail: ❌ model gate failed\n")
    assert "| ✅ | raw | gates/raw.json | 2 of 2 |" in text and "| ❌ | model | gates/model.json | 0 of 1 |" in text
    assert "passed=false\n" in output.read_text() and "passed=true" not in output.read_text()


def test_a_failed_pipeline_fails_the_report_even_if_records_passed(repo):
    assert main(["report", "--base", "main", "--pipeline-outcome", "failure", "--out", "r.md"]) == 1
    assert "the pipeline stopped (failure)" in (repo / "r.md").read_text()


def test_records_older_than_the_run_are_not_counted(repo):
    assert main(["report", "--since", "9999999999", "--out", "r.md"]) == 1
    assert "not run (an earlier stage failed or is out of date)" in (repo / "r.md").read_text()


def test_no_records_is_a_usage_error(workdir, capsys):
    assert main(["report", "--out", "r.md"]) == 2
    assert "gates: no gate records" in capsys.readouterr().err


POLICY_CONFIG = """environments: [staging]
gates:
  model:
    thresholds:
      accuracy: {min: 0.9}
      f1: {min: 0.9}
    champion: {tolerance: 0.01, metrics: [accuracy, f1]}
"""
POLICY_PIPELINE = """stages:
  raw_gate:
    cmd: modelrail gate data --data data/raw.csv --suite expectations/raw.json --record gates/raw.json
  train:
    cmd: python -m model.train
  model_gate:
    cmd: modelrail gate model --metrics metrics.json --record gates/model.json
"""
POLICY_SUITE = {
    "name": "raw",
    "expectations": [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "radius", "min_value": 0}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "area"}},
    ],
}


def test_gate_policy_changes_come_first_in_the_report(repo):
    (repo / "modelrail.yaml").write_text(POLICY_CONFIG)
    (repo / "dvc.yaml").write_text(POLICY_PIPELINE)
    (repo / "expectations").mkdir()
    (repo / "expectations/raw.json").write_text(json.dumps(POLICY_SUITE))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "policy")
    git(repo, "branch", "-f", "main")
    assert main(["report", "--base", "main", "--out", "same.md"]) == 0
    assert "Gate policy unchanged against `main`." in (repo / "same.md").read_text()

    # What a pull request could slip in next to its model: every one of these is listed, before the results.
    (repo / "modelrail.yaml").write_text(
        POLICY_CONFIG.replace("accuracy: {min: 0.9}", "accuracy: {min: 0.5}")
        .replace("      f1: {min: 0.9}\n", "")
        .replace("tolerance: 0.01", "tolerance: 0.5")
        # Pointing the layout at another file moves what verify re-derives and what promotion hashes as the model.
        + "paths: {model: metrics/metrics.json}\n"
    )
    (repo / "dvc.yaml").write_text(POLICY_PIPELINE.split("  model_gate:")[0])
    suite = {**POLICY_SUITE, "expectations": [dict(POLICY_SUITE["expectations"][0])]}
    suite["expectations"][0]["kwargs"] = {"column": "radius", "min_value": -1000}
    (repo / "expectations/raw.json").write_text(json.dumps(suite))
    (repo / "expectations/features.json").write_text(json.dumps({"expectations": []}))
    assert main(["report", "--base", "main", "--out", "report.md"]) == 0
    text = (repo / "report.md").read_text()
    policy = text.split("### ⚠️ Gate policy changed against `main`: 8 change(s)", 1)[1].split("### Gates")[0]
    for line in (
        "`modelrail.yaml`: threshold on **accuracy** min 0.9 -> min 0.5 (**looser**)",
        "`modelrail.yaml`: threshold on **f1** removed (was min 0.9)",
        "`modelrail.yaml`: champion `tolerance` `0.01` -> `0.5` (**looser**)",
        '`modelrail.yaml`: layout `paths.model` (default) -> `"metrics/metrics.json"`',
        "`dvc.yaml`: gate stage **model_gate** removed",
        "`expectations/raw.json`: expectation `expect_column_values_to_not_be_null` on **area** removed",
        "`expectations/raw.json`: expectation `expect_column_values_to_be_between` on **radius** changed: "
        "min_value `0` -> `-1000`",
        "`expectations/features.json`: suite added (0 expectations)",
    ):
        assert f"- {line}\n" in policy, line
    assert text.index("Gate policy changed") < text.index("### Gates")


def test_the_commit_is_one_code_span_without_a_line_break(repo):
    assert main(["report", "--out", "r.md"]) == 0
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True).stdout
    assert f"Commit `{head.strip()}`." in (repo / "r.md").read_text()


def test_failures_come_first_and_each_gate_is_named_by_its_record(repo):
    (repo / "gates/features.json").write_text(record("data", [("expect_c", "area", True)]))
    (repo / "gates/raw.json").write_text(record("data", [("expect_a", "radius", True), ("expect_b", "area", False)]))
    assert main(["report", "--out", "r.md"]) == 1
    text = (repo / "r.md").read_text()
    assert text.index("### What failed") < text.index("### Gates")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "| gates/" in line]
    assert rows[0].split("|")[2].strip() == "raw"
    assert {row.split("|")[2].strip() for row in rows} == {"raw", "features", "model"}


def test_summaries_of_two_data_gates_have_different_headings(workdir, tmp_path):
    from modelrail.gates.records import Check, GateResult, render_summary

    def summary(name: str) -> str:
        checks = [Check("expect_a", True, "ok")]
        result = GateResult("data", checks, {}, tmp_path / f"{name}.json", tmp_path / f"{name}.md")
        return render_summary(result).splitlines()[0]

    assert summary("raw") == "### raw: data gate ✅ passed"
    assert summary("features") == "### features: data gate ✅ passed"
