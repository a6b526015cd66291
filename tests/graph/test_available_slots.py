"""availableSlots (S7, S8, S12, S13, S17): the engine fed with the host's bookings and the
calendars read live through the real adapters."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy import update
from starlette.applications import Starlette

from slotgraph.models import AvailabilityCalendar
from slotgraph.models import Booking
from slotgraph.models import CalendarConnection
from slotgraph.models import Contact
from slotgraph.models import RemoteCalendar
from slotgraph.models.enums import BookingStatus
from slotgraph.models.enums import CalendarStatus
from slotgraph.models.enums import ConnectionStatus
from tests.fakes.exchange import FakeExchange
from tests.fakes.scenario import utc
from tests.helpers.accounts import Factory
from tests.helpers.connections import connect_exchange
from tests.helpers.connections import exchange_host
from tests.helpers.graphql import GraphQLClient
from tests.helpers.pages import SLOTS
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday
from tests.helpers.pages import scenario_busy_hidden
from tests.helpers.pages import scenario_week_slots


def tokyo(day: dt.date, hhmm: str) -> dt.datetime:
    """`hhmm` UTC on `day`, as Tokyo's clock reads it."""
    return dt.datetime.fromisoformat(f"{day.isoformat()}T{hhmm}:00+00:00").astimezone(
        ZoneInfo("Asia/Tokyo")
    )


def monday_window(slug: str) -> dict[str, str]:
    """availableSlots' variables for the whole of next Monday, in UTC."""
    start = dt.datetime.combine(next_monday(), dt.time(), dt.UTC)
    return {
        "slug": slug,
        "start": start.isoformat(),
        "end": (start + dt.timedelta(days=1)).isoformat(),
        "tz": "UTC",
    }


async def test_offline_page_offers_working_hours_minus_bookings(
    gql: GraphQLClient, factory: Factory
) -> None:
    ada = await factory.person(url_prefix="ada")
    slug = await make_page(
        gql, ada, weeklyHours=[{"weekday": "MONDAY", "start": "09:00", "end": "11:00"}]
    )
    monday = next_monday()
    nine = dt.datetime.combine(monday, dt.time(9), dt.UTC)
    contact = Contact(account_id=ada.account.id, email="c@example.test", name="C")
    await factory.add(contact)
    await factory.add(
        Booking(
            account_id=ada.account.id,
            host_user_id=ada.user.id,
            contact_id=contact.id,
            title="Booked",
            starts_at=nine + dt.timedelta(minutes=30),
            ends_at=nine + dt.timedelta(minutes=60),
            time_zone="UTC",
            status=BookingStatus.CONFIRMED,
            answers={},
        )
    )
    result = await gql(
        SLOTS,
        {
            "slug": slug,
            "start": nine.isoformat(),
            "end": (nine + dt.timedelta(days=1)).isoformat(),
            "tz": "Asia/Tokyo",
        },
    )
    starts = ["09:00", "10:00", "10:15", "10:30"]  # 09:15 and 09:30..09:45 overlap the booking
    assert result == {
        "data": {
            "availableSlots": {
                "__typename": "AvailableSlots",
                "duration": 30,
                "timeZone": "Asia/Tokyo",
                "offline": True,
                "days": [
                    {
                        "date": monday.isoformat(),
                        # C31: written with the asked zone's offset (UTC+9), same instants.
                        "slots": [
                            {
                                "start": (at := tokyo(monday, hhmm)).isoformat(),
                                "end": (at + dt.timedelta(minutes=30)).isoformat(),
                            }
                            for hhmm in starts
                        ],
                    }
                ],
            }
        }
    }


async def test_bad_inputs_and_turned_off_pages_answer_typed_errors(
    gql: GraphQLClient, factory: Factory
) -> None:
    ada = await factory.person(url_prefix="ada")
    slug = await make_page(gql, ada)
    start = dt.datetime.combine(next_monday(), dt.time(), dt.UTC)
    window = monday_window(slug)
    wrong_duration = await gql(SLOTS, {**window, "d": 45})
    assert wrong_duration["data"]["availableSlots"]["field"] == "duration"
    wrong_zone = await gql(SLOTS, {**window, "tz": "Mars/Base"})
    assert wrong_zone["data"]["availableSlots"]["field"] == "timeZone"
    too_long = await gql(SLOTS, {**window, "end": (start + dt.timedelta(days=90)).isoformat()})
    assert too_long["data"]["availableSlots"]["field"] == "end"
    await gql(
        "mutation { updateCalendarSettings(input: {schedulingPagesEnabled: false}) "
        "{ __typename } }",
        token=ada.token,
    )
    off = await gql(SLOTS, window)
    assert off["data"]["availableSlots"]["reason"] == "PAGES_TURNED_OFF"


async def test_exchange_calendar_busy_time_hides_slots(
    gql: GraphQLClient, factory: Factory, exchange: FakeExchange, app: Starlette
) -> None:
    ada = await factory.person(url_prefix="ada")
    await connect_exchange(gql, ada, exchange)
    slug = await make_page(gql, ada, timeZone="America/New_York", bookingWindowDays=30)
    services = app.state.runtime.services
    starts = scenario_busy_hidden(await scenario_week_slots(services, slug))
    assert utc(5, 16) not in starts  # the 1:1
    assert not any(utc(6, 5) <= s < utc(7, 5) for s in starts)  # all-day offsite


async def test_lost_access_makes_the_page_unavailable(
    gql: GraphQLClient, factory: Factory, sessionmaker: Any
) -> None:
    ada = await factory.person(url_prefix="ada")
    slug = await make_page(gql, ada)
    connection, _ = await factory.connection(ada)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(CalendarConnection)
            .where(CalendarConnection.id == connection.id)
            .values(status=ConnectionStatus.ACCESS_LOST)
        )
    start = dt.datetime.combine(next_monday(), dt.time(), dt.UTC)
    result = await gql(
        SLOTS,
        {
            "slug": slug,
            "start": start.isoformat(),
            "end": (start + dt.timedelta(days=1)).isoformat(),
            "tz": "UTC",
        },
    )
    assert result["data"]["availableSlots"]["reason"] == "HOST_ACCESS_LOST"


async def test_a_lost_calendar_that_answers_again_takes_bookings_again(
    gql: GraphQLClient, factory: Factory, exchange: FakeExchange, sessionmaker: Any
) -> None:
    # C27: access lost because of a provider answer ends with the first read that succeeds.
    ada = await exchange_host(gql, factory, exchange)
    slug = await make_page(gql, ada, timeZone="America/New_York", bookingWindowDays=30)
    async with sessionmaker.begin() as session:
        offsite = (
            await session.execute(
                select(RemoteCalendar).where(RemoteCalendar.remote_id == "AAMkFolder-team-offsite")
            )
        ).scalar_one()
        session.add(
            AvailabilityCalendar(
                account_id=ada.account.id, user_id=ada.user.id, remote_calendar_id=offsite.id
            )
        )
    folder = exchange.folders[offsite.remote_id]
    window = monday_window(slug)
    exchange.remove_calendar(offsite.remote_id)  # unshared at the provider (C2)
    lost = await gql(SLOTS, window)
    assert lost["data"]["availableSlots"]["reason"] == "HOST_ACCESS_LOST"
    again = await gql(SLOTS, window)
    assert again["data"]["availableSlots"]["reason"] == "HOST_ACCESS_LOST"

    exchange.folders[offsite.remote_id] = folder  # shared again
    back = await gql(SLOTS, window)

    assert back["data"]["availableSlots"]["__typename"] == "AvailableSlots"
    async with sessionmaker() as session:
        row = await session.get(RemoteCalendar, offsite.id)
    assert row is not None
    assert row.status is CalendarStatus.CONNECTED
