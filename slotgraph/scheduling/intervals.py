"""Half-open time intervals `[start, end)` and the set operations availability needs.

An interval is a pair `(start, end)`. Half-open (docs/conventions.md, convention 4) means
that a meeting ending at 10:00 and one starting at 10:00 do not overlap, and that an interval
with `start == end` is empty: it covers nothing and disappears in `merge`.

Tuples rather than a dataclass: the availability engine builds, sorts and sweeps tens of
thousands of them per query, and tuples are created and compared in C. The functions are
generic over the endpoint type, because they only ever compare endpoints: the public currency
is `Interval`, a named tuple of aware UTC datetimes that every layer passes around (the
provider adapters, the busy cache, the use cases and this engine alike, so nothing converts
between interval types), while `slotgraph.scheduling.slots` runs the same functions over plain
tuples of integer microseconds since the epoch, where comparisons are cheapest and exact.

`merge` accepts anything (unsorted, overlapping, empty intervals). `subtract`, `intersect` and
`overlaps_any` take *merged* lists, as `merge` returns them (sorted, disjoint, non-adjacent):
they sweep or bisect and would give wrong answers on other input. Merge once, then combine.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable
from collections.abc import Sequence
from typing import Any
from typing import NamedTuple
from typing import Protocol
from typing import TypeAlias
from typing import TypeVar


class _Ordered(Protocol):
    """What an endpoint must support: a total order (datetimes, ints, floats)."""

    def __lt__(self, other: Any, /) -> bool: ...
    def __le__(self, other: Any, /) -> bool: ...


T = TypeVar("T", bound=_Ordered)

Span: TypeAlias = tuple[T, T]
"""`(start, end)`, half-open, over any ordered endpoint type."""


class Interval(NamedTuple):
    """A half-open `[start, end)` span of aware UTC datetimes: what the rest of Slotgraph
    passes around. A tuple, so it sorts, compares and unpacks as `(start, end)` at C speed
    and any `Span` function takes it; the names read better than `[0]` and `[1]`."""

    start: dt.datetime
    end: dt.datetime


def _end(span: Span[T]) -> T:
    return span[1]


def merge(intervals: Iterable[Span[T]]) -> list[Span[T]]:
    """The union of `intervals` as a sorted list of disjoint, non-adjacent intervals.

    Busy time comes from several calendars, unsorted and overlapping (the same team meeting
    on three calendars); one sort and one sweep turn it into the only shape the rest of this
    module sweeps over. Touching intervals are joined (`[9, 10) + [10, 11) = [9, 11)`) so
    that a slot never looks free at the seam. Empty intervals are dropped; an interval that
    ends before it starts is a caller's bug and raises `ValueError`.
    """
    result: list[Span[T]] = []
    ordered = sorted(intervals)
    index, count = 0, len(ordered)
    # Skip leading empty intervals so that the sweep starts from a real one.
    while index < count and not ordered[index][0] < ordered[index][1]:
        _check(ordered[index])
        index += 1
    if index == count:
        return result
    current_start, current_end = ordered[index]
    for start, end in ordered[index + 1 :]:
        if end <= start:
            _check((start, end))
        elif start <= current_end:
            if current_end < end:
                current_end = end
        else:
            result.append((current_start, current_end))
            current_start, current_end = start, end
    result.append((current_start, current_end))
    return result


def _check(span: Span[T]) -> None:
    if span[1] < span[0]:
        raise ValueError(f"interval {span!r} ends before it starts")


def subtract(base: Sequence[Span[T]], remove: Sequence[Span[T]]) -> list[Span[T]]:
    """The parts of `base` not covered by `remove`; both merged, result merged.

    Free time is working time minus busy time. `base` is usually short (one interval per
    working day) and `remove` long (thousands of busy intervals), so each base interval
    bisects to its first overlapping removal instead of scanning from the front: the cost is
    the overlapping removals, not all of them.
    """
    result: list[Span[T]] = []
    count = len(remove)
    index = 0
    for start, end in base:
        # First removal that ends after `start`: ends are sorted because `remove` is merged.
        index = bisect_right(remove, start, lo=index, key=_end)
        cursor = start
        while index < count:
            cut_start, cut_end = remove[index]
            if not cut_start < end:
                break
            if cursor < cut_start:
                result.append((cursor, cut_start))
            if cursor < cut_end:
                cursor = cut_end
            if not cursor < end:
                break
            index += 1
        # `index` stays on a removal that may also overlap the next base interval.
        if cursor < end:
            result.append((cursor, end))
    return result


def intersect(first: Sequence[Span[T]], second: Sequence[Span[T]]) -> list[Span[T]]:
    """The time covered by both lists; both merged, result merged (two-pointer sweep)."""
    result: list[Span[T]] = []
    i = j = 0
    while i < len(first) and j < len(second):
        a_start, a_end = first[i]
        b_start, b_end = second[j]
        start = b_start if a_start < b_start else a_start
        end = a_end if a_end < b_end else b_end
        if start < end:
            result.append((start, end))
        # Drop whichever ends first: it cannot meet anything further along the other list.
        if a_end < b_end:
            i += 1
        else:
            j += 1
    return result


def overlaps(first: Span[T], second: Span[T]) -> bool:
    """Whether two intervals share any instant; touching ends do not (half-open)."""
    # An empty interval lies between its neighbours' ends yet covers nothing.
    if not (first[0] < first[1] and second[0] < second[1]):
        return False
    return first[0] < second[1] and second[0] < first[1]


def overlaps_any(merged: Sequence[Span[T]], interval: Span[T]) -> bool:
    """Whether `interval` shares an instant with any of `merged`, in O(log n).

    For checking one requested time against a host's merged busy time (S8) without
    computing every slot.
    """
    start, end = interval
    if not start < end:
        return False
    index = bisect_right(merged, start, key=_end)
    return index < len(merged) and merged[index][0] < end
