"""The reference side of drift, computed once: per column the bins and the reference's counts in them.

A profile is what `modelrail drift` compares the current data with, so the reference is read once (and can then be
left out: `--reference` takes a saved profile). Continuous columns keep two sets of edges at the reference's quantiles:
`bins` coarse ones for PSI and FINE_BINS fine ones from which the KS distance is computed without the raw values.
Categorical columns keep each value's count (up to MAX_SEEN values), so that values never seen in the reference are
told apart from rare ones.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from pathlib import Path

from modelrail.data_files import is_number, iter_batches
from modelrail.errors import ConfigError, DataError
from modelrail.files import write_json_atomic

FORMAT = "modelrail drift reference profile"
VERSION = 1
FINE_BINS = 1000
# Beyond this many distinct values (ids, free text) a column keeps only its top values: "unseen" cannot be told.
MAX_SEEN = 10_000


def category_key(value, numeric: bool) -> str:
    """Values as text, with numbers formatted alike so that 1 (int) and 1.0 (float) fall into one bin."""
    return f"{float(value):g}" if numeric else str(value)


def build(path: Path, bins: int, batch_rows: int) -> dict:
    """Read the reference (a file or a folder of them) once and return its profile."""
    import numpy as np
    import pyarrow.compute as pc

    numeric: dict[str, list] = {}
    counts: dict[str, dict] = {}
    missing: dict[str, int] = {}
    rows = 0
    columns: list[str] | None = None
    for file, batch in iter_batches(path, batch_rows):
        names = [str(name) for name in batch.schema.names]
        if columns is None:
            columns = names
            kinds = {name: is_number(batch.schema.field(name).type) for name in names}
        elif names != columns:
            raise DataError(f"{file}: columns differ from the rest of the reference {path}")
        rows += batch.num_rows
        for name in columns:
            array = batch.column(name)
            missing[name] = missing.get(name, 0) + array.null_count
            if is_number(array.type) != kinds[name]:
                raise DataError(f"{file}: column '{name}' is numeric in one part of the reference {path}, not another")
            present = pc.drop_null(array)
            if kinds[name]:
                # A copy (the batch's buffer is not kept); from_dlpack as in drift_columns, without importing pandas.
                values = np.from_dlpack(present).astype(float)
                bad = int((~np.isfinite(values)).sum())
                if bad:
                    raise DataError(f"{file}: column '{name}' of the reference has {bad} non-finite value(s) (inf/NaN)")
                numeric.setdefault(name, []).append(values)
            else:
                _count(counts.setdefault(name, {}), present, numeric=False)
    if not rows or columns is None:
        raise DataError(f"{path}: has a header but no rows")
    profile_columns = {}
    for name in columns:
        if kinds[name]:
            values = np.concatenate(numeric.get(name, [np.empty(0)]))
            profile_columns[name] = _numeric_profile(values, rows, missing[name], bins)
        else:
            profile_columns[name] = _categorical_profile(counts.get(name, {}), rows, missing[name], numeric=False)
    return {
        "format": FORMAT,
        "version": VERSION,
        "bins": bins,
        "fine_bins": FINE_BINS,
        "rows": rows,
        "columns": profile_columns,
    }


def _numeric_profile(values, rows: int, missing: int, bins: int) -> dict:
    """Continuous when it has more distinct values than bins (quantile edges), else categorical by value."""
    import numpy as np

    # Sorted once: the distinct values, the quantiles and the counts per bin all follow from the sorted values.
    values = np.sort(values)
    distinct = np.count_nonzero(values[1:] != values[:-1]) + 1 if len(values) else 0
    if distinct <= bins:
        found = dict(zip(*np.unique(values, return_counts=True), strict=True))
        keyed = {category_key(value, True): int(count) for value, count in found.items()}
        return _categorical_profile(keyed, rows, missing, numeric=True)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
    # The coarse edges are fine edges too, so coarse counts follow from fine ones (one search per value, not two).
    fine = np.unique(np.concatenate([np.quantile(values, np.linspace(0, 1, FINE_BINS + 1)), edges]))
    return {
        "kind": "continuous",
        "rows": rows,
        "missing": missing,
        "edges": edges.tolist(),
        "counts": _sorted_counts(edges, values).tolist(),
        "fine_edges": fine.tolist(),
        "fine_counts": _sorted_counts(fine, values).tolist(),
    }


def _sorted_counts(edges, ordered):
    """Counts per bin (-inf, e0], (e0, e1], ..., (e_last, inf) of sorted values: one search per edge, not per value."""
    import numpy as np

    return np.diff(np.searchsorted(ordered, edges, side="right"), prepend=0, append=len(ordered))


def coarse_counts(edges, fine_edges, fine_counts):
    """Counts in the coarse bins from counts in the fine bins (every coarse edge is a fine edge)."""
    import numpy as np

    mapping = np.append(np.searchsorted(edges, fine_edges, side="left"), len(edges))
    return np.bincount(mapping, weights=fine_counts, minlength=len(edges) + 1).astype(np.int64)


def _categorical_profile(counts: dict[str, int], rows: int, missing: int, numeric: bool) -> dict:
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    complete = len(ordered) <= MAX_SEEN
    kept = ordered if complete else ordered[:MAX_SEEN]
    return {
        "kind": "categorical",
        "numeric": numeric,
        "rows": rows,
        "missing": missing,
        "values": dict(kept),
        "other": sum(count for _, count in ordered[len(kept) :]),
        "complete": complete,
    }


def _count(into: dict[str, int], array, numeric: bool) -> None:
    """Add one batch's value counts (never more entries than the batch has distinct values)."""
    import pyarrow.compute as pc

    for item in pc.value_counts(array).to_pylist():
        key = category_key(item["values"], numeric)
        into[key] = into.get(key, 0) + item["counts"]


def digest(profile: dict) -> str:
    """The profile's content hash: sha256 of its canonical JSON."""
    canonical = json.dumps(profile, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def save(profile: dict, path: Path) -> None:
    write_json_atomic(path, profile)


def load(path: Path, bins: int) -> dict:
    """A profile written by `modelrail drift --save-profile`; it must have been computed with the same `bins`."""
    try:
        profile = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such reference profile") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a reference profile (not valid JSON: {exc})") from None
    if not isinstance(profile, dict) or profile.get("format") != FORMAT or profile.get("version") != VERSION:
        raise ConfigError(f"{path}: not a reference profile (write one with `modelrail drift --save-profile`)")
    _check_shape(path, profile)
    if profile.get("bins") != bins:
        raise ConfigError(
            f"{path}: the profile has {profile.get('bins')} bins but drift.bins is {bins} (fix: save the profile again)"
        )
    return profile


_KEYS = {
    "continuous": {"rows": int, "missing": int, "edges": list, "counts": list, "fine_edges": list, "fine_counts": list},
    "categorical": {"rows": int, "missing": int, "values": dict, "other": int, "complete": bool},
}


def _check_shape(path: Path, profile: dict) -> None:
    """A profile is a file someone may edit: a wrong shape is a clear error, not a traceback later."""
    columns = profile.get("columns")
    if not isinstance(columns, dict) or not columns or not isinstance(profile.get("rows"), int):
        raise ConfigError(f"{path}: not a reference profile: 'rows' and 'columns' are missing or of the wrong type")
    for name, column in columns.items():
        kind = column.get("kind") if isinstance(column, dict) else None
        if kind not in _KEYS:
            raise ConfigError(f"{path}: column '{name}': 'kind' must be continuous or categorical")
        for key, expected in _KEYS[kind].items():
            if not isinstance(column.get(key), expected):
                raise ConfigError(f"{path}: column '{name}': key '{key}' must be a {expected.__name__}")
        if kind == "continuous" and (
            len(column["counts"]) != len(column["edges"]) + 1
            or len(column["fine_counts"]) != len(column["fine_edges"]) + 1
            or not column["edges"]
        ):
            raise ConfigError(f"{path}: column '{name}': edges and counts do not match")
        for key in ("edges", "fine_edges") if kind == "continuous" else ():
            if not _increasing(column[key]):
                # Binning (drift_bins.py) is exact only for sorted edges: anything else would count silently wrong.
                raise ConfigError(f"{path}: column '{name}': key '{key}' must be finite numbers in increasing order")


def _increasing(values: list) -> bool:
    numbers = all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values)
    finite = numbers and all(math.isfinite(value) for value in values)
    return finite and all(a < b for a, b in itertools.pairwise(values))
