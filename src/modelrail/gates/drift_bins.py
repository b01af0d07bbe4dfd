"""Bin indices of many values against one set of sorted edges: np.searchsorted(edges, values, side="left"), faster.

Drift counts every current value of a continuous column into ~1000 fine bins; a binary search per value took three
quarters of its time. Here an equal-width grid of cells over the edges' range takes a value to its cell by
arithmetic, and two tables per cell give the answer: the number of edges in the cells below, plus one if the value is
above the cell's edge when the cell holds exactly one. Only values in a cell holding two edges or more are searched;
with CELLS_PER_EDGE cells per edge, next to none are.

The answer is exactly searchsorted's, rounding included: a value's cell, computed in floating point, never decreases
as the value grows (subtracting, multiplying by a positive number and truncating each round monotonically), and the
edges get their cells by the same computation. So an edge in an earlier cell than a value's is below the value, one
in a later cell is above it, and only the edges in the value's own cell need comparing. -inf goes to the bottom
cell, NaN and +inf to the top one, which holds no edge: searchsorted puts them first and last too.
"""

from __future__ import annotations

CELLS_PER_EDGE = 64
# Values binned at a time: the work arrays stay in the CPU's cache (a whole batch's do not, and it is slower).
CHUNK = 65_536


class EdgeIndex:
    """np.searchsorted(edges, values, side="left") for strictly increasing finite `edges`, by table lookup."""

    def __init__(self, edges) -> None:
        import numpy as np

        self.edges = np.ascontiguousarray(edges, dtype=np.float64)
        # The bin of values in a cell holding two edges or more: one past the last real bin, resolved by a search.
        self.unsure = len(self.edges) + 1
        self.bin_type = np.int16 if self.unsure < 2**15 else np.intp
        self.below = None
        if len(self.edges) < 2:
            return
        cells = CELLS_PER_EDGE * len(self.edges)
        with np.errstate(over="ignore"):
            self.scale = cells / (self.edges[-1] - self.edges[0])
        if not (np.isfinite(self.scale) and self.scale > 0):  # a range too narrow or too wide: search every value
            return
        # The highest edge's cell is `cells` or just below (the scale's rounding), so the top cell holds no edge.
        self.low, self.top = self.edges[0], float(cells + 1)
        edge_cells = self._cells(self.edges, np.empty(len(self.edges)), np.empty(len(self.edges), dtype=np.intp))
        counts = np.bincount(edge_cells, minlength=cells + 2)
        # Bins as small integers when they fit (1001 fine bins do): a smaller table stays in the CPU's cache.
        self.below = np.where(counts < 2, np.cumsum(counts) - counts, self.unsure).astype(self.bin_type)
        alone = counts[edge_cells] == 1
        self.single = np.full(cells + 2, np.inf)  # the cell's edge when it holds one: no value is above +inf
        self.single[edge_cells[alone]] = self.edges[alone]

    def _cells(self, values, floats, cells):
        """Each value's cell, 0 to top, written into `cells` (`floats` is work space).

        Values below the lowest edge share its cell 0, which is still monotonic: the lowest edge's own value tells them
        apart from the values above it in that cell.
        """
        import numpy as np

        with np.errstate(over="ignore", invalid="ignore"):
            np.subtract(values, self.low, out=floats)
            floats *= self.scale
        np.clip(floats, 0.0, self.top, out=floats)
        if np.isnan(floats.sum()):  # only NaN is left unbounded: searchsorted puts it last, and so does the top cell
            floats[np.isnan(floats)] = self.top
        np.copyto(cells, floats, casting="unsafe")  # truncated: monotonic, as floor is
        return cells

    def _chunk(self, values, work):
        """The bins of at most CHUNK values (`unsure` for some), in work arrays reused from chunk to chunk."""
        import numpy as np

        if self.below is None:
            return np.searchsorted(self.edges, values, side="left")
        floats, cells, found, above = (array[: len(values)] for array in work)
        self._cells(values, floats, cells)
        np.take(self.below, cells, out=found, mode="clip")  # cells are within the tables: "clip" never clips
        np.less(np.take(self.single, cells, out=floats, mode="clip"), values, out=above)
        found += above
        return found

    def _resolve(self, values, found):
        """The bins of the `unsure` values, by binary search (next to none with CELLS_PER_EDGE cells per edge)."""
        import numpy as np

        unsure = np.flatnonzero(found == self.unsure)
        found[unsure] = np.searchsorted(self.edges, values[unsure], side="left")
        return found

    def _chunks(self, values):
        import numpy as np

        values = np.asarray(values, dtype=np.float64)
        size = min(len(values), CHUNK)
        work = (
            np.empty(size),
            np.empty(size, dtype=np.intp),
            np.empty(size, dtype=self.bin_type),
            np.empty(size, bool),
        )
        for start in range(0, len(values), CHUNK):
            part = values[start : start + CHUNK]
            yield start, part, self._chunk(part, work)

    def index(self, values):
        """Per value, the number of edges below it: its bin, as searchsorted(side="left") gives it."""
        import numpy as np

        found = np.empty(len(values), dtype=np.intp)
        for start, part, bins in self._chunks(values):
            found[start : start + len(part)] = self._resolve(part, bins)
        return found

    def counts(self, values):
        """Counts per bin: (-inf, e0], (e0, e1], ..., (e_last, inf) (NaN in the last)."""
        import numpy as np

        total = np.zeros(len(self.edges) + 2, dtype=np.int64)
        for _, part, bins in self._chunks(values):
            counted = np.bincount(bins, minlength=len(total))
            if counted[-1]:  # only then look for the unsure values
                counted = np.bincount(self._resolve(part, bins), minlength=len(total))
            total += counted
        return total[:-1]
