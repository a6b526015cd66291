"""Provider-neutral helpers for adapter tests: the booking draft they write, busy time as
plain pairs, and a full listing followed to its last page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from slotgraph.providers.base import Attendee
from slotgraph.providers.base import CalendarClient
from slotgraph.providers.base import ChangeSet
from slotgraph.providers.base import EventDraft
from slotgraph.providers.base import Interval
from slotgraph.providers.base import RemoteEvent
from slotgraph.providers.busy import busy_interval
from tests.fakes.scenario import TIME_ZONE
from tests.fakes.scenario import WINDOW_END
from tests.fakes.scenario import WINDOW_START
from tests.fakes.scenario import merged
from tests.fakes.scenario import utc

Pairs = list[tuple[dt.datetime, dt.datetime]]


def draft(key: str | None = "booking-1", **changes: object) -> EventDraft:
    """The booking every adapter test writes: 2030-03-12 15:00-15:30 UTC with one contact."""
    values: dict[str, object] = {
        "title": "Intro call",
        "start": utc(12, 15),
        "end": utc(12, 15, 30),
        "time_zone": TIME_ZONE,
        "attendees": (Attendee("contact@client.test", "A Contact"),),
        "description": "Booked on Slotgraph",
        "location": "Phone",
        "idempotency_key": key,
    }
    values.update(changes)
    return EventDraft(**values)  # type: ignore[arg-type]


def as_pairs(spans: tuple[Interval, ...]) -> Pairs:
    """Intervals as (start, end) pairs, as the scenario writes its expectations."""
    return [(span.start, span.end) for span in spans]


def busy_of(events: Sequence[RemoteEvent]) -> Pairs:
    """The C4 busy time of synced events, through the same rules the sync engine uses."""
    spans = [busy_interval(event, TIME_ZONE) for event in events]
    return merged([(span.start, span.end) for span in spans if span is not None])


async def full_listing(
    client: CalendarClient, calendar_id: str
) -> tuple[list[ChangeSet], list[RemoteEvent]]:
    """Every page of a full listing of the scenario window (the last carries the cursor),
    and the events of all pages."""
    pages = [await client.list_changes(calendar_id, None, Interval(WINDOW_START, WINDOW_END))]
    while pages[-1].next_page is not None:
        assert pages[-1].next_cursor is None  # the cursor comes with the last page only
        pages.append(
            await client.list_changes(
                calendar_id,
                None,
                Interval(WINDOW_START, WINDOW_END),
                page=pages[-1].next_page,
            )
        )
    return pages, [event for page in pages for event in page.changed]


async def changes_since(client: CalendarClient, calendar_id: str, cursor: str | None) -> ChangeSet:
    """One incremental listing of the scenario window."""
    return await client.list_changes(calendar_id, cursor, Interval(WINDOW_START, WINDOW_END))
