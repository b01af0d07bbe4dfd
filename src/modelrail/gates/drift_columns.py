"""Drift measures of one column: its running counts over the current data, PSI and a binned KS test, and the
thresholds they are held to (modelrail.yaml `drift:`). drift.py says why these measures."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from modelrail.data_files import is_number
from modelrail.gates import drift_profile
from modelrail.gates.drift_bins import EdgeIndex

if TYPE_CHECKING:
    import pyarrow as pa

# `unseen`: the largest share of a categorical column's current values that may be absent from the reference.
DEFAULT_LIMITS = {"psi": 0.2, "ks": 0.2, "pvalue": 0.05, "unseen": 0.05}
DEFAULT_BINS = 10
MAX_CATEGORIES = 20
# The share given to an empty bin so that PSI stays finite (the usual convention).
EPSILON = 1e-4
MISSING = "(missing)"
OTHER = "(other)"
EXAMPLES = 5


@dataclass
class Settings:
    """Thresholds from modelrail.yaml `drift:`, with the defaults filled in."""

    limits: dict
    bins: int
    exclude: list[str]
    columns: dict[str, dict]
    source: str
    # Where the current data is counted (`drift.engine`), and the whole modelrail.yaml (the Spark engine's `spark:`).
    engine: str = "pandas"
    config: dict = field(default_factory=dict)

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


def load_settings(config_path: Path | None) -> Settings:
    """The `drift:` section of modelrail.yaml (validated by config.load_config), or the defaults without one."""
    config: dict = {}
    if config_path is not None:
        from modelrail.config import load_config

        config = load_config(config_path)
    drift = config.get("drift", {})
    limits = {key: drift.get(key, default) for key, default in DEFAULT_LIMITS.items()}
    return Settings(
        limits=limits,
        bins=int(drift.get("bins", DEFAULT_BINS)),
        exclude=list(drift.get("exclude", [])),
        columns=dict(drift.get("columns", {})),
        source=str(config_path) if config_path is not None else "defaults",
        engine=drift.get("engine", "pandas"),
        config=config,
    )


class ColumnCounts:
    """One reference column's running counts over the current data, batch by batch."""

    def __init__(self, name: str, profile: dict, top: int = MAX_CATEGORIES):
        import numpy as np

        self.name, self.profile = name, profile
        if profile["kind"] == "continuous":
            self.edges, self.fine_edges = np.asarray(profile["edges"]), np.asarray(profile["fine_edges"])
            self.fine_index = EdgeIndex(self.fine_edges)
        else:
            self.kept = list(profile["values"])[:top]
        self._zero()

    def _zero(self) -> None:
        import numpy as np

        self.missing = self.nonfinite = self.rows = 0
        self.mismatch: str | None = None
        if self.profile["kind"] == "continuous":
            self.fine_counts = np.zeros(len(self.fine_edges) + 1, dtype=np.int64)
        else:
            self.counts = dict.fromkeys(self.kept, 0)
            self.other = self.unseen = 0
            self.examples: list[str] = []

    def empty(self) -> ColumnCounts:
        """No counts yet, over the same bins: for counting a part of the data apart (the bin tables are shared)."""
        part = copy.copy(self)
        part._zero()
        return part

    def add(self, array: pa.Array) -> None:
        import numpy as np
        import pyarrow.compute as pc

        self.rows += len(array)
        if self.mismatch:
            return
        self.missing += array.null_count
        present = pc.drop_null(array) if array.null_count else array
        numeric = is_number(array.type)
        if not numeric and (self.profile["kind"] == "continuous" or self.profile.get("numeric")):
            if len(present):  # an all-empty column reads as text: it still compares, as missing values
                self.mismatch = f"is text (e.g. {str(present[0].as_py())[:40]!r}) but numeric"
            return
        if numeric:
            # from_dlpack, not to_numpy: the same view of the buffer, but pyarrow's to_numpy imports pandas (seconds).
            values = np.from_dlpack(present).astype(float, copy=False)
            finite = np.isfinite(values)
            if not finite.all():
                self.nonfinite += int((~finite).sum())
                values = values[finite]
                present = pc.filter(present, pc.is_finite(present)) if self.profile["kind"] != "continuous" else None
        if self.profile["kind"] == "continuous":
            self.fine_counts += self.fine_index.counts(values)
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

    def state(self) -> dict:
        """The counts so far, as JSON: what a Spark partition sends back to the driver (drift_spark.py)."""
        state = {"rows": self.rows, "missing": self.missing, "nonfinite": self.nonfinite, "mismatch": self.mismatch}
        if self.profile["kind"] == "continuous":
            return {**state, "fine_counts": self.fine_counts.tolist()}
        return {**state, "counts": self.counts, "other": self.other, "unseen": self.unseen, "examples": self.examples}

    def merge(self, state: dict) -> None:
        """Add another part's counts (its `state()`): counting parts apart and merging equals counting them in one."""
        self.rows += state["rows"]
        self.missing += state["missing"]
        self.nonfinite += state["nonfinite"]
        self.mismatch = self.mismatch or state["mismatch"]
        if self.profile["kind"] == "continuous":
            self.fine_counts += state["fine_counts"]
            return
        for key, count in state["counts"].items():
            self.counts[key] += count
        self.other += state["other"]
        self.unseen += state["unseen"]
        self.examples = (self.examples + state["examples"])[:EXAMPLES]

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


def psi(reference_shares: list[float], current_shares: list[float]) -> float:
    """Population Stability Index: sum over bins of (current - reference) * ln(current / reference)."""
    total = 0.0
    for ref, cur in zip(reference_shares, current_shares, strict=True):
        ref, cur = max(ref, EPSILON), max(cur, EPSILON)
        total += (cur - ref) * math.log(cur / ref)
    return total
