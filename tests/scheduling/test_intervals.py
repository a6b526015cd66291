"""Half-open interval algebra: merge, subtract, intersect, overlaps.

The property tests use small integer endpoints, so that overlaps and touching ends are common,
and compare every result with the set of unit points `[start, end)` it covers.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slotgraph.scheduling.intervals import intersect
from slotgraph.scheduling.intervals import merge
from slotgraph.scheduling.intervals import overlaps
from slotgraph.scheduling.intervals import overlaps_any
from slotgraph.scheduling.intervals import subtract

Spans = list[tuple[int, int]]

spans = st.lists(
    st.tuples(st.integers(0, 60), st.integers(0, 12)).map(lambda pair: (pair[0], sum(pair))),
    max_size=25,
)


def points(intervals: Spans) -> set[int]:
    return {point for start, end in intervals for point in range(start, end)}


def assert_merged(intervals: Spans) -> None:
    """Sorted, non-empty, disjoint and not touching: the form every operation returns."""
    for start, end in intervals:
        assert start < end
    for (_, end), (next_start, _) in itertools.pairwise(intervals):
        assert end < next_start


@given(spans)
def test_merge_is_sorted_disjoint_and_covers_exactly_the_union(intervals: Spans) -> None:
    merged = merge(intervals)
    assert_merged(merged)
    assert points(merged) == points(intervals)


@given(spans)
def test_merge_is_idempotent(intervals: Spans) -> None:
    assert merge(merge(intervals)) == merge(intervals)


def test_merge_joins_touching_intervals_and_drops_empty_ones() -> None:
    assert merge([(10, 11), (5, 5), (9, 10), (13, 14), (12, 12)]) == [(9, 11), (13, 14)]


def test_merge_refuses_an_interval_that_ends_before_it_starts() -> None:
    with pytest.raises(ValueError, match="ends before it starts"):
        merge([(1, 2), (5, 4)])


def test_merge_works_on_aware_datetimes() -> None:
    def at(hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime(2026, 3, 2, hour, minute, tzinfo=dt.UTC)

    busy = [(at(10), at(11)), (at(9), at(9, 30)), (at(10, 30), at(12)), (at(9, 30), at(9, 45))]
    assert merge(busy) == [(at(9), at(9, 45)), (at(10), at(12))]


@given(spans, spans)
def test_subtract_leaves_exactly_the_points_not_removed(base: Spans, remove: Spans) -> None:
    result = subtract(merge(base), merge(remove))
    assert_merged(result)
    assert points(result) == points(base) - points(remove)


def test_subtract_keeps_the_edges_a_removal_only_touches() -> None:
    assert subtract([(0, 10), (20, 30)], [(10, 12), (15, 20), (25, 26)]) == [
        (0, 10),
        (20, 25),
        (26, 30),
    ]


def test_subtract_lets_one_removal_cut_several_base_intervals() -> None:
    assert subtract([(0, 10), (12, 14), (16, 20)], [(5, 18)]) == [(0, 5), (18, 20)]


@given(spans, spans)
def test_intersect_keeps_exactly_the_common_points(first: Spans, second: Spans) -> None:
    result = intersect(merge(first), merge(second))
    assert_merged(result)
    assert points(result) == points(first) & points(second)


@given(
    st.tuples(st.integers(0, 20), st.integers(0, 20)),
    st.tuples(st.integers(0, 20), st.integers(0, 20)),
)
def test_overlaps_means_sharing_a_point(first: tuple[int, int], second: tuple[int, int]) -> None:
    assert overlaps(first, second) == bool(points([first]) & points([second]))


def test_touching_intervals_do_not_overlap() -> None:
    assert not overlaps((9, 10), (10, 11))
    assert overlaps((9, 10), (9, 11))


@given(spans, st.tuples(st.integers(0, 80), st.integers(0, 15)))
def test_overlaps_any_agrees_with_the_points(intervals: Spans, probe: tuple[int, int]) -> None:
    start, length = probe
    interval = (start, start + length)
    assert overlaps_any(merge(intervals), interval) == bool(points(intervals) & points([interval]))
