"""The drift gate's Markdown below its check table: the per-column table and a chart per drifted column."""

from __future__ import annotations

import math
from pathlib import Path

from modelrail.gates.drift_columns import ColumnDrift, Settings
from modelrail.markdown import escape

MAX_CHARTS = 10


def render_details(
    columns: tuple[ColumnDrift, ...], inputs: dict, record_path: Path, settings: Settings, notes: list[str]
) -> str:
    """The per-column table and one chart per drifted column, below the gate's check table."""
    ref, cur = inputs.get("reference", {}), inputs.get("current", {})
    if "rows" not in ref or "rows" not in cur:
        return ""
    limits = settings.limits
    lines = [
        f"#### Drift of {escape(cur['path'])} ({cur['rows']} rows) against {escape(ref['path'])} ({ref['rows']} rows)",
        "",
        f"A column drifts when its PSI is ≥ {limits['psi']}, or its KS distance is ≥ {limits['ks']} with "
        f"p < {limits['pvalue']}, or (categorical) a share ≥ {limits['unseen']} of its values was never seen in the "
        f"reference (thresholds: `drift` in {settings.source}).",
        "",
        "| | column | method | PSI | KS distance (p) | limits |",
        "|---|---|---|---|---|---|",
    ]
    ordered = sorted(columns, key=lambda column: (not column.drifted, -column.psi))
    for column in ordered:
        ks = f"{column.ks:.3f} (p={column.pvalue:.2g})" if column.ks is not None else "-"
        bound = f"PSI {column.limits['psi']}" + (
            f", KS {column.limits['ks']} / p {column.limits['pvalue']}" if column.ks is not None else ""
        )
        lines.append(
            f"| {'❌' if column.drifted else '✅'} | {escape(column.column)} | {column.method} "
            f"| {column.psi:.3f} | {ks} | {bound} |"
        )
    lines.append("")
    lines += [*notes, ""] if notes else []
    drifted = [column for column in ordered if column.drifted]
    for column in drifted[:MAX_CHARTS]:
        lines += [f"##### {escape(column.column)}", "", *chart(column), ""]
    if len(drifted) > MAX_CHARTS:
        lines += [f"{len(drifted) - MAX_CHARTS} more drifted columns; their bins are in {record_path}.", ""]
    return "\n".join(lines)


def chart(column: ColumnDrift) -> list[str]:
    """A Mermaid bar chart (bars: reference, line: current): GitHub renders it in summaries and PR bodies as is."""
    labels = ", ".join(f'"{_label(label)}"' for label in column.labels)
    ref = ", ".join(f"{share * 100:.1f}" for share in column.reference_shares)
    cur = ", ".join(f"{share * 100:.1f}" for share in column.current_shares)
    top = max([*column.reference_shares, *column.current_shares, 0.01]) * 100
    return [
        "```mermaid",
        "xychart-beta",
        f'    title "{_label(column.column, 40)}: % of rows per bin (bars: reference, line: current)"',
        f"    x-axis [{labels}]",
        f'    y-axis "% of rows" 0 --> {math.ceil(top / 5) * 5}',
        f"    bar [{ref}]",
        f"    line [{cur}]",
        "```",
    ]


def _label(text: str, limit: int = 16) -> str:
    text = " ".join(str(text).replace('"', "'").replace("`", "'").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
