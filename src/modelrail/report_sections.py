"""The sections of the pull-request report, each Markdown built from records and DVC: escaped where it holds data."""

from __future__ import annotations

import json
from pathlib import Path

from modelrail.git import git_output, head
from modelrail.markdown import escape
from modelrail.pipeline import dvc
from modelrail.report_records import Gate

ROC_GRID = [round(i / 10, 1) for i in range(11)]


def headline(passed: bool, gates: list[Gate], outcome: str) -> str:
    if passed:
        return f"## modelrail: ✅ all {len(gates)} gates passed"
    failed = [Path(gate.path).stem for gate in gates if gate.state == "failed"]
    what = f"{', '.join(failed)} gate failed" if failed else f"the pipeline stopped ({outcome})"
    return f"## modelrail: ❌ {what}"


def policy(base: str | None, base_rev: str | None) -> list[str]:
    """Changes to what the gates check come before any result: passing weaker gates is not passing."""
    if not base_rev:
        return []
    from modelrail.trust import policy

    found = policy.changes(base_rev)
    if not found:
        return [f"Gate policy unchanged against `{base}`.", ""]
    heading = f"### ⚠️ Gate policy changed against `{base}`: {len(found)} change(s) for the code owners to review"
    return [heading, "", *[f"- {line}" for line in found], ""]


def context(base: str | None, base_rev: str | None, model_uri: str, content_hash: str) -> list[str]:
    commit = (head(Path(".")) or "")[:7] or "working tree"
    against = f" against `{base}` ({base_rev[:7]})" if base_rev else (f" (base `{base}` not found)" if base else "")
    lines = [f"Commit `{commit}`{against}."]
    if model_uri:
        lines.append(f"Model: {escape(model_uri)}, content hash {escape(content_hash or 'unknown')}.")
    return [*lines, ""]


def gate_table(gates: list[Gate]) -> list[str]:
    icons = {"passed": "✅", "failed": "❌", "not run": "⏭️"}
    rows = ["### Gates", "", "| | gate | record | checks passed |", "|---|---|---|---|"]
    order = {"failed": 0, "not run": 1, "passed": 2}  # failures first; otherwise the pipeline's order
    for gate in sorted(gates, key=lambda gate: order[gate.state]):
        checks = (gate.record or {}).get("checks", [])
        count = f"{sum(c.get('success', False) for c in checks)} of {len(checks)}" if gate.state != "not run" else ""
        label = gate.state if gate.state != "not run" else "not run (an earlier stage failed or is out of date)"
        name = escape(Path(gate.path).stem)
        rows.append(f"| {icons[gate.state]} | {name} | {escape(gate.path)} | {count or label} |")
    return [*rows, ""]


def failures(gates: list[Gate]) -> list[str]:
    lines = []
    for gate in gates:
        if gate.state != "failed":
            continue
        for check in gate.record.get("checks", []):
            if not check.get("success"):
                name, message = escape(check.get("name")), escape(check.get("message", ""))
                lines.append(f"- **{escape(Path(gate.path).stem)}** {name}: {message}")
    return ["### What failed", "", *lines, ""] if lines else []


def champion(gates: list[Gate]) -> list[str]:
    for gate in gates:
        champion = (gate.record or {}).get("inputs", {}).get("champion") if gate.fresh else None
        if not isinstance(champion, dict) or not champion:
            continue
        who = escape(f"{champion.get('registered_model')}@{champion.get('alias')}")
        if champion.get("version"):
            who += f" (version {escape(champion['version'])})"
        lines = [f"### Champion comparison: {who}", ""]
        if champion.get("not_comparable"):
            reason = escape(champion["not_comparable"])
            lines += [f"> **⚠️ The champion's metrics no longer apply** (`not_comparable`): {reason}", ""]
        rows = [c for c in gate.record["checks"] if (c.get("name") or "").startswith("champion")]
        compared = [c for c in rows if "champion" in c.get("details", {})]
        if compared:
            lines += ["| | metric | champion | this PR | change | tolerance |", "|---|---|---|---|---|---|"]
            for check in compared:
                d = check["details"]
                lines.append(
                    f"| {'✅' if check['success'] else '❌'} | {escape(check['name'].removeprefix('champion '))} "
                    f"| {_num(d.get('champion'))} | {_num(d.get('value'))} | {_signed(d.get('delta'))} "
                    f"| {_num(d.get('tolerance'))} |"
                )
        else:
            lines += [f"{'✅' if c['success'] else '❌'} {escape(c.get('message') or '')}" for c in rows]
        return [*lines, ""]
    return []


def metrics_diff(base_rev: str | None, base: str | None, stale: bool) -> list[str]:
    lines = ["### Metrics" + (f" (`dvc metrics diff {base}`)" if base_rev else ""), ""]
    if stale:
        return [*lines, "Not recomputed: the pipeline stopped before the evaluate stage.", ""]
    args = ["metrics", "diff", base_rev, "--json", "--all"] if base_rev else ["metrics", "show", "--json"]
    proc = dvc(*args)
    if proc is None or proc.returncode != 0:
        detail = "dvc is not installed" if proc is None else (proc.stderr or proc.stdout).strip()[-300:]
        return [*lines, f"Metrics unavailable: {escape(detail)}", ""]
    data = json.loads(proc.stdout or "{}")
    lines += ["| file | metric | base | this PR | change |", "|---|---|---|---|---|"]
    count = 0
    if base_rev:
        for file, metrics in sorted(data.items()):
            for name, values in sorted(_flatten(metrics, leaf="new").items()):
                count += 1
                old, new = values.get("old"), values.get("new")
                change = _signed(values.get("diff")) if values.get("diff") is not None else "new"
                lines.append(f"| {escape(file)} | {escape(name)} | {_num(old)} | {_num(new)} | {change} |")
    else:
        for _rev, files in data.items():
            for file, content in files.get("data", {}).items():
                for name, value in sorted(_flatten(content.get("data", {})).items()):
                    count += 1
                    lines.append(f"| {escape(file)} | {escape(name)} | | {_num(value)} | |")
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


def data_quality_diff(gates: list[Gate], base: str | None) -> list[str]:
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
                f"| {escape(Path(gate.path).stem)} | {escape(name)} | {escape(column or '')} | {_verdict(old)} "
                f"| {_verdict(new)} "
                f"| {escape(new[1] if new and not new[0] else '')} |"
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


def roc_plot(base_rev: str | None, fresh: bool, path: str) -> list[str]:
    """The ROC curve of this PR (and the base) as a Mermaid chart, which GitHub renders in comments."""
    if not fresh or not Path(path).is_file():
        return []
    series = {"this PR": _tpr_on_grid(Path(path).read_text(encoding="utf-8"))}
    if base_rev:
        text = git_output("show", f"{base_rev}:{path}")
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


def _num(value) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


def _signed(value) -> str:
    return f"{value:+.4g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"
