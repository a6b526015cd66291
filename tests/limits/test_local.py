"""The loose per-process counters (C33): a moving window per key, the wait until the oldest
hit leaves it, keys apart, and keys whose window passed forgotten."""

from __future__ import annotations

from slotgraph.limits.local import LocalCounters


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_takes_its_limit_per_moving_window_then_waits_for_the_oldest_hit() -> None:
    clock = Clock()
    counters = LocalCounters(clock)
    assert counters.hit("read:a", 3, 60) is None
    clock.now += 20
    assert counters.hit("read:a", 3, 60) is None
    assert counters.hit("read:a", 3, 60) is None
    assert counters.hit("read:a", 3, 60) == 40  # the first hit leaves the window in 40 s
    assert counters.hit("read:b", 3, 60) is None  # another key counts on its own
    clock.now += 40
    assert counters.hit("read:a", 3, 60) is None  # a moving window, not a fixed one
    assert counters.hit("read:a", 3, 60) == 20


def test_a_refused_hit_is_not_counted() -> None:
    clock = Clock()
    counters = LocalCounters(clock)
    assert counters.hit("read:a", 1, 10) is None
    for _ in range(5):
        assert counters.hit("read:a", 1, 10) == 10
    clock.now += 10
    assert counters.hit("read:a", 1, 10) is None


def test_keys_whose_window_passed_are_forgotten() -> None:
    clock = Clock()
    counters = LocalCounters(clock)
    for n in range(100):
        assert counters.hit(f"read:{n}", 5, 60) is None
    assert len(counters) == 100
    clock.now += 61
    assert counters.hit("read:new", 5, 60) is None
    assert len(counters) == 1
