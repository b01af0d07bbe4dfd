"""`modelrail report`: the pull-request report (gates, metrics diff, champion, data-quality diff, plots)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from modelrail.errors import ConfigError
from modelrail.files import write_atomic

# The sticky-comment action finds its comment by its own header; this marker lets anything else find it too.
MARKER = "<!-- modelrail-report -->"
ROC_GRID = [round(i / 10, 1) for i in range(11)]


@dataclass
class Gate:
    """One gate record as the report sees it: from this run, or left over from an earlier commit."""

    path: str
    record: dict | None
    fresh: bool
    base: dict | None = None

    @property
    def state(self) -> str:
        if self.record is None or not self.fresh:
            return "not run"
        return "passed" if self.record.get("passed") else "failed"


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
    gates_dir: Path = Path("gates"),
    pipeline_outcome: str = "success",
    since: float | None = None,
    run_record: Path = Path("models/run.json"),
    model_out: str = "models/model",
) -> Report:
    """Build the report from the gate records and DVC; write it to `out` and, in GitHub Actions, to the summary."""
    if pipeline_outcome not in ("success", "failure", "cancelled", "skipped"):
        raise ConfigError(f"--pipeline-outcome: '{pipeline_outcome}' is not success, failure, cancelled or skipped")
    stale = _stale_outputs()
    base_rev = _resolve(base) if base else None
    gates = _gates(gates_dir, stale, since, base_rev)
    if not gates:
        raise ConfigError(f"{gates_dir}: no gate records (*.json) to report on (fix: run `dvc repro` first)")
    ran = [gate for gate in gates if gate.state != "not run"]
    passed = pipeline_outcome == "success" and bool(ran) and all(gate.state == "passed" for gate in ran)
    model_uri, content_hash = _artifact(run_record, model_out, stale)
    lines = [MARKER, _headline(passed, gates, pipeline_outcome), ""]
    lines += _context(base, base_rev, model_uri, content_hash)
    lines += _failures(gates)
    lines += _gate_table(gates)
    lines += _champion(gates)
    lines += _metrics_diff(
        base_rev, base, "metrics/metrics.json" in stale and not _fresh("metrics/metrics.json", since)
    )
    lines += _data_quality_diff(gates, base)
    lines += _roc_plot(base_rev, fresh="plots/roc.csv" not in stale or _fresh("plots/roc.csv", since))
    markdown = "\n".join(lines).rstrip() + "\n"
    write_atomic(out, markdown)
    report = Report(passed, markdown, out, gates, model_uri, content_hash)
    _publish(report)
    return report


def _headline(passed: bool, gates: list[Gate], outcome: str) -> str:
    if passed:
        return f"## modelrail: ✅ all {len(gates)} gates passed"
    failed = [Path(gate.path).stem for gate in gates if gate.state == "failed"]
    what = f"{', '.join(failed)} gate failed" if failed else f"the pipeline stopped ({outcome})"
    return f"## modelrail: ❌ {what}"


def _context(base: str | None, base_rev: str | None, model_uri: str, content_hash: str) -> list[str]:
    head = (_git("rev-parse", "--short", "HEAD") or "").strip() or "working tree"  # git ends its output with a newline
    against = f" against `{base}` ({base_rev[:7]})" if base_rev else (f" (base `{base}` not found)" if base else "")
    lines = [f"Commit `{head}`{against}."]
    if model_uri:
        lines.append(f"Model: `{model_uri}`, content hash `{content_hash or 'unknown'}`.")
    return [*lines, ""]


def _gate_table(gates: list[Gate]) -> list[str]:
    icons = {"passed": "✅", "failed": "❌", "not run": "⏭️"}
    rows = ["### Gates", "", "| | gate | record | checks passed |", "|---|---|---|---|"]
    order = {"failed": 0, "not run": 1, "passed": 2}  # failures first; otherwise the pipeline's order
    for gate in sorted(gates, key=lambda gate: order[gate.state]):
        checks = (gate.record or {}).get("checks", [])
        count = f"{sum(c.get('success', False) for c in checks)} of {len(checks)}" if gate.state != "not run" else ""
        label = gate.state if gate.state != "not run" else "not run (an earlier stage failed or is out of date)"
        rows.append(f"| {icons[gate.state]} | {Path(gate.path).stem} | `{gate.path}` | {count or label} |")
    return [*rows, ""]


def _failures(gates: list[Gate]) -> list[str]:
    lines = []
    for gate in gates:
        if gate.state != "failed":
            continue
        for check in gate.record.get("checks", []):
            if not check.get("success"):
                lines.append(f"- **{Path(gate.path).stem}** `{check.get('name')}`: {_cell(check.get('message', ''))}")
    return ["### What failed", "", *lines, ""] if lines else []


def _champion(gates: list[Gate]) -> list[str]:
    for gate in gates:
        champion = (gate.record or {}).get("inputs", {}).get("champion") if gate.fresh else None
        if not champion:
            continue
        who = f"`{champion['registered_model']}@{champion['alias']}`"
        if champion.get("version"):
            who += f" (version {champion['version']})"
        lines = [f"### Champion comparison: {who}", ""]
        rows = [c for c in gate.record["checks"] if c.get("name", "").startswith("champion")]
        compared = [c for c in rows if "champion" in c.get("details", {})]
        if compared:
            lines += ["| | metric | champion | this PR | change | tolerance |", "|---|---|---|---|---|---|"]
            for check in compared:
                d = check["details"]
                lines.append(
                    f"| {'✅' if check['success'] else '❌'} | {check['name'].removeprefix('champion ')} "
                    f"| {_num(d.get('champion'))} | {_num(d.get('value'))} | {_signed(d.get('delta'))} "
                    f"| {_num(d.get('tolerance'))} |"
                )
        else:
            lines += [f"{'✅' if c['success'] else '❌'} {_cell(c['message'])}" for c in rows]
        return [*lines, ""]
    return []


def _metrics_diff(base_rev: str | None, base: str | None, stale: bool) -> list[str]:
    lines = ["### Metrics" + (f" (`dvc metrics diff {base}`)" if base_rev else ""), ""]
    if stale:
        return [*lines, "Not recomputed: the pipeline stopped before the evaluate stage.", ""]
    args = ["metrics", "diff", base_rev, "--json", "--all"] if base_rev else ["metrics", "show", "--json"]
    proc = _dvc(*args)
    if proc is None or proc.returncode != 0:
        detail = "dvc is not installed" if proc is None else (proc.stderr or proc.stdout).strip()[-300:]
        return [*lines, f"Metrics unavailable: {_cell(detail)}", ""]
    data = json.loads(proc.stdout or "{}")
    lines += ["| file | metric | base | this PR | change |", "|---|---|---|---|---|"]
    count = 0
    if base_rev:
        for file, metrics in sorted(data.items()):
            for name, values in sorted(_flatten(metrics, leaf="new").items()):
                count += 1
                old, new = values.get("old"), values.get("new")
                change = _signed(values.get("diff")) if values.get("diff") is not None else "new"
                lines.append(f"| `{file}` | {name} | {_num(old)} | {_num(new)} | {change} |")
    else:
        for _rev, files in data.items():
            for file, content in files.get("data", {}).items():
                for name, value in sorted(_flatten(content.get("data", {})).items()):
                    count += 1
                    lines.append(f"| `{file}` | {name} | | {_num(value)} | |")
    return [*lines, ""] if count else [lines[0], "", "No metrics.", ""]


def _flatten(data: dict, prefix: str = "", leaf: str | None = None) -> dict:
    flat: dict = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and (leaf is None or (leaf not in value and "old" not in value)):
            flat.update(_flatten(value, f"{name}.", leaf))
        else:
            flat[name] = value
    return flat


def _data_quality_diff(gates: list[Gate], base: str | None) -> list[str]:
    if not base:
        return []
    rows, unchanged = [], 0
    for gate in gates:
        if gate.path.endswith("model.json") or (gate.record or {}).get("gate") == "model":
            continue
        head = _expectations(gate.record if gate.fresh else None)
        before = _expectations(gate.base)
        for key in sorted(set(head) | set(before), key=str):
            old, new = before.get(key), head.get(key)
            if old == new:
                unchanged += 1
                continue
            name, column, _file = key
            rows.append(
                f"| {Path(gate.path).stem} | {name} | {column or ''} | {_verdict(old)} | {_verdict(new)} "
                f"| {_cell(new[1] if new and not new[0] else '')} |"
            )
    lines = ["### Data quality: base vs this PR", ""]
    if rows:
        lines += ["| gate | expectation | column | base | this PR | detail |", "|---|---|---|---|---|---|", *rows]
        lines.append("")
    lines.append(f"{unchanged} expectation results unchanged." if unchanged or not rows else "")
    return [*lines, ""]


def _expectations(record: dict | None) -> dict:
    out = {}
    for check in (record or {}).get("checks", []):
        file = Path(check["file"]).name if check.get("file") else None
        out[(check.get("name"), check.get("column"), file)] = (bool(check.get("success")), check.get("message", ""))
    return out


def _verdict(result) -> str:
    return "-" if result is None else ("✅" if result[0] else "❌")


def _roc_plot(base_rev: str | None, fresh: bool, path: str = "plots/roc.csv") -> list[str]:
    """The ROC curve of this PR (and the base) as a Mermaid chart, which GitHub renders in comments."""
    if not fresh or not Path(path).is_file():
        return []
    series = {"this PR": _tpr_on_grid(Path(path).read_text(encoding="utf-8"))}
    if base_rev:
        text = _git("show", f"{base_rev}:{path}")
        if text:
            series = {"base": _tpr_on_grid(text), **series}
    series = {name: values for name, values in series.items() if values}
    if not series:
        return []
    lines = ["### ROC curve (test set)", "", "```mermaid", "xychart-beta", '  x-axis "false positive rate" [']
    lines[-1] += ", ".join(f'"{x}"' for x in ROC_GRID) + "]"
    lines.append('  y-axis "true positive rate" 0 --> 1')
    lines += [f"  line [{', '.join(f'{v:.3f}' for v in values)}]" for values in series.values()]
    legend = " and ".join(f"{name} (line {i + 1})" for i, name in enumerate(series))
    return [*lines, "```", "", legend + ".", ""]


def _tpr_on_grid(text: str) -> list[float]:
    points = []
    for line in text.splitlines()[1:]:
        try:
            fpr, tpr = (float(x) for x in line.split(",")[:2])
        except ValueError:
            return []
        points.append((fpr, tpr))
    return [max((t for f, t in points if f <= x), default=0.0) for x in ROC_GRID]


def _gates(gates_dir: Path, stale: set[str], since: float | None, base_rev: str | None) -> list[Gate]:
    outputs = _dvc_outputs()
    paths = sorted(gates_dir.glob("*.json"), key=lambda p: (outputs.get(p.as_posix(), len(outputs)), p.name))
    base_paths = []
    if base_rev:
        listing = _git("ls-tree", "--name-only", f"{base_rev}:{gates_dir.as_posix()}") or ""
        base_paths = [gates_dir / name for name in listing.split() if name.endswith(".json")]
    gates = []
    for path in paths + [p for p in base_paths if p not in paths]:
        rel = path.as_posix()
        record = _load(path.read_text(encoding="utf-8")) if path.is_file() else None
        if since is None:
            fresh = rel not in stale
        else:
            # Written by this run, or the output of a stage that dvc.lock proves is up to date.
            fresh = _fresh(rel, since) or (rel in outputs and rel not in stale)
        base_record = _load(_git("show", f"{base_rev}:{rel}")) if base_rev else None
        gates.append(Gate(rel, record, fresh and record is not None, base_record))
    return gates


def _stages() -> dict:
    import yaml

    try:
        return (yaml.safe_load(Path("dvc.yaml").read_text(encoding="utf-8")) or {}).get("stages", {})
    except (OSError, ValueError):
        return {}


def _outs(stage: dict) -> list[str]:
    entries = [*(stage.get("outs") or []), *(stage.get("metrics") or []), *(stage.get("plots") or [])]
    return [out if isinstance(out, str) else next(iter(out)) for out in entries]


def _dvc_outputs() -> dict[str, int]:
    """Every output in dvc.yaml -> its position, so records are listed in pipeline order."""
    outputs: dict[str, int] = {}
    for stage in _stages().values():
        for out in _outs(stage):
            outputs.setdefault(out, len(outputs))
    return outputs


def _fresh(rel: str, since: float | None) -> bool:
    return since is not None and Path(rel).is_file() and Path(rel).stat().st_mtime >= since


def _stale_outputs() -> set[str]:
    """Outputs of stages that are out of date: changed per `dvc status`, or downstream of such a stage."""
    stages = _stages()
    if not stages:
        return set()
    proc = _dvc("status", "--json")
    try:
        changed = set(json.loads(proc.stdout or "{}")) if proc is not None and proc.returncode == 0 else set(stages)
    except json.JSONDecodeError:
        changed = set(stages)
    producer = {out: name for name, stage in stages.items() for out in _outs(stage)}
    grew = True
    while grew:  # `dvc status` names only stages whose own deps changed; staleness flows downstream
        grew = False
        for name, stage in stages.items():
            deps = [dep if isinstance(dep, str) else next(iter(dep)) for dep in stage.get("deps") or []]
            if name not in changed and any(producer.get(dep) in changed for dep in deps):
                changed.add(name)
                grew = True
    return {out for name in changed if name in stages for out in _outs(stages[name])}


def _artifact(run_record: Path, model_out: str, stale: set[str]) -> tuple[str, str]:
    """The model's MLflow URI (registered version if any) and its content hash in dvc.lock."""
    if model_out in stale or not run_record.is_file():
        return "", ""
    try:
        run = json.loads(run_record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "", ""
    if run.get("registered_model") and run.get("model_version"):
        uri = f"models:/{run['registered_model']}/{run['model_version']}"
    else:
        uri = f"runs:/{run.get('run_id', '')}/model"
    content_hash = ""
    try:
        import yaml

        lock = yaml.safe_load(Path("dvc.lock").read_text(encoding="utf-8")) or {}
        for stage in lock.get("stages", {}).values():
            for out in stage.get("outs", []):
                if out.get("path") == model_out:
                    content_hash = out.get("md5", "")
    except (OSError, ValueError):
        pass
    return uri, content_hash


def _publish(report: Report) -> None:
    """Step summary, outputs (random heredoc delimiter for the multi-line one) and an annotation on failure."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(report.markdown + "\n")
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        delimiter = f"modelrail_{secrets.token_hex(16)}"
        with open(output, "a", encoding="utf-8") as handle:
            handle.write(f"passed={'true' if report.passed else 'false'}\n")
            handle.write(f"report-path={report.path.resolve()}\n")
            handle.write(f"model-uri={report.model_uri}\ncontent-hash={report.content_hash}\n")
            handle.write(f"report<<{delimiter}\n{report.markdown}\n{delimiter}\n")
    if os.environ.get("GITHUB_ACTIONS") == "true" and not report.passed:
        print(f"::error::modelrail report: {report.markdown.splitlines()[1].removeprefix('## modelrail: ')}")


def _resolve(base: str) -> str | None:
    """The base branch's commit: the remote-tracking branch, a local one, or fetched from origin."""
    for ref in (f"origin/{base}", base):
        sha = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if sha:
            return sha.strip()
    if _git("fetch", "--no-tags", "--quiet", "origin", base) is not None:
        sha = _git("rev-parse", "--verify", "--quiet", "FETCH_HEAD^{commit}")
        return sha.strip() if sha else None
    return None


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(["git", *args], capture_output=True, text=True, check=False, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def _dvc(*args: str) -> subprocess.CompletedProcess | None:
    exe = shutil.which("dvc")
    command = [exe] if exe else [sys.executable, "-m", "dvc"]
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    try:
        return subprocess.run([*command, *args], capture_output=True, text=True, check=False, env=env, timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _load(text: str | None) -> dict | None:
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return None


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _num(value) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


def _signed(value) -> str:
    return f"{value:+.4g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"
