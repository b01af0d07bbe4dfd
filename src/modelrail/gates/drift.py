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

import collections
import os
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from modelrail.data_files import Part, Table, data_parts, data_set_files, load_table, read_part
from modelrail.engines import SPARK, choose
from modelrail.errors import ConfigError, DataError
from modelrail.files import file_digests, folder_digests, listing_digest
from modelrail.gates import drift_profile
from modelrail.gates.drift_columns import ColumnCounts, ColumnDrift, Settings, load_settings
from modelrail.gates.drift_report import render_details
from modelrail.gates.records import Check, GateResult, publish

if TYPE_CHECKING:
    pass

TOOLS = ("pandas", "pyarrow", "numpy", "great_expectations")
BATCH_ROWS = 262_144
# The record names the data it compared by sha256 alone: the current data can be many GB, and md5 (DVC's hash, which
# promotion checks against dvc.lock before drift runs) would cost 2.5x sha256's time again on every byte.
DIGESTS = ("sha256",)


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
    engine: str | None = None,
) -> DriftResult:
    """Compare current with reference column by column, run the suite on current; write the record either way.

    `reference` is data (a file or folder) or a profile saved earlier with `save_profile`. `engine` counts the
    current data (pandas or spark; default: `drift.engine` of the config, else pandas).
    """
    settings = load_settings(config_path)
    settings = replace(settings, engine=choose(engine, settings.config, "drift"))
    suite = None
    if suite_path is not None:
        from modelrail.gates.suites import load_suite

        suite = load_suite(suite_path)
    # Hashing the current data for the record reads it a second time: started now, it runs in a second thread while
    # the reference's profile is built and the current data is counted (hashlib releases the GIL).
    hashed = _in_background(_digests, current)
    inputs: dict = {"limits": settings.limits, "bins": settings.bins, "config": settings.source}
    inputs["engine"] = settings.engine
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
            found = compare(profile, reference, current, settings, batch_rows, hashed)
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
            from modelrail.gates.data import check_table

            checks.extend(check_table(table, suite))
    result = DriftResult(
        gate="drift",
        checks=checks,
        inputs=inputs,
        record_path=record_path,
        summary_path=summary_path,
        tools=(*TOOLS, "pyspark") if settings.engine == SPARK else TOOLS,
        columns=tuple(compared),
    )
    publish(result, render_details(result.columns, result.inputs, record_path, settings, notes))
    return result


def reference_profile(reference: Path, bins: int, batch_rows: int) -> tuple[dict, dict]:
    """The reference's profile (read from a saved one, or computed from the data) and its part of the record."""
    if reference.suffix.lower() == ".json":
        profile = drift_profile.load(reference, bins)
        record = {"path": str(reference), "rows": profile["rows"]}
        return profile, {**record, "profile_sha256": drift_profile.digest(profile)}
    profile = drift_profile.build(reference, bins, batch_rows)
    record = {"path": str(reference), "rows": profile["rows"], **_digests(reference)[0]}
    return profile, {**record, "profile_sha256": drift_profile.digest(profile)}


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
    # Each file was hashed as it was read: the folder's digest comes from those, not from reading the files again.
    return Table(path=path, frame=frame, digests=listing_digest(path, {table.path: table.digests for table in tables}))


def _check_config_columns(settings: Settings, profile: dict, reference: Path) -> None:
    """A per-column threshold for a column the reference does not have is a typo: say so instead of ignoring it."""
    for name in settings.columns:
        if name not in profile["columns"]:
            raise ConfigError(f"{settings.source}: key 'drift.columns.{name}': '{name}' is not a column of {reference}")


def compare(
    profile: dict, reference: Path, current: Path, settings: Settings, batch_rows: int, hashed: Future
) -> tuple[list[Check], list[ColumnDrift], list[str], dict]:
    """Stream the current data once; one check per reference column, plus one per column with non-finite numbers.

    `hashed` is the current data's digests, computed meanwhile (_digests)."""
    checks, compared, notes, rows = _stream(profile, reference, current, settings, batch_rows)
    combined, each = hashed.result()
    record = {"path": str(current), "rows": sum(rows.values()), **combined}
    if current.is_dir():
        record["files"] = [{"path": str(file), "rows": count, **each[file]} for file, count in rows.items()]
    return checks, compared, notes, record


def _in_background(function, *args) -> Future:
    """function(*args) in a daemon thread: a run that fails before it needs the result exits without waiting for it."""
    import threading

    future: Future = Future()

    def target() -> None:
        try:
            future.set_result(function(*args))
        except BaseException as exc:  # handed to whoever asks for the result, as an executor would
            future.set_exception(exc)

    threading.Thread(target=target, daemon=True).start()
    return future


def _digests(path: Path) -> tuple[dict, dict]:
    """The sha256 of a data file, or of a folder's files: one digest over them all, and each file's."""
    if path.is_dir():
        return folder_digests(path, data_set_files(path), DIGESTS)
    return file_digests(path, DIGESTS), {}


def _stream(
    profile: dict, reference: Path, current: Path, settings: Settings, batch_rows: int
) -> tuple[list[Check], list[ColumnDrift], list[str], dict[Path, int]]:
    wanted = [name for name in profile["columns"] if name not in settings.exclude]
    if settings.engine == SPARK:
        from modelrail.gates import drift_spark

        columns, present, files = drift_spark.count(profile, wanted, current, settings)
    else:
        columns, present, files = _count(wanted, profile, current, batch_rows)
    return (*_verdicts(profile, columns, present, reference, current, settings), files)


def _count(
    wanted: list[str], profile: dict, current: Path, batch_rows: int
) -> tuple[dict[str, ColumnCounts], list[str], dict[Path, int]]:
    """Counts per reference column, the current data's columns, and its rows per file.

    The data's parts (Parquet row groups, CSV files) are read and counted on every core, each into counts of its own
    (pyarrow and numpy release the GIL), then added up in the data's order: the same counts, examples and first
    problem as one pass. Each worker holds one batch at a time, so memory still does not grow with the rows.
    """
    from concurrent.futures import ThreadPoolExecutor

    columns = {name: ColumnCounts(name, profile["columns"][name]) for name in wanted}
    parts = data_parts(current)
    first: tuple[Path, list[str]] | None = None
    files: dict[Path, int] = {}
    # The cores this process may use (Linux), else the machine's.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    # With fewer parts than cores (one large CSV file), pyarrow's own threads decode each part instead.
    threads = len(parts) < cores
    pool = ThreadPoolExecutor(max_workers=cores)
    try:
        counted = _in_order(pool, lambda part: _count_part(part, columns, batch_rows, threads), parts, 2 * cores)
        for part, (names, rows, states) in zip(parts, counted, strict=True):
            if names is None:  # a part without rows
                continue
            if first is None:
                first = (part.file, names)
            elif part.file not in files and set(names) != set(first[1]):
                missing = [name for name in first[1] if name not in names]
                extra = [name for name in names if name not in first[1]]
                problems = [f"missing column(s): {', '.join(missing)}"] if missing else []
                problems += [f"unexpected column(s): {', '.join(extra)}"] if extra else []
                raise DataError(f"{part.file}: columns differ from {first[0]}: {'; '.join(problems)}")
            files[part.file] = files.get(part.file, 0) + rows
            for name, state in states.items():
                columns[name].merge(state)
    finally:
        pool.shutdown(cancel_futures=True)
    if first is None:
        raise DataError(f"{current}: has a header but no rows")
    return columns, first[1], files


def _in_order(pool, function, items: list, ahead: int):
    """function(item) for each item, computed on the pool, yielded in the items' order. At most `ahead` are submitted
    and not yet read: a slow first part does not let the others' results pile up (pool.map submits them all)."""
    pending: collections.deque[Future] = collections.deque()
    for item in items:
        pending.append(pool.submit(function, item))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _count_part(
    part: Part, columns: dict[str, ColumnCounts], batch_rows: int, threads: bool
) -> tuple[list[str] | None, int, dict[str, dict]]:
    """One part's columns (None if it has no rows), rows and counts (ColumnCounts.state) per reference column."""
    names: list[str] | None = None
    rows = 0
    counts = {name: column.empty() for name, column in columns.items()}
    for batch in read_part(part, batch_rows, threads):
        names = [str(name) for name in batch.schema.names]
        rows += batch.num_rows
        for name, column in counts.items():
            if name in names:
                column.add(batch.column(name))
    return names, rows, {name: column.state() for name, column in counts.items()}


def _verdicts(
    profile: dict,
    columns: dict[str, ColumnCounts],
    present: list[str],
    reference: Path,
    current: Path,
    settings: Settings,
) -> tuple[list[Check], list[ColumnDrift], list[str]]:
    """One check per compared column (plus one per column with non-finite numbers) and the report's notes."""
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
    return checks, compared, notes


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
