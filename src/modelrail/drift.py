"""`modelrail drift`: per-column drift of current data against a reference, plus the raw-data suite on the current data.

Every column is binned on the reference: numeric columns into quantile bins, categorical (and low-cardinality numeric)
columns by value. The Population Stability Index over those bins is the main measure because, unlike a test's
p-value, it does not shrink with the sample size. Continuous numeric columns also get a two-sample Kolmogorov-Smirnov
test, which catches shifts inside a bin; it only counts as drift when the distance is large *and* significant.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modelrail.data_files import CSV_SUFFIXES, PARQUET_SUFFIXES, Table, load_table
from modelrail.errors import ConfigError, DataError
from modelrail.gate_records import Check, GateResult, publish

if TYPE_CHECKING:
    import pandas as pd

TOOLS = ("pandas", "pyarrow", "numpy", "scipy", "great_expectations")
DEFAULT_LIMITS = {"psi": 0.2, "ks": 0.2, "pvalue": 0.05}
DEFAULT_BINS = 10
MAX_CATEGORIES = 20
MAX_CHARTS = 10
# The share given to an empty bin so that PSI stays finite (the usual convention).
EPSILON = 1e-4
MISSING = "(missing)"
OTHER = "(other)"


@dataclass
class Settings:
    """Thresholds from modelrail.yaml `drift:`, with the defaults filled in."""

    limits: dict
    bins: int
    exclude: list[str]
    columns: dict[str, dict]
    source: str

    def limits_for(self, column: str) -> dict:
        return {**self.limits, **self.columns.get(column, {})}


@dataclass
class ColumnDrift:
    """One column's comparison: the bins, both distributions over them, and the measures."""

    column: str
    method: str
    labels: list[str]
    reference_shares: list[float]
    current_shares: list[float]
    psi: float
    limits: dict
    ks: float | None = None
    pvalue: float | None = None

    @property
    def psi_drifted(self) -> bool:
        return self.psi >= self.limits["psi"]

    @property
    def ks_drifted(self) -> bool:
        return self.ks is not None and self.ks >= self.limits["ks"] and self.pvalue < self.limits["pvalue"]

    @property
    def drifted(self) -> bool:
        return self.psi_drifted or self.ks_drifted


@dataclass
class DriftResult(GateResult):
    """The drift gate's result; `drifted` is what opens a retraining pull request (suite failures alone do not)."""

    columns: tuple[ColumnDrift, ...] = ()

    @property
    def drifted(self) -> bool:
        return any(column.drifted for column in self.columns) or any(
            check.name == "drift column present" and not check.success for check in self.checks
        )


def run(
    reference: Path,
    current: Path,
    suite_path: Path | None,
    config_path: Path | None,
    record_path: Path,
    summary_path: Path,
) -> DriftResult:
    """Compare current with reference column by column, run the suite on current; write the record either way."""
    settings = load_settings(config_path)
    suite = None
    if suite_path is not None:
        from modelrail.suites import load_suite

        suite = load_suite(suite_path)
    inputs: dict = {"limits": settings.limits, "bins": settings.bins, "config": settings.source}
    checks: list[Check] = []
    compared: list[ColumnDrift] = []
    tables: dict[str, Table] = {}
    for role, path in (("reference", reference), ("current", current)):
        try:
            tables[role], inputs[role] = load_data(path)
        except DataError as exc:
            checks.append(Check(name="readable", success=False, message=str(exc), file=str(path)))
            inputs[role] = {"path": str(path)}
    if suite is not None:
        inputs["suite"] = {"path": str(suite_path), **suite.digests}
    notes: list[str] = []
    if len(tables) == 2:
        _check_config_columns(settings, tables["reference"])
        column_checks, compared, notes = compare(tables["reference"], tables["current"], settings)
        checks.extend(column_checks)
    if suite is not None and "current" in tables:
        from modelrail.data_gate import check_table

        checks.extend(check_table(tables["current"], suite))
    result = DriftResult(
        gate="drift",
        checks=checks,
        inputs=inputs,
        record_path=record_path,
        summary_path=summary_path,
        tools=TOOLS,
        columns=tuple(compared),
    )
    publish(result, render_details(result, tables, settings, notes))
    _github_outputs(result)
    return result


def load_settings(config_path: Path | None) -> Settings:
    """The `drift:` section of modelrail.yaml (validated by config.load_config), or the defaults without one."""
    drift: dict = {}
    if config_path is not None:
        from modelrail.config import load_config

        drift = load_config(config_path).get("drift", {})
    limits = {key: drift.get(key, default) for key, default in DEFAULT_LIMITS.items()}
    return Settings(
        limits=limits,
        bins=int(drift.get("bins", DEFAULT_BINS)),
        exclude=list(drift.get("exclude", [])),
        columns=dict(drift.get("columns", {})),
        source=str(config_path) if config_path is not None else "defaults",
    )


def load_data(path: Path) -> tuple[Table, dict]:
    """A CSV or Parquet file, or a folder of them (prediction logs) concatenated in name order; plus its record."""
    if not path.is_dir():
        table = load_table(path)
        return table, {"path": str(path), "rows": len(table.frame), **table.digests}
    suffixes = CSV_SUFFIXES | PARQUET_SUFFIXES
    files = sorted(
        file
        for file in path.rglob("*")
        if file.is_file()
        and file.suffix.lower() in suffixes
        and not any(part.startswith(".") for part in file.relative_to(path).parts)
    )
    if not files:
        raise ConfigError(f"{path}: the folder holds no .csv or .parquet files (point --current at the data)")
    import pandas as pd

    tables = [load_table(file) for file in files]
    first = tables[0]
    columns = list(first.frame.columns)
    for table in tables[1:]:
        missing = [name for name in columns if name not in table.frame.columns]
        extra = [str(name) for name in table.frame.columns if name not in columns]
        if missing or extra:
            parts = [f"missing column(s): {', '.join(missing)}"] if missing else []
            parts += [f"unexpected column(s): {', '.join(extra)}"] if extra else []
            raise DataError(f"{table.path}: columns differ from {first.path}: {'; '.join(parts)}")
    frame = pd.concat([table.frame[columns] for table in tables], ignore_index=True)
    listing = "".join(f"{table.path.relative_to(path)} {table.digests['sha256']}\n" for table in tables)
    combined = {"sha256": hashlib.sha256(listing.encode()).hexdigest()}
    record = {
        "path": str(path),
        "rows": len(frame),
        **combined,
        "files": [{"path": str(t.path), "rows": len(t.frame), **t.digests} for t in tables],
    }
    return Table(path=path, frame=frame, digests=combined), record


def _check_config_columns(settings: Settings, reference: Table) -> None:
    """A per-column threshold for a column the reference does not have is a typo: say so instead of ignoring it."""
    present = set(map(str, reference.frame.columns))
    for name in settings.columns:
        if name not in present:
            raise ConfigError(
                f"{settings.source}: key 'drift.columns.{name}': '{name}' is not a column of {reference.path}"
            )


def compare(reference: Table, current: Table, settings: Settings) -> tuple[list[Check], list[ColumnDrift], list[str]]:
    """One check per reference column: drifted or not, missing from current, or of another type there."""
    checks: list[Check] = []
    compared: list[ColumnDrift] = []
    ref_frame, cur_frame = reference.frame, current.frame
    for name in map(str, ref_frame.columns):
        if name in settings.exclude:
            continue
        if name not in cur_frame.columns:
            checks.append(
                Check(
                    name="drift column present",
                    success=False,
                    message=(
                        f"{current.path}: column '{name}' of the reference {reference.path} is missing "
                        f"(fix: provide it, or list it under drift.exclude in modelrail.yaml)"
                    ),
                    file=str(current.path),
                    column=name,
                )
            )
            continue
        mismatch = _type_mismatch(ref_frame[name], cur_frame[name])
        if mismatch:
            checks.append(
                Check(
                    name="drift column type",
                    success=False,
                    message=f"{current.path}: column '{name}' {mismatch} (in the reference {reference.path})",
                    file=str(current.path),
                    column=name,
                )
            )
            continue
        column = compare_column(name, ref_frame[name], cur_frame[name], settings)
        compared.append(column)
        checks.append(_to_check(column, current))
    notes = []
    unexpected = [str(name) for name in cur_frame.columns if str(name) not in map(str, ref_frame.columns)]
    if unexpected:
        notes.append(f"Not compared (not in the reference): {', '.join(unexpected)}.")
    if settings.exclude:
        notes.append(f"Excluded by drift.exclude: {', '.join(settings.exclude)}.")
    return checks, compared, notes


def _is_numeric(series: pd.Series) -> bool:
    from pandas.api import types

    return types.is_numeric_dtype(series) and not types.is_bool_dtype(series)


def _type_mismatch(reference: pd.Series, current: pd.Series) -> str | None:
    """Numeric in the reference but text in current (an all-empty current column still compares)."""
    if _is_numeric(reference) and not _is_numeric(current) and current.notna().any():
        example = current.dropna().iloc[0]
        return f"is text (e.g. {str(example)[:40]!r}) but numeric"
    return None


def compare_column(name: str, reference: pd.Series, current: pd.Series, settings: Settings) -> ColumnDrift:
    """PSI over bins of the reference, and for continuous numeric columns a two-sample KS test."""
    limits = settings.limits_for(name)
    continuous = _is_numeric(reference) and reference.nunique(dropna=True) > settings.bins
    if continuous:
        labels, ref_counts, cur_counts = _numeric_bins(reference, current, settings.bins)
        method = f"PSI ({settings.bins} quantile bins) + KS"
    else:
        labels, ref_counts, cur_counts = _category_bins(reference, current)
        method = "PSI (categories)"
    ref_shares = [count / len(reference) for count in ref_counts]
    cur_shares = [count / len(current) for count in cur_counts]
    column = ColumnDrift(
        column=name,
        method=method,
        labels=labels,
        reference_shares=ref_shares,
        current_shares=cur_shares,
        psi=psi(ref_shares, cur_shares),
        limits=limits,
    )
    if continuous:
        ref_values, cur_values = reference.dropna(), current.dropna()
        if len(ref_values) and len(cur_values):
            from scipy.stats import ks_2samp

            test = ks_2samp(ref_values.to_numpy(float), cur_values.to_numpy(float))
            column.ks, column.pvalue = float(test.statistic), float(test.pvalue)
    return column


def psi(reference_shares: list[float], current_shares: list[float]) -> float:
    """Population Stability Index: sum over bins of (current - reference) * ln(current / reference)."""
    total = 0.0
    for ref, cur in zip(reference_shares, current_shares, strict=True):
        ref, cur = max(ref, EPSILON), max(cur, EPSILON)
        total += (cur - ref) * math.log(cur / ref)
    return total


def _numeric_bins(reference: pd.Series, current: pd.Series, bins: int) -> tuple[list[str], list[int], list[int]]:
    """Bins with edges at the reference's quantiles, plus a bin for missing values when either side has any."""
    import numpy as np

    values = reference.dropna().to_numpy(float)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
    labels = [f"≤ {edge:.4g}" for edge in edges] + [f"> {edges[-1]:.4g}"]

    def counts(series: pd.Series) -> list[int]:
        found = series.dropna().to_numpy(float)
        return np.bincount(np.searchsorted(edges, found, side="left"), minlength=len(edges) + 1).tolist()

    ref_counts, cur_counts = counts(reference), counts(current)
    return _with_missing(labels, ref_counts, cur_counts, reference, current)


def _category_bins(reference: pd.Series, current: pd.Series) -> tuple[list[str], list[int], list[int]]:
    """One bin per reference value (the most frequent ones), one for everything else, one for missing values."""
    ref_keys, cur_keys = _keys(reference), _keys(current)
    ref_counts = ref_keys.value_counts()
    kept = [str(key) for key in ref_counts.index[:MAX_CATEGORIES]]
    cur_counts = cur_keys.value_counts()
    labels = list(kept)
    ref_list = [int(ref_counts.get(key, 0)) for key in kept]
    cur_list = [int(cur_counts.get(key, 0)) for key in kept]
    ref_other = int(ref_counts.drop(kept, errors="ignore").sum())
    cur_other = int(cur_counts.drop(kept, errors="ignore").sum())
    if ref_other or cur_other:
        labels.append(OTHER)
        ref_list.append(ref_other)
        cur_list.append(cur_other)
    return _with_missing(labels, ref_list, cur_list, reference, current)


def _keys(series: pd.Series) -> pd.Series:
    """Values as text, with numbers formatted alike so that 1 (int) and 1.0 (float) fall into one bin."""
    values = series.dropna()
    if _is_numeric(series):
        return values.map(lambda value: f"{float(value):g}")
    return values.map(str)


def _with_missing(labels, ref_counts, cur_counts, reference, current):
    ref_missing, cur_missing = int(reference.isna().sum()), int(current.isna().sum())
    if ref_missing or cur_missing:
        return [*labels, MISSING], [*ref_counts, ref_missing], [*cur_counts, cur_missing]
    return labels, ref_counts, cur_counts


def _to_check(column: ColumnDrift, current: Table) -> Check:
    measures = f"PSI {column.psi:.3f}"
    if column.ks is not None:
        measures += f", KS distance {column.ks:.3f} (p={column.pvalue:.2g})"
    limits = column.limits
    if column.drifted:
        reasons = []
        if column.psi_drifted:
            reasons.append(f"PSI {column.psi:.3f} ≥ {limits['psi']}")
        if column.ks_drifted:
            reasons.append(
                f"KS distance {column.ks:.3f} ≥ {limits['ks']} with p={column.pvalue:.2g} < {limits['pvalue']}"
            )
        message = f"{current.path}: column '{column.column}' drifted: {' and '.join(reasons)}"
    else:
        message = f"{measures}: within the limits"
    details = {
        "method": column.method,
        "psi": round(column.psi, 6),
        "limits": limits,
        "bins": column.labels,
        "reference_shares": [round(share, 6) for share in column.reference_shares],
        "current_shares": [round(share, 6) for share in column.current_shares],
    }
    if column.ks is not None:
        details.update(ks=round(column.ks, 6), pvalue=column.pvalue)
    return Check(
        name="drift psi+ks" if column.ks is not None else "drift psi",
        success=not column.drifted,
        message=message,
        file=str(current.path),
        column=column.column,
        details=details,
    )


def render_details(result: DriftResult, tables: dict[str, Table], settings: Settings, notes: list[str]) -> str:
    """The per-column table and one chart per drifted column, below the gate's check table."""
    if len(tables) < 2:
        return ""
    ref, cur = tables["reference"], tables["current"]
    limits = settings.limits
    lines = [
        f"#### Drift of {cur.path} ({len(cur.frame)} rows) against {ref.path} ({len(ref.frame)} rows)",
        "",
        f"A column drifts when its PSI is ≥ {limits['psi']}, or its KS distance is ≥ {limits['ks']} with "
        f"p < {limits['pvalue']} (thresholds: `drift` in {settings.source}).",
        "",
        "| | column | method | PSI | KS distance (p) | limits |",
        "|---|---|---|---|---|---|",
    ]
    ordered = sorted(result.columns, key=lambda column: (not column.drifted, -column.psi))
    for column in ordered:
        ks = f"{column.ks:.3f} (p={column.pvalue:.2g})" if column.ks is not None else "-"
        bound = f"PSI {column.limits['psi']}" + (
            f", KS {column.limits['ks']} / p {column.limits['pvalue']}" if column.ks is not None else ""
        )
        lines.append(
            f"| {'❌' if column.drifted else '✅'} | {_cell(column.column)} | {column.method} "
            f"| {column.psi:.3f} | {ks} | {bound} |"
        )
    lines.append("")
    lines += [*notes, ""] if notes else []
    drifted = [column for column in ordered if column.drifted]
    for column in drifted[:MAX_CHARTS]:
        lines += [f"##### {_cell(column.column)}", "", *chart(column), ""]
    if len(drifted) > MAX_CHARTS:
        lines += [f"{len(drifted) - MAX_CHARTS} more drifted columns; their bins are in {result.record_path}.", ""]
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


def _cell(text: str) -> str:
    from modelrail.markdown import escape

    return escape(text)


def _github_outputs(result: DriftResult) -> None:
    """Inside GitHub Actions, the step outputs the drift action promises (the exit code alone cannot tell them)."""
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return
    from modelrail import step_outputs

    step_outputs.write(
        {
            "passed": str(result.passed).lower(),
            "drifted": str(result.drifted).lower(),
            "report-path": str(result.summary_path),
            "record-path": str(result.record_path),
        }
    )
