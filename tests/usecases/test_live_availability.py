"""The live availability use case under `availabilityChanged`: subscribers of one page and
window in a process share one computation per notice, and a subscriber that falls behind
skips to the newest slots instead of replaying every change."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncGenerator

from starlette.applications import Starlette

from slotgraph.usecases.errors import DomainError
from slotgraph.usecases.services import Services
from slotgraph.usecases.subscriptions import AvailabilityEvent
from slotgraph.usecases.subscriptions import AvailabilityRequest
from slotgraph.usecases.subscriptions import watch_availability
from tests.helpers.accounts import Factory
from tests.helpers.bookings import book
from tests.helpers.graphql import GraphQLClient
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday

GUARD = 10  # seconds; a guard against hanging, never a measurement


def at(monday: dt.date, hhmm: str) -> dt.datetime:
    return dt.datetime.combine(monday, dt.time.fromisoformat(hhmm), dt.UTC)


async def next_event(
    stream: AsyncGenerator[AvailabilityEvent | DomainError, None],
) -> AvailabilityEvent:
    event = await asyncio.wait_for(anext(stream), GUARD)
    assert isinstance(event, AvailabilityEvent), event
    return event


def starts(event: AvailabilityEvent) -> list[tuple[dt.date, list[str]]]:
    return [(day, [s.start.strftime("%H:%M") for s in slots]) for day, slots in event.days]


async def test_subscribers_of_one_window_share_a_feed_and_a_laggard_gets_the_newest_slots(
    app: Starlette, gql: GraphQLClient, factory: Factory
) -> None:
    services: Services = app.state.runtime.services
    ada = await factory.person(url_prefix="ada")
    slug = await make_page(
        gql,
        ada,
        durations=[30],
        weeklyHours=[{"weekday": "MONDAY", "start": "10:00", "end": "11:30"}],
    )
    monday = next_monday()
    request = AvailabilityRequest(
        slug=slug,
        domain=None,
        start=at(monday, "00:00"),
        end=at(monday, "23:59"),
        duration=None,
        time_zone="UTC",
    )
    keen = watch_availability(services, request)
    laggard = watch_availability(services, request)
    everyone = ["10:00", "10:15", "10:30", "10:45", "11:00"]
    assert starts(await next_event(keen)) == [(monday, everyone)]
    assert starts(await next_event(laggard)) == [(monday, everyone)]
    assert services.feeds.feed_count == 1

    assert (await book(gql, slug, at(monday, "10:00")))["__typename"] == "BookMeetingSuccess"
    first = await next_event(keen)
    assert (first.snapshot, starts(first)) == (False, [(monday, ["10:30", "10:45", "11:00"])])
    assert (await book(gql, slug, at(monday, "11:00")))["__typename"] == "BookMeetingSuccess"
    second = await next_event(keen)
    assert starts(second) == [(monday, ["10:30"])]

    # The laggard read nothing meanwhile: one event, straight to the newest state.
    caught_up = await next_event(laggard)
    assert starts(caught_up) == [(monday, ["10:30"])]

    await keen.aclose()
    await laggard.aclose()
    assert services.feeds.feed_count == 0
