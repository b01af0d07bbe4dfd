"""EdgeIndex must give np.searchsorted's bin indices exactly, whatever the values and the edges' spacing."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from modelrail.gates.drift_bins import EdgeIndex

RNG = np.random.default_rng(17)
LARGEST = np.finfo(np.float64).max
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, -5e-324, LARGEST, -LARGEST])


def quantile_edges(sample, fine: int = 1000):
    return np.unique(np.quantile(sample, np.linspace(0, 1, fine + 1)))


EDGE_SETS = {
    "normal quantiles": quantile_edges(RNG.normal(10, 2, 100_000)),
    "lognormal quantiles (long tail)": quantile_edges(RNG.lognormal(0, 3, 100_000)),
    "few distinct values": quantile_edges(RNG.integers(0, 7, 100_000) * 1.5),
    "clustered: 500 edges in a billionth, one far away": np.append(np.linspace(0, 1e-9, 500), 1e6),
    "two edges": np.array([-1.0, 1.0]),
    "one edge": np.array([3.0]),
    "adjacent floats": np.array([1.0, np.nextafter(1.0, 2.0), np.nextafter(np.nextafter(1.0, 2.0), 2.0)]),
    "range overflows": np.array([-1e308, 0.0, 1e308]),
    "subnormal range": np.array([0.0, 5e-324, 1e-323]),
}


def adversarial_values(edges):
    """Every edge and its two neighbouring floats, every grid cell's boundary and its neighbours, the extremes."""
    index = EdgeIndex(edges)
    around = [edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf), SPECIAL]
    if index.below is not None:
        boundaries = index.low + np.arange(-2, len(index.below) + 2) / index.scale
        around += [boundaries, np.nextafter(boundaries, -np.inf), np.nextafter(boundaries, np.inf)]
    share = RNG.uniform(-1, 2, 20_000)  # from one range's width below the edges to one above
    with np.errstate(over="ignore", invalid="ignore"):
        spread = edges[0] * (1 - share) + edges[-1] * share + RNG.normal(0, 1, 20_000)
    return np.concatenate([*around, spread[np.isfinite(spread)]])


@pytest.mark.parametrize("name", EDGE_SETS)
def test_bin_indices_equal_searchsorted_on_adversarial_values(name):
    edges = EDGE_SETS[name]
    values = adversarial_values(edges)
    expected = np.searchsorted(edges, values, side="left")
    index = EdgeIndex(edges)
    assert np.array_equal(index.index(values), expected)
    assert np.array_equal(index.counts(values), np.bincount(expected, minlength=len(edges) + 1))


def test_the_table_answers_most_values_without_a_search():
    """Not a timing: the lookup must actually be used (a searchsorted for every value would pass the test above)."""
    sample = RNG.normal(10, 2, 100_000)
    index = EdgeIndex(quantile_edges(sample))
    values = RNG.normal(10.5, 2, 100_000)
    cells = index._cells(values, np.empty(len(values)), np.empty(len(values), dtype=np.intp))
    assert (index.below[cells] == index.unsure).mean() < 0.01
    assert np.array_equal(index.index(values), np.searchsorted(index.edges, values, side="left"))


floats = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=300, deadline=None)
@given(
    edges=hnp.arrays(np.float64, st.integers(1, 40), elements=st.floats(allow_nan=False, allow_infinity=False)),
    values=hnp.arrays(np.float64, st.integers(0, 200), elements=floats),
)
def test_bin_indices_equal_searchsorted_for_any_edges_and_values(edges, values):
    edges = np.unique(edges)  # what profiles hold: strictly increasing, finite
    with np.errstate(over="ignore"):
        values = np.concatenate([values, edges, np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf)])
    assert np.array_equal(EdgeIndex(edges).index(values), np.searchsorted(edges, values, side="left"))


def test_values_that_need_a_search_are_counted_when_nothing_is_above_the_last_edge():
    # 500 edges in one cell: its values are searched. None above the last edge, so that bin's count is 0 and only
    # the count of searched values tells that a search is needed.
    edges = np.append(np.linspace(0, 1e-9, 500), 1e6)
    values = np.concatenate([RNG.uniform(0, 1e-9, 1000), RNG.uniform(1, 1e6, 1000), edges])
    expected = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    assert expected[-1] == 0
    assert np.array_equal(EdgeIndex(edges).counts(values), expected)


@pytest.mark.parametrize("count", [2**15 - 2, 2**15 - 1, 2**15])
def test_bins_past_the_range_of_a_small_integer_are_not_wrapped(count):
    """The tables hold bins as int16 while they fit; one more bin must switch to a wider type, not wrap around."""
    edges = np.append(np.arange(count - 2, dtype=float), [count, count + 1e-12])  # the last two share a cell
    values = np.concatenate([edges, edges + 0.5, [-1.0, count + 5e-13]])
    index = EdgeIndex(edges)
    expected = np.searchsorted(edges, values, side="left")
    assert np.array_equal(index.index(values), expected)
    assert np.array_equal(index.counts(values), np.bincount(expected, minlength=count + 1))
