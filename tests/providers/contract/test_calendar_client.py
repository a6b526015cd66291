"""The `CalendarClient` contract (slotgraph/providers/base.py), run against every adapter and
its protocol-level fake: what the use cases and workers rely on whichever provider a user
connected. Busy time follows C4 on the shared scenario; writes land once (S12, S10); sync
lists fully, then incrementally, and asks for a full sync when the cursor is gone; failures
end in the typed errors of the provider error tree within the retry policy's bounds (FAST).

Provider-specific behaviour (request shapes, limits, sign-in) stays in
tests/providers/test_<provider>.py.
"""

from __future__ import annotations

import time

import pytest

from slotgraph.providers.base import Access
from slotgraph.providers.base import CursorExpired
from slotgraph.providers.base import Interval
from slotgraph.providers.base import RateLimited
from slotgraph.providers.base import TransientError
from slotgraph.providers.retry import FAST
from tests.fakes.scenario import EXPECTED_BUSY
from tests.fakes.scenario import TIME_ZONE
from tests.fakes.scenario import WINDOW_END
from tests.fakes.scenario import WINDOW_START
from tests.fakes.scenario import ScriptedEvent
from tests.fakes.scenario import utc
from tests.helpers.events import as_pairs
from tests.helpers.events import busy_of
from tests.helpers.events import changes_since
from tests.helpers.events import draft
from tests.helpers.events import full_listing
from tests.helpers.harnesses import Harness

TIMEOUT = 2.0
SHORT_TIMEOUT = 0.3  # shorter than a hung answer takes


async def test_free_busy_of_the_scenario_is_exactly_the_expected_busy_time(
    harness: Harness,
) -> None:
    client = harness.client(timeout=TIMEOUT)
    result = await client.free_busy([harness.calendar_id], WINDOW_START, WINDOW_END)
    assert result.errors == {}
    assert as_pairs(result.busy[harness.calendar_id]) == list(EXPECTED_BUSY)
    assert harness.calls("free_busy") == 1


async def test_a_create_retried_after_a_lost_answer_lands_once(harness: Harness) -> None:
    client = harness.client(timeout=SHORT_TIMEOUT)
    # The provider stores the event, but its answer comes after the client gave up.
    harness.hang(operation="create_event", times=1, seconds=1.0)

    event_id = await client.create_event(harness.calendar_id, draft("booking-1"))

    assert await client.create_event(harness.calendar_id, draft("booking-1")) == event_id
    day = await client.list_changes(
        harness.calendar_id,
        None,
        Interval(utc(12, 0), utc(13, 0)),
    )
    assert [(e.remote_id, e.title, e.start, e.end) for e in day.changed] == [
        (event_id, "Intro call", utc(12, 15), utc(12, 15, 30))
    ]


async def test_a_create_never_adopts_an_event_that_does_not_carry_its_key(
    harness: Harness,
) -> None:
    client = harness.client(timeout=TIMEOUT)
    # Where the key look-up searches sits the host's own meeting, and the look-up ignores
    # its filter: adopting what it answers would attach the booking to that meeting.
    foreign = harness.squat("booking-2")

    event_id = await client.create_event(harness.calendar_id, draft("booking-2"))

    assert event_id != foreign
    assert await client.create_event(harness.calendar_id, draft("booking-2")) == event_id
    day = await client.list_changes(harness.calendar_id, None, Interval(utc(12, 0), utc(14, 0)))
    assert sorted((e.remote_id == event_id, e.title) for e in day.changed) == [
        (False, "Host's own meeting"),
        (True, "Intro call"),
    ]


async def test_creating_the_tasks_calendar_twice_yields_one(harness: Harness) -> None:
    client = harness.client(timeout=TIMEOUT)
    created = await client.create_calendar("Slotgraph tasks")
    again = await client.create_calendar("Slotgraph tasks")

    assert again.remote_id == created.remote_id
    assert (created.access, created.is_primary, created.time_zone) == (
        Access.OWNER,
        False,
        TIME_ZONE,
    )
    names = [c.name for c in await client.list_calendars()]
    assert names.count("Slotgraph tasks") == 1


async def test_a_full_listing_yields_the_scenario_busy_time(harness: Harness) -> None:
    pages, events = await full_listing(harness.client(timeout=TIMEOUT), harness.calendar_id)

    assert pages[-1].next_cursor is not None
    assert busy_of(events) == list(EXPECTED_BUSY)
    private = next(e for e in events if e.remote_id == harness.event_id("private"))
    assert (private.is_private, private.title) == (True, None)


async def test_an_incremental_listing_reports_only_what_changed(harness: Harness) -> None:
    client = harness.client(timeout=TIMEOUT)
    pages, _ = await full_listing(client, harness.calendar_id)
    new = harness.seed(ScriptedEvent("new", "New meeting", utc(9, 15), utc(9, 16)))
    standup, invite, maybe = (harness.event_id(name) for name in ("standup", "invite", "maybe"))
    harness.move_event(standup, utc(4, 15), utc(4, 15, 30))
    harness.remove_event(invite)
    harness.move_event(maybe, utc(28, 15), utc(28, 16))  # out of the window

    changes = await changes_since(client, harness.calendar_id, pages[-1].next_cursor)

    assert sorted(e.remote_id for e in changes.changed) == sorted([new, standup])
    moved = next(e for e in changes.changed if e.remote_id == standup)
    assert (moved.start, moved.end) == (utc(4, 15), utc(4, 15, 30))
    # Deleted, or moved out of the window: nothing to keep for either.
    assert sorted(changes.removed) == sorted([invite, maybe])
    assert changes.next_cursor is not None

    quiet = await changes_since(client, harness.calendar_id, changes.next_cursor)
    assert (quiet.changed, quiet.removed) == ((), ())


async def test_an_item_the_adapter_cannot_read_is_skipped_and_reported_not_fatal(
    harness: Harness,
) -> None:
    client = harness.client(timeout=TIMEOUT)
    broken = harness.seed_unreadable(ScriptedEvent("broken", "Broken", utc(9, 15), utc(9, 16)))

    pages, events = await full_listing(client, harness.calendar_id)

    assert busy_of(events) == list(EXPECTED_BUSY)
    assert [skipped for page in pages for skipped in page.skipped] == [broken]
    later = harness.seed_unreadable(ScriptedEvent("later", "Later", utc(9, 17), utc(9, 18)))
    changes = await changes_since(client, harness.calendar_id, pages[-1].next_cursor)
    assert later in changes.skipped
    assert changes.next_cursor is not None


async def test_an_expired_cursor_is_cursor_expired(harness: Harness) -> None:
    client = harness.client(timeout=TIMEOUT)
    pages, _ = await full_listing(client, harness.calendar_id)
    harness.expire_cursors()
    with pytest.raises(CursorExpired):
        await changes_since(client, harness.calendar_id, pages[-1].next_cursor)


async def test_retry_after_is_honoured_then_the_call_succeeds(harness: Harness) -> None:
    client = harness.client(timeout=TIMEOUT)
    harness.fail_next(429, operation="free_busy", retry_after=1)
    started = time.monotonic()

    result = await client.free_busy([harness.calendar_id], WINDOW_START, WINDOW_END)

    assert time.monotonic() - started >= 1.0
    assert as_pairs(result.busy[harness.calendar_id]) == list(EXPECTED_BUSY)
    assert harness.calls("free_busy") == 2


async def test_a_retry_after_longer_than_the_policy_waits_fails_at_once(
    harness: Harness,
) -> None:
    client = harness.client(timeout=TIMEOUT)
    harness.fail_next(429, operation="list_calendars", times=None, retry_after=120)
    started = time.monotonic()

    with pytest.raises(RateLimited) as limited:
        await client.list_calendars()

    assert limited.value.retry_after == pytest.approx(120)
    assert time.monotonic() - started < 1
    assert harness.calls("list_calendars") == 1


async def test_a_persistent_5xx_is_a_transient_error_after_bounded_attempts(
    harness: Harness,
) -> None:
    client = harness.client(timeout=TIMEOUT)
    harness.fail_next(503, operation="list_calendars", times=None)

    with pytest.raises(TransientError) as failed:
        await client.list_calendars()

    assert not isinstance(failed.value, RateLimited)
    assert harness.calls("list_calendars") == FAST.attempts
    harness.reset()
    assert (await client.list_calendars())[0].is_primary  # and the provider is back


async def test_a_server_that_never_answers_is_a_transient_error_not_a_hang(
    harness: Harness,
) -> None:
    client = harness.client(timeout=SHORT_TIMEOUT)
    harness.hang(operation="list_calendars", seconds=1.0)
    started = time.monotonic()

    with pytest.raises(TransientError) as failed:
        await client.list_calendars()

    assert not isinstance(failed.value, RateLimited)
    # Each attempt ends at the configured timeout, not when the server answers.
    budget = FAST.attempts * (SHORT_TIMEOUT + FAST.max_backoff)
    assert time.monotonic() - started < min(budget, FAST.max_seconds) + 0.5
    assert harness.calls("list_calendars") == FAST.attempts
