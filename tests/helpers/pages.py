"""Scheduling pages for tests: one made through GraphQL, the slots query, and the scenario week's
slots with the check that none overlaps the scenario's busy time."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from slotgraph.usecases.availability import PageSlots
from slotgraph.usecases.availability import available_slots
from slotgraph.usecases.services import Services
from tests.fakes.scenario import EXPECTED_BUSY
from tests.fakes.scenario import utc
from tests.helpers.accounts import Person
from tests.helpers.graphql import GraphQLClient

SLOTS = """
query Slots($slug: String!, $start: DateTime!, $end: DateTime!, $tz: String!, $d: Int) {
  availableSlots(pageSlug: $slug, start: $start, end: $end, timeZone: $tz, duration: $d) {
    __typename
    ... on AvailableSlots { duration timeZone offline days { date slots { start end } } }
    ... on Error { message field code }
    ... on PageUnavailable { reason }
  }
}
"""


CREATE = """
mutation($input: CreateSchedulingPageInput!) { createSchedulingPage(input: $input) {
  ... on CreateSchedulingPageSuccess { page { slug } } ... on Error { message } } }
"""


def next_monday() -> dt.date:
    """The Monday after today (UTC): a date every page with Monday hours can book."""
    today = dt.datetime.now(dt.UTC).date()
    return today + dt.timedelta(days=7 - today.weekday())


async def make_page(gql: GraphQLClient, person: Person, **fields: Any) -> str:
    """A scheduling page of `person`'s (30 or 60 minutes, a year ahead, UTC, plus `fields`);
    its slug."""
    payload = {
        "title": "Intro",
        "durations": [30, 60],
        "bookingWindowDays": 365,
        "timeZone": "UTC",
        **fields,
    }
    result = await gql(CREATE, {"input": payload}, token=person.token)
    return str(result["data"]["createSchedulingPage"]["page"]["slug"])


SCENARIO_NOW = dt.datetime(2030, 3, 1, tzinfo=dt.UTC)


async def scenario_week_slots(services: Services, slug: str) -> PageSlots:
    """The page's 30-minute slots over the scenario week, asked before it (C17)."""
    return await available_slots(
        dataclasses.replace(services, clock=lambda: SCENARIO_NOW),
        slug=slug,
        domain=None,
        start=utc(4, 0),
        end=utc(9, 0),
        duration=30,
    )


def scenario_busy_hidden(found: PageSlots) -> set[dt.datetime]:
    """Assert that a connected page offers no slot overlapping the scenario's busy time
    (whichever provider served it); the slot starts."""
    assert found.offline is False
    assert found.slots, "the scenario week has free time"
    for slot in found.slots:
        for busy_start, busy_end in EXPECTED_BUSY:
            assert not (slot.start < busy_end and busy_start < slot.end), slot
    starts = {slot.start for slot in found.slots}
    assert utc(5, 15, 30) in starts  # ends as the 1:1 at 16:00Z begins
    return starts
