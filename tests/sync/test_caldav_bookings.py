"""Bookings on a CalDAV calendar end to end (C28, C14, S8, C44): a host connects a real
Radicale through `connectCalDavCalendar`; the page hides the times the server's events
cover (read live over CalDAV); `bookMeeting`, the host's `rescheduleBooking` and the
contact's `cancelBookingAsContact` each change the server's calendar exactly once, through
an outbox delivery with the real adapter (counted by the radicale_proxy in front of Radicale), also
when a delivery is run again after its write landed but before it was recorded (a worker
killed mid-write)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from slotgraph.calsync.context import Outcome
from slotgraph.calsync.context import SyncConfig
from slotgraph.calsync.context import SyncContext
from slotgraph.calsync.engine import sync_connection
from slotgraph.models import Booking
from slotgraph.models import CalendarConnection
from slotgraph.models import OutboxMessage
from slotgraph.models.enums import CalendarWriteState
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.outbox import OutboxKind
from slotgraph.models.outbox import OutboxState
from tests.fakes.scenario import ScriptedEvent
from tests.helpers.accounts import Factory
from tests.helpers.bookings import CANCEL_AS_CONTACT
from tests.helpers.bookings import RESCHEDULE
from tests.helpers.bookings import book
from tests.helpers.bookings import book_with_token
from tests.helpers.bookings import rows
from tests.helpers.bookings import run
from tests.helpers.caldav import CalendarApp
from tests.helpers.caldav import fresh_account
from tests.helpers.caldav_hosts import booking_events
from tests.helpers.caldav_hosts import caldav_host
from tests.helpers.caldav_servers import DavProxy
from tests.helpers.caldav_servers import Server
from tests.helpers.graphql import GraphQLClient
from tests.helpers.jobs import make_outbox
from tests.helpers.pages import SLOTS
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday

CONTACT = "cleo@example.test"


def nine() -> dt.datetime:
    return dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)


@pytest.fixture
def calendar(radicale_server: Server) -> Iterator[tuple[int, CalendarApp]]:
    with fresh_account(radicale_server) as account:
        yield account


def writes(radicale_proxy: DavProxy) -> list[tuple[str, int]]:
    """The adapter's writes so far (method, status), and forget them."""
    found = [
        (e.method, e.status) for e in radicale_proxy.exchanges if e.method in ("PUT", "DELETE")
    ]
    radicale_proxy.exchanges.clear()
    return found


async def deliver(
    app: Starlette, sessionmaker: async_sessionmaker[AsyncSession]
) -> list[OutboxKind]:
    """Deliver every pending calendar row once, oldest first; their kinds."""
    outbox = make_outbox(app)
    _, messages = await rows(sessionmaker)
    delivered: list[OutboxKind] = []
    for message in messages:
        if message.state is OutboxState.PENDING and message.kind is not OutboxKind.EMAIL:
            assert (await outbox.deliver(message.id)).state is OutboxState.DONE
            delivered.append(message.kind)
    return delivered


async def test_booking_reschedule_and_cancel_change_the_caldav_calendar_once_each(
    gql: GraphQLClient,
    factory: Factory,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
    radicale_server: Server,
    radicale_proxy: DavProxy,
    calendar: tuple[int, CalendarApp],
) -> None:
    n, server_calendar = calendar
    ten = nine() + dt.timedelta(hours=1)
    server_calendar.add(ScriptedEvent("review", "Review", ten, ten + dt.timedelta(hours=1)))
    ada = await caldav_host(gql, factory, radicale_server, radicale_proxy, n)
    slug = await make_page(
        gql, ada, weeklyHours=[{"weekday": "MONDAY", "start": "09:00", "end": "12:00"}]
    )

    # S8: the server's 10:00-11:00 event hides every slot overlapping it, read live.
    slots = await gql(
        SLOTS,
        {
            "slug": slug,
            "start": nine().isoformat(),
            "end": (nine() + dt.timedelta(hours=3)).isoformat(),
            "tz": "UTC",
            "d": 30,
        },
    )
    days = slots["data"]["availableSlots"]["days"]
    starts = [s["start"] for day in days for s in day["slots"]]
    assert [dt.datetime.fromisoformat(s).time() for s in starts] == [
        dt.time(9),
        dt.time(9, 15),
        dt.time(9, 30),
        dt.time(11),
        dt.time(11, 15),
        dt.time(11, 30),
    ]
    refused = await book(gql, slug, ten)
    assert refused["__typename"] == "SlotUnavailable", refused

    booked = await book_with_token(
        gql, slug, nine(), contact={"name": "Cleo Contact", "email": CONTACT}
    )
    assert booked["booking"]["status"] == "CONFIRMED", booked
    booking_id, manage_token = booked["booking"]["id"], booked["manageToken"]
    writes(radicale_proxy)
    assert await deliver(app, sessionmaker) == [OutboxKind.CALENDAR_CREATE]
    assert writes(radicale_proxy) == [("PUT", 201)]
    ((title, start, end, attendees),) = booking_events(server_calendar)
    assert (start, end, attendees) == (nine(), nine() + dt.timedelta(minutes=30), [CONTACT])

    # The worker died after the PUT landed, before it recorded the delivery: run again.
    async with sessionmaker.begin() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.kind == OutboxKind.CALENDAR_CREATE)
            .values(state=OutboxState.PENDING, available_at=func.now(), done_at=None)
        )
        await session.execute(
            update(Booking).values(
                remote_event_id=None, calendar_write_state=CalendarWriteState.PENDING
            )
        )
    assert await deliver(app, sessionmaker) == [OutboxKind.CALENDAR_CREATE]
    assert writes(radicale_proxy) == [("PUT", 412)]  # found, not doubled
    assert len(booking_events(server_calendar)) == 1

    quarter = nine() + dt.timedelta(minutes=15)
    moved = await run(gql, RESCHEDULE, ada.token, bookingId=booking_id, start=quarter.isoformat())
    assert moved["__typename"] == "RescheduleBookingSuccess", moved
    writes(radicale_proxy)
    assert await deliver(app, sessionmaker) == [OutboxKind.CALENDAR_UPDATE]
    assert writes(radicale_proxy) == [("PUT", 204)]
    assert [(s, e) for _, s, e, _ in booking_events(server_calendar)] == [
        (quarter, quarter + dt.timedelta(minutes=30))
    ]

    cancelled = await run(gql, CANCEL_AS_CONTACT, manageToken=manage_token)
    assert cancelled["booking"]["status"] == "CANCELLED", cancelled
    writes(radicale_proxy)
    assert await deliver(app, sessionmaker) == [OutboxKind.CALENDAR_DELETE]
    assert writes(radicale_proxy) == [("DELETE", 200)]
    assert booking_events(server_calendar) == []
    assert title  # the booking's event had its title


async def test_a_refused_password_is_access_lost_then_reprobed_and_restored(
    gql: GraphQLClient,
    factory: Factory,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
    radicale_server: Server,
    radicale_proxy: DavProxy,
    calendar: tuple[int, CalendarApp],
) -> None:
    n, _ = calendar
    await caldav_host(gql, factory, radicale_server, radicale_proxy, n)
    async with sessionmaker() as session:
        (connection,) = (await session.execute(select(CalendarConnection))).scalars()
    ctx = SyncContext(
        sessionmaker=sessionmaker,
        clients=app.state.runtime.services.connection_clients,
        config=SyncConfig(initial_backoff=dt.timedelta(seconds=30)),
    )
    # The server refuses the stored app password (revoked, or the server misconfigured).
    radicale_proxy.fail_next(401, operation="propfind", times=None, retry_after=None)

    assert await sync_connection(ctx, connection.id) is Outcome.ACCESS_LOST
    async with sessionmaker() as session:
        lost = await session.get_one(CalendarConnection, connection.id)
    assert lost.status is ConnectionStatus.ACCESS_LOST
    assert lost.next_sync_at is not None  # C44: probed again, with backoff
    assert lost.next_sync_at > dt.datetime.now(dt.UTC)

    radicale_proxy.clear_faults()  # the same password works again
    assert await sync_connection(ctx, connection.id) is Outcome.SYNCED
    async with sessionmaker() as session:
        back = await session.get_one(CalendarConnection, connection.id)
    assert (back.status, back.last_error) == (ConnectionStatus.CONNECTED, None)  # C27
