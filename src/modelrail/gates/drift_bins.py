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
        self.below = None
        if len(self.edges) < 2:
            return
        self.low, cells = self.edges[0], CELLS_PER_EDGE * len(self.edges)
        with np.errstate(over="ignore"):
            self.scale = cells / (self.edges[-1] - self.low)
        if not (np.isfinite(self.scale) and self.scale > 0):  # a range too narrow or too wide: search every value
            return
        # The highest edge's cell is `cells` or just below (the scale's rounding), so the top cell holds no edge.
        self.top = float(cells + 1)
        edge_cells = self._cells(self.edges, np.empty(len(self.edges)), np.empty(len(self.edges), dtype=np.intp))
        counts = np.bincount(edge_cells, minlength=cells + 2)
        # Indexed by cell; the last entry is for cell -1 (an index of -1 is the last entry), which no edge is in.
        self.below = np.append(np.where(counts < 2, np.cumsum(counts) - counts, -1), 0)
        alone = counts[edge_cells] == 1
        self.single = np.full(cells + 3, np.inf)  # the cell's edge when it holds one: no value is above +inf
        self.single[edge_cells[alone]] = self.edges[alone]

    def _cells(self, values, floats, cells):
        """Each value's cell, -1 (below the lowest edge by a cell or more) to top, written into `cells`."""
        import numpy as np

        with np.errstate(over="ignore", invalid="ignore"):
            np.subtract(values, self.low, out=floats)
            floats *= self.scale
        np.fmin(floats, self.top, out=floats)  # NaN too
        np.maximum(floats, -1.0, out=floats)
        np.copyto(cells, floats, casting="unsafe")  # truncated: monotonic, as floor is
        return cells

    def _chunk(self, values, work):
        """The bin indices of at most CHUNK values, in work arrays reused from chunk to chunk."""
        import numpy as np

        if self.below is None:
            return np.searchsorted(self.edges, values, side="left")
        floats, cells, found, above = (array[: len(values)] for array in work)
        self._cells(values, floats, cells)
        # Cells run from -1 to top: "wrap" reads -1 as the last entry, as the tables expect, and skips bounds checks.
        np.take(self.below, cells, out=found, mode="wrap")
        np.less(np.take(self.single, cells, out=floats, mode="wrap"), values, out=above)
        found += above
        unsure = np.flatnonzero(found < 0)  # cells with two edges or more: -1 + False
        if len(unsure):
            found[unsure] = np.searchsorted(self.edges, values[unsure], side="left")
        return found

    def _chunks(self, values):
        import numpy as np

        values = np.asarray(values, dtype=np.float64)
        size = min(len(values), CHUNK)
        work = (np.empty(size), np.empty(size, dtype=np.intp), np.empty(size, dtype=np.intp), np.empty(size, bool))
        for start in range(0, len(values), CHUNK):
            yield start, self._chunk(values[start : start + CHUNK], work)

    def index(self, values):
        """Per value, the number of edges below it: its bin, as searchsorted(side="left") gives it."""
        import numpy as np

        found = np.empty(len(values), dtype=np.intp)
        for start, part in self._chunks(values):
            found[start : start + len(part)] = part
        return found

    def counts(self, values):
        """Counts per bin: (-inf, e0], (e0, e1], ..., (e_last, inf) (NaN in the last)."""
        import numpy as np

        total = np.zeros(len(self.edges) + 1, dtype=np.int64)
        for _, part in self._chunks(values):
            total += np.bincount(part, minlength=len(total))
        return total
