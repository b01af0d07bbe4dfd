"""`modelrail report`: the pull-request report (gates, metrics diff, champion, data-quality diff, plots)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from modelrail import report_sections as section
from modelrail.errors import ConfigError
from modelrail.files import write_atomic
from modelrail.git import git_output
from modelrail.identity import read_identity, read_run_record
from modelrail.layout import Layout, load_layout
from modelrail.pipeline import stale_outputs, written_since
from modelrail.report_records import Gate, read_gates

# The sticky-comment action finds its comment by its own header; this marker lets anything else find it too.
MARKER = "<!-- modelrail-report -->"


@dataclass
class Report:
    """What `modelrail report` returns: the verdict, the Markdown and where it was written."""

    passed: bool
    markdown: str
    path: Path
    gates: list[Gate] = field(default_factory=list)
    model_uri: str = ""
    content_hash: str = ""


def run(
    out: Path,
    base: str | None,
    gates_dir: Path | None = None,
    pipeline_outcome: str = "success",
    since: float | None = None,
) -> Report:
    """Build the report from the gate records and DVC; write it to `out` and, in GitHub Actions, to the summary.
    The gate records, metrics, plots and model are where the repo's layout (modelrail.yaml `paths:`) says."""
    if pipeline_outcome not in ("success", "failure", "cancelled", "skipped"):
        raise ConfigError(f"--pipeline-outcome: '{pipeline_outcome}' is not success, failure, cancelled or skipped")
    layout = load_layout(Path("."))
    gates_dir = gates_dir or Path(layout.gates)
    stale = stale_outputs()
    base_rev = _resolve(base) if base else None
    gates = read_gates(gates_dir, stale, since, base_rev)
    if not gates:
        raise ConfigError(f"{gates_dir}: no gate records (*.json) to report on (fix: run `dvc repro` first)")
    ran = [gate for gate in gates if gate.state != "not run"]
    passed = pipeline_outcome == "success" and bool(ran) and all(gate.state == "passed" for gate in ran)
    model_uri, content_hash = _artifact(stale, layout)
    lines = [MARKER, section.headline(passed, gates, pipeline_outcome), ""]
    lines += section.policy(base, base_rev)
    lines += section.context(base, base_rev, model_uri, content_hash)
    lines += section.failures(gates)
    lines += section.gate_table(gates)
    lines += section.champion(gates)
    metrics = layout.metrics
    lines += section.metrics_diff(base_rev, base, metrics in stale and not written_since(metrics, since))
    lines += section.data_quality_diff(gates, base)
    roc = f"{layout.plots}/roc.csv"
    lines += section.roc_plot(base_rev, fresh=roc not in stale or written_since(roc, since), path=roc)
    markdown = "\n".join(lines).rstrip() + "\n"
    write_atomic(out, markdown)
    report = Report(passed, markdown, out, gates, model_uri, content_hash)
    _publish(report)
    return report


def _artifact(stale: set[str], layout: Layout) -> tuple[str, str]:
    """The model's MLflow URI (registered version if any) and its content hash in dvc.lock."""
    if layout.model in stale:
        return "", ""
    try:
        run, _ = read_run_record(Path("."), layout)
    except ConfigError:
        return "", ""
    if run.get("registered_model") and run.get("model_version"):
        uri = f"models:/{run['registered_model']}/{run['model_version']}"
    else:
        uri = f"runs:/{run.get('run_id', '')}/model"
    try:
        content_hash = read_identity(Path("."), layout).lock_md5
    except ConfigError:
        content_hash = ""
    return uri, content_hash


def _publish(report: Report) -> None:
    """Step summary, outputs (the report as a multi-line one) and an annotation on failure."""
    from modelrail import github

    github.summary(report.markdown + "\n")
    github.write(
        {
            "passed": "true" if report.passed else "false",
            "report-path": str(report.path.resolve()),
            "model-uri": report.model_uri,
            "content-hash": report.content_hash,
        }
    )
    github.write_multiline("report", report.markdown)
    if not report.passed:
        github.error(f"modelrail report: {report.markdown.splitlines()[1].removeprefix('## modelrail: ')}")


def _resolve(base: str) -> str | None:
    """The base branch's commit: the remote-tracking branch, a local one, or fetched from origin."""
    for ref in (f"origin/{base}", base):
        sha = git_output("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if sha:
            return sha.strip()
    if git_output("fetch", "--no-tags", "--quiet", "origin", base) is not None:
        sha = git_output("rev-parse", "--verify", "--quiet", "FETCH_HEAD^{commit}")
        return sha.strip() if sha else None
    return None
