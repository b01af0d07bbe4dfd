"""`modelrail drift`: per-column drift of current data against a reference, plus the raw-data suite on the current data.

Every column is binned on the reference: numeric columns into quantile bins, categorical (and low-cardinality numeric)
columns by value. The Population Stability Index over those bins is the main measure because, unlike a test's
p-value, it does not shrink with the sample size. Continuous numeric columns also get a two-sample Kolmogorov-Smirnov
test, which catches shifts inside a bin; it only counts as drift when the distance is large *and* significant.
Categorical columns also fail when too many current values were never seen in the reference (PSI alone lumps them
with the reference's rare values), and any non-finite number in the current data fails the gate.

Memory does not grow with the data: the reference is reduced once to a profile (drift_profile.py), and the current
data is streamed in batches into per-bin counts. The KS distance is therefore computed on the profile's fine bins;
the record states for each column how far it can be from the exact distance (`ks_error_bound`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modelrail import drift_profile
from modelrail.data_files import Table, data_set_files, is_number, iter_batches, load_table
from modelrail.errors import ConfigError, DataError
from modelrail.files import file_digests, folder_digest, folder_digests
from modelrail.gate_records import Check, GateResult, publish

if TYPE_CHECKING:
    import pyarrow as pa

TOOLS = ("pandas", "pyarrow", "numpy", "great_expectations")
# `unseen`: the largest share of a categorical column's current values that may be absent from the reference.
DEFAULT_LIMITS = {"psi": 0.2, "ks": 0.2, "pvalue": 0.05, "unseen": 0.05}
DEFAULT_BINS = 10
MAX_CATEGORIES = 20
MAX_CHARTS = 10
# The share given to an empty bin so that PSI stays finite (the usual convention).
EPSILON = 1e-4
MISSING = "(missing)"
OTHER = "(other)"
BATCH_ROWS = 262_144
EXAMPLES = 5


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
    ks_error_bound: float | None = None
    unseen_share: float | None = None
    unseen_examples: list[str] | None = None

    @property
    def psi_drifted(self) -> bool:
        return self.psi >= self.limits["psi"]

    @property
    def ks_drifted(self) -> bool:
        return self.ks is not None and self.ks >= self.limits["ks"] and self.pvalue < self.limits["pvalue"]

    @property
    def unseen_drifted(self) -> bool:
        return self.unseen_share is not None and self.unseen_share >= self.limits["unseen"]

    @property
    def drifted(self) -> bool:
        return self.psi_drifted or self.ks_drifted or self.unseen_drifted


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
    save_profile: Path | None = None,
    batch_rows: int = BATCH_ROWS,
) -> DriftResult:
    """Compare current with reference column by column, run the suite on current; write the record either way.

    `reference` is data (a file or folder) or a profile saved earlier with `save_profile`.
    """
    settings = load_settings(config_path)
    suite = None
    if suite_path is not None:
        from modelrail.suites import load_suite

        suite = load_suite(suite_path)
    inputs: dict = {"limits": settings.limits, "bins": settings.bins, "config": settings.source}
    checks: list[Check] = []
    compared: list[ColumnDrift] = []
    profile = None
    try:
        profile, inputs["reference"] = reference_profile(reference, settings.bins, batch_rows)
    except DataError as exc:
        checks.append(Check(name="readable", success=False, message=str(exc), file=str(reference)))
        inputs["reference"] = {"path": str(reference)}
    if profile is not None and save_profile is not None:
        drift_profile.save(profile, save_profile)
        inputs["reference"]["profile_path"] = str(save_profile)
    if suite is not None:
        inputs["suite"] = {"path": str(suite_path), **suite.digests}
    notes: list[str] = []
    if profile is not None:
        _check_config_columns(settings, profile, reference)
        try:
            found = compare(profile, reference, current, settings, batch_rows)
            column_checks, compared, notes, inputs["current"] = found
            checks.extend(column_checks)
        except DataError as exc:
            checks.append(Check(name="readable", success=False, message=str(exc), file=str(current)))
            inputs["current"] = {"path": str(current)}
    if suite is not None:
        # The suite runs on pandas, with the current data in memory (see docs/drift.md); the drift part above does not.
        try:
            table = load_data(current)
        except DataError as exc:
            checks.append(Check(name="readable", success=False, message=str(exc), file=str(current)))
        else:
            from modelrail.data_gate import check_table

            checks.extend(check_table(table, suite))
    result = DriftResult(
        gate="drift",
        checks=checks,
        inputs=inputs,
        record_path=record_path,
        summary_path=summary_path,
        tools=TOOLS,
        columns=tuple(compared),
    )
    publish(result, render_details(result, settings, notes))
    _github_outputs(result)
    return result


def reference_profile(reference: Path, bins: int, batch_rows: int) -> tuple[dict, dict]:
    """The reference's profile (read from a saved one, or computed from the data) and its part of the record."""
    if reference.suffix.lower() == ".json":
        profile = drift_profile.load(reference, bins)
        record = {"path": str(reference), "rows": profile["rows"]}
        return profile, {**record, "profile_sha256": drift_profile.digest(profile)}
    profile = drift_profile.build(reference, bins, batch_rows)
    record = {"path": str(reference), "rows": profile["rows"], **_digests(reference)}
    return profile, {**record, "profile_sha256": drift_profile.digest(profile)}


def _digests(path: Path) -> dict:
    files = data_set_files(path)
    return folder_digest(path, files) if path.is_dir() else file_digests(path)


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


def load_data(path: Path) -> Table:
    """The current data whole, for the suite: a file, or a folder of them concatenated in name order."""
    if not path.is_dir():
        return load_table(path)
    import pandas as pd

    tables = [load_table(file) for file in data_set_files(path)]
    columns = tables[0].columns
    for table in tables[1:]:
        if table.columns != columns:
            raise DataError(f"{table.path}: columns differ from {tables[0].path}")
    frame = pd.concat([table.frame[columns] for table in tables], ignore_index=True)
    return Table(path=path, frame=frame, digests=folder_digest(path, [table.path for table in tables]))


def _check_config_columns(settings: Settings, profile: dict, reference: Path) -> None:
    """A per-column threshold for a column the reference does not have is a typo: say so instead of ignoring it."""
    for name in settings.columns:
        if name not in profile["columns"]:
            raise ConfigError(f"{settings.source}: key 'drift.columns.{name}': '{name}' is not a column of {reference}")


class _Column:
    """One reference column's running counts over the current data, batch by batch."""

    def __init__(self, name: str, profile: dict, top: int = MAX_CATEGORIES):
        import numpy as np

        self.name, self.profile = name, profile
        self.missing = self.nonfinite = self.rows = 0
        self.mismatch: str | None = None
        if profile["kind"] == "continuous":
            self.edges, self.fine_edges = np.asarray(profile["edges"]), np.asarray(profile["fine_edges"])
            self.fine_counts = np.zeros(len(self.fine_edges) + 1, dtype=np.int64)
        else:
            self.kept = list(profile["values"])[:top]
            self.counts = dict.fromkeys(self.kept, 0)
            self.other = self.unseen = 0
            self.examples: list[str] = []

    def add(self, array: pa.ChunkedArray | pa.Array) -> None:
        import numpy as np
        import pyarrow.compute as pc

        self.rows += len(array)
        if self.mismatch:
            return
        self.missing += array.null_count
        present = pc.drop_null(array)
        numeric = is_number(array.type)
        if not numeric and (self.profile["kind"] == "continuous" or self.profile.get("numeric")):
            if len(present):  # an all-empty column reads as text: it still compares, as missing values
                self.mismatch = f"is text (e.g. {str(present[0].as_py())[:40]!r}) but numeric"
            return
        if numeric:
            values = present.to_numpy(zero_copy_only=False).astype(float, copy=False)
            finite = np.isfinite(values)
            if not finite.all():
                self.nonfinite += int((~finite).sum())
                values = values[finite]
                present = pc.filter(present, pc.is_finite(present)) if self.profile["kind"] != "continuous" else None
        if self.profile["kind"] == "continuous":
            self.fine_counts += drift_profile.bin_counts(self.fine_edges, values)
            return
        seen = self.profile["values"]
        for item in pc.value_counts(present).to_pylist():
            key, count = drift_profile.category_key(item["values"], numeric), item["counts"]
            if key in self.counts:
                self.counts[key] += count
            elif key in seen or not self.profile["complete"]:
                self.other += count
            else:
                self.unseen += count
                if len(self.examples) < EXAMPLES:
                    self.examples.append(key[:40])

    def result(self, settings: Settings) -> ColumnDrift:
        profile, limits = self.profile, settings.limits_for(self.name)
        ref_rows, rows = profile["rows"], max(self.rows, 1)
        if profile["kind"] == "continuous":
            edges = profile["edges"]
            labels = [f"≤ {edge:.4g}" for edge in edges] + [f"> {edges[-1]:.4g}"]
            ref_counts = list(profile["counts"])
            cur_counts = drift_profile.coarse_counts(self.edges, self.fine_edges, self.fine_counts).tolist()
            method = f"PSI ({settings.bins} quantile bins) + KS"
        else:
            labels = list(self.kept)
            ref_counts = [profile["values"][key] for key in self.kept]
            cur_counts = [self.counts[key] for key in self.kept]
            ref_other = sum(profile["values"].values()) - sum(ref_counts) + profile["other"]
            cur_other = self.other + self.unseen
            if ref_other or cur_other:
                labels, ref_counts, cur_counts = [*labels, OTHER], [*ref_counts, ref_other], [*cur_counts, cur_other]
            method = "PSI (categories)"
        if profile["missing"] or self.missing:
            labels = [*labels, MISSING]
            ref_counts, cur_counts = [*ref_counts, profile["missing"]], [*cur_counts, self.missing]
        ref_shares = [count / ref_rows for count in ref_counts]
        cur_shares = [count / rows for count in cur_counts]
        column = ColumnDrift(
            column=self.name,
            method=method,
            labels=labels,
            reference_shares=ref_shares,
            current_shares=cur_shares,
            psi=psi(ref_shares, cur_shares),
            limits=limits,
        )
        if profile["kind"] == "continuous":
            column.ks, column.pvalue, column.ks_error_bound = ks_from_bins(profile["fine_counts"], self.fine_counts)
        elif profile["complete"]:
            valid = self.rows - self.missing - self.nonfinite
            column.unseen_share = self.unseen / valid if valid else 0.0
            column.unseen_examples = self.examples
        return column


def ks_from_bins(reference_counts, current_counts) -> tuple[float | None, float | None, float | None]:
    """KS distance between two samples given only their counts in the same fine bins, its p-value, its error bound.

    Both empirical CDFs are exact at the bin edges, so the largest gap there is at most the true distance; between two
    edges either CDF moves by at most its share in that bin, so the true distance exceeds the computed one by at most
    the largest share any one bin holds on either side.
    """
    import numpy as np

    ref, cur = np.asarray(reference_counts, dtype=float), np.asarray(current_counts, dtype=float)
    n, m = ref.sum(), cur.sum()
    if not n or not m:
        return None, None, None
    gap = np.abs(np.cumsum(ref) / n - np.cumsum(cur) / m)
    distance = float(gap.max())
    bound = float(max((ref / n).max(), (cur / m).max()))
    return distance, kolmogorov_sf(distance * math.sqrt(n * m / (n + m))), bound


def kolmogorov_sf(z: float) -> float:
    """P(K > z) for Kolmogorov's limit distribution: the two-sample KS p-value for large samples.

    The same as scipy.stats.kstwobign.sf, without importing scipy.stats (seconds of start-up).
    """
    if z < 0.3:  # the series converges slowly here, and the answer is 1 to 7 digits
        return 1.0
    total = sum((-1) ** (k - 1) * math.exp(-2 * k * k * z * z) for k in range(1, 101))
    return float(min(1.0, max(0.0, 2 * total)))


def compare(
    profile: dict, reference: Path, current: Path, settings: Settings, batch_rows: int
) -> tuple[list[Check], list[ColumnDrift], list[str], dict]:
    """Stream the current data once; one check per reference column, plus one per column with non-finite numbers."""
    from concurrent.futures import ThreadPoolExecutor

    # Hashing reads the files a second time; in a thread it overlaps with the counting (hashlib releases the GIL).
    with ThreadPoolExecutor(max_workers=1) as pool:
        hashed = pool.submit(_current_digests, current)
        checks, compared, notes, rows = _stream(profile, reference, current, settings, batch_rows)
        combined, each = hashed.result()
    record = {"path": str(current), "rows": sum(rows.values()), **combined}
    if current.is_dir():
        record["files"] = [{"path": str(file), "rows": count, **each[file]} for file, count in rows.items()]
    return checks, compared, notes, record


def _current_digests(current: Path) -> tuple[dict, dict]:
    if current.is_dir():
        return folder_digests(current, data_set_files(current))
    return file_digests(current), {}


def _stream(
    profile: dict, reference: Path, current: Path, settings: Settings, batch_rows: int
) -> tuple[list[Check], list[ColumnDrift], list[str], dict[Path, int]]:
    wanted = [name for name in profile["columns"] if name not in settings.exclude]
    columns = {name: _Column(name, profile["columns"][name]) for name in wanted}
    first: tuple[Path, list[str]] | None = None
    files: dict[Path, int] = {}
    for file, batch in iter_batches(current, batch_rows):
        names = [str(name) for name in batch.schema.names]
        if first is None:
            first = (file, names)
        elif file not in files and set(names) != set(first[1]):
            missing = [name for name in first[1] if name not in names]
            extra = [name for name in names if name not in first[1]]
            parts = [f"missing column(s): {', '.join(missing)}"] if missing else []
            parts += [f"unexpected column(s): {', '.join(extra)}"] if extra else []
            raise DataError(f"{file}: columns differ from {first[0]}: {'; '.join(parts)}")
        files[file] = files.get(file, 0) + batch.num_rows
        for name, column in columns.items():
            if name in names:
                column.add(batch.column(name))
    if first is None:
        raise DataError(f"{current}: has a header but no rows")
    present = first[1]
    checks: list[Check] = []
    compared: list[ColumnDrift] = []
    for name, column in columns.items():
        where = dict(file=str(current), column=name)
        if name not in present:
            message = (
                f"{current}: column '{name}' of the reference {reference} is missing "
                f"(fix: provide it, or list it under drift.exclude in modelrail.yaml)"
            )
            checks.append(Check(name="drift column present", success=False, message=message, **where))
            continue
        if column.mismatch:
            message = f"{current}: column '{name}' {column.mismatch} (in the reference {reference})"
            checks.append(Check(name="drift column type", success=False, message=message, **where))
            continue
        if column.nonfinite:
            share = column.nonfinite / column.rows
            found = f"{column.nonfinite} of {column.rows} values ({share:.1%})"
            message = f"{current}: column '{name}': {found} are not finite (inf or NaN)"
            checks.append(Check(name="drift finite values", success=False, message=message, **where))
        result = column.result(settings)
        compared.append(result)
        checks.append(_to_check(result, current))
    notes = []
    unexpected = [name for name in present if name not in profile["columns"]]
    if unexpected:
        notes.append(f"Not compared (not in the reference): {', '.join(unexpected)}.")
    if settings.exclude:
        notes.append(f"Excluded by drift.exclude: {', '.join(settings.exclude)}.")
    return checks, compared, notes, files


def psi(reference_shares: list[float], current_shares: list[float]) -> float:
    """Population Stability Index: sum over bins of (current - reference) * ln(current / reference)."""
    total = 0.0
    for ref, cur in zip(reference_shares, current_shares, strict=True):
        ref, cur = max(ref, EPSILON), max(cur, EPSILON)
        total += (cur - ref) * math.log(cur / ref)
    return total


def _to_check(column: ColumnDrift, current: Path) -> Check:
    measures = f"PSI {column.psi:.3f}"
    if column.ks is not None:
        measures += f", KS distance {column.ks:.3f} (p={column.pvalue:.2g})"
    if column.unseen_share is not None:
        measures += f", {column.unseen_share:.1%} unseen"
    limits = column.limits
    if column.drifted:
        reasons = []
        if column.psi_drifted:
            reasons.append(f"PSI {column.psi:.3f} ≥ {limits['psi']}")
        if column.ks_drifted:
            reasons.append(
                f"KS distance {column.ks:.3f} ≥ {limits['ks']} with p={column.pvalue:.2g} < {limits['pvalue']}"
            )
        if column.unseen_drifted:
            examples = f", e.g. {column.unseen_examples}" if column.unseen_examples else ""
            reasons.append(
                f"{column.unseen_share:.1%} of its values were never seen in the reference "
                f"(≥ {limits['unseen']:.1%}){examples}"
            )
        message = f"{current}: column '{column.column}' drifted: {' and '.join(reasons)}"
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
        # Computed from the reference profile's fine bins: at most ks_error_bound below the exact distance.
        details.update(ks=round(column.ks, 6), pvalue=column.pvalue, ks_error_bound=round(column.ks_error_bound, 6))
    if column.unseen_share is not None:
        details.update(unseen_share=round(column.unseen_share, 6), unseen_examples=column.unseen_examples)
    return Check(
        name="drift psi+ks" if column.ks is not None else "drift psi",
        success=not column.drifted,
        message=message,
        file=str(current),
        column=column.column,
        details=details,
    )


def render_details(result: DriftResult, settings: Settings, notes: list[str]) -> str:
    """The per-column table and one chart per drifted column, below the gate's check table."""
    ref, cur = result.inputs.get("reference", {}), result.inputs.get("current", {})
    if "rows" not in ref or "rows" not in cur:
        return ""
    limits = settings.limits
    lines = [
        f"#### Drift of {_cell(cur['path'])} ({cur['rows']} rows) against {_cell(ref['path'])} ({ref['rows']} rows)",
        "",
        f"A column drifts when its PSI is ≥ {limits['psi']}, or its KS distance is ≥ {limits['ks']} with "
        f"p < {limits['pvalue']}, or (categorical) a share ≥ {limits['unseen']} of its values was never seen in the "
        f"reference (thresholds: `drift` in {settings.source}).",
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
    return str(text).replace("|", "\\|").replace("\n", " ")


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
