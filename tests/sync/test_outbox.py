"""The outbox (C14, S12, S13): bookings written to the host's default calendar through the
real Exchange adapter against the EWS fake, exactly once however often delivered; failures
visible on the booking through GraphQL, retried, and FAILED after bounded attempts; the
lost-access email delivered by a worker to a real SMTP server on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from slotgraph.jobs.deliveries.booking_events import event_key
from slotgraph.jobs.outbox import DELIVER
from slotgraph.jobs.outbox import Outcome
from slotgraph.jobs.outbox import job_key
from slotgraph.jobs.queue import JobQueue
from slotgraph.models import Booking
from slotgraph.models import CalendarConnection
from slotgraph.models import OutboxMessage
from slotgraph.models.enums import CalendarWriteState
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.outbox import OutboxKind
from slotgraph.models.outbox import OutboxState
from tests.fakes.exchange import FakeExchange
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.bookings import book
from tests.helpers.bookings import book_slots
from tests.helpers.bookings import host_bookings
from tests.helpers.bookings import rows
from tests.helpers.connections import exchange_host
from tests.helpers.graphql import GraphQLClient
from tests.helpers.jobs import eventually
from tests.helpers.jobs import make_due
from tests.helpers.jobs import make_outbox
from tests.helpers.jobs import working
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday
from tests.helpers.smtp import Inbox
from tests.helpers.smtp import smtp_server

BUSY_FOR_TWO_MINUTES = 120_000  # ms: longer than the adapter waits, so the outbox retries
BUSY_MESSAGE = "Exchange is busy and asked to slow down."


@dataclass
class Booked:
    """A confirmed booking of an Exchange host, its outbox row not yet delivered."""

    host: Person
    message: OutboxMessage


@pytest.fixture
async def booked(
    gql: GraphQLClient,
    factory: Factory,
    exchange: FakeExchange,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> Booked:
    ada = await exchange_host(gql, factory, exchange)
    await book_slots(gql, ada)
    _, (message,) = await rows(sessionmaker)
    return Booked(ada, message)


async def test_booking_is_written_once_even_when_delivered_twice_at_once(
    gql: GraphQLClient,
    booked: Booked,
    exchange: FakeExchange,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ada, message = booked.host, booked.message
    (booking,), _ = await rows(sessionmaker)
    assert (message.kind, message.state) == (OutboxKind.CALENDAR_CREATE, OutboxState.PENDING)
    async with sessionmaker() as session:  # enqueued in the booking's own transaction
        jobs = (await session.execute(text("SELECT entrypoint, dedupe_key FROM pgqueuer"))).all()
    # The calendar write's job, and the confirmation email's (C21) right after it.
    assert [tuple(job) for job in jobs] == [
        (DELIVER, job_key(message.id)),
        (DELIVER, job_key(message.id + 1)),
    ]
    assert await host_bookings(gql, ada) == [
        {
            "title": "Intro: Cleo Contact",
            "status": "CONFIRMED",
            "calendarWriteState": "PENDING",
            "calendarWriteError": None,
        }
    ]

    outbox = make_outbox(app)
    first, second = await asyncio.gather(outbox.deliver(message.id), outbox.deliver(message.id))

    assert sorted([first.state, second.state]) == [OutboxState.DONE, OutboxState.PENDING]
    (item,) = exchange.items_with_key(event_key(booking))
    assert (item.folder_id, item.subject, item.attendees) == (
        exchange.calendar.id,  # the default calendar only (C3, S12)
        "Intro: Cleo Contact",
        ["Cleo@Example.test"],
    )
    (written,), (done,) = await rows(sessionmaker)
    assert (written.remote_event_id, written.calendar_write_state) == (
        item.id,
        CalendarWriteState.WRITTEN,
    )
    assert (done.state, done.attempts) == (OutboxState.DONE, 1)
    assert (await host_bookings(gql, ada))[0]["calendarWriteState"] == "WRITTEN"

    # A worker that wrote the event but died before recording it: the retry finds the event.
    async with sessionmaker.begin() as session:
        await session.execute(
            update(OutboxMessage).values(state=OutboxState.PENDING, available_at=text("now()"))
        )
        await session.execute(update(Booking).values(remote_event_id=None))
    assert await outbox.deliver(message.id) == Outcome(OutboxState.DONE)
    assert [i.id for i in exchange.items_with_key(event_key(booking))] == [item.id]
    (again,), _ = await rows(sessionmaker)
    assert again.remote_event_id == item.id


async def test_provider_failure_shows_on_the_booking_and_is_retried_after_retry_after(
    gql: GraphQLClient,
    booked: Booked,
    exchange: FakeExchange,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ada, message = booked.host, booked.message
    exchange.fail("busy", operation="CreateItem", back_off_ms=BUSY_FOR_TWO_MINUTES, times=1)
    outbox = make_outbox(app)

    failed = await outbox.deliver(message.id)

    assert (failed.state, failed.error) == (OutboxState.PENDING, BUSY_MESSAGE)
    assert failed.retry_in == 120.0  # the server's back-off, longer than our own
    assert await host_bookings(gql, ada) == [
        {
            "title": "Intro: Cleo Contact",
            "status": "CONFIRMED",
            "calendarWriteState": "PENDING",
            "calendarWriteError": BUSY_MESSAGE,
        }
    ]
    not_yet = await outbox.deliver(message.id)  # too early: nothing is sent
    assert (not_yet.state, not_yet.retry_in is not None and not_yet.retry_in > 100) == (
        OutboxState.PENDING,
        True,
    )
    assert len(exchange.operations("CreateItem", status=None)) == 1

    await make_due(sessionmaker)
    assert await outbox.deliver(message.id) == Outcome(OutboxState.DONE)
    assert (await host_bookings(gql, ada))[0] == {
        "title": "Intro: Cleo Contact",
        "status": "CONFIRMED",
        "calendarWriteState": "WRITTEN",
        "calendarWriteError": None,
    }
    _, (done,) = await rows(sessionmaker)
    assert (done.state, done.attempts, done.last_error) == (OutboxState.DONE, 2, None)


async def test_bounded_retries_end_in_failed_visible_through_graphql(
    gql: GraphQLClient,
    booked: Booked,
    exchange: FakeExchange,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ada, message = booked.host, booked.message
    exchange.fail("busy", operation="CreateItem", back_off_ms=BUSY_FOR_TWO_MINUTES, times=None)
    outbox = make_outbox(app, max_attempts=2)

    assert (await outbox.deliver(message.id)).state is OutboxState.PENDING
    await make_due(sessionmaker)
    assert await outbox.deliver(message.id) == Outcome(OutboxState.FAILED, error=BUSY_MESSAGE)
    await make_due(sessionmaker)
    assert await outbox.deliver(message.id) == Outcome(OutboxState.FAILED, error=BUSY_MESSAGE)

    assert len(exchange.operations("CreateItem", status=None)) == 2
    assert await host_bookings(gql, ada) == [
        {
            "title": "Intro: Cleo Contact",
            "status": "CONFIRMED",  # the booking stands (C14); its calendar write failed
            "calendarWriteState": "FAILED",
            "calendarWriteError": BUSY_MESSAGE,
        }
    ]
    _, (parked,) = await rows(sessionmaker)
    assert (parked.state, parked.attempts, parked.last_error) == (
        OutboxState.FAILED,
        2,
        BUSY_MESSAGE,
    )


async def test_refused_password_marks_the_connection_lost_and_keeps_the_write(
    gql: GraphQLClient,
    booked: Booked,
    exchange: FakeExchange,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ada, message = booked.host, booked.message
    exchange.password = "changed after connecting"

    outcome = await make_outbox(app).deliver(message.id)

    lost = "Access to the host's calendar was lost; reconnect it and the meeting will be written."
    assert (outcome.state, outcome.error) == (OutboxState.PENDING, lost)
    async with sessionmaker() as session:
        connection = (await session.execute(select(CalendarConnection))).scalar_one()
    assert connection.status is ConnectionStatus.ACCESS_LOST  # S13, C2
    assert (await host_bookings(gql, ada))[0]["calendarWriteError"] == lost


def test_every_outbox_kind_has_its_delivery_registered(app: Starlette) -> None:
    assert set(make_outbox(app).deliveries) == set(OutboxKind)


async def test_sweep_enqueues_due_rows_without_a_job_once(
    factory: Factory, app: Starlette, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada = await factory.person()
    row = OutboxMessage(
        account_id=ada.account.id,
        kind=OutboxKind.EMAIL,
        payload={"to": ada.user.email, "subject": "s", "body": "b"},
    )
    await factory.add(row)
    outbox = make_outbox(app)
    assert await outbox.sweep() == 1
    assert await outbox.sweep() == 0  # its job is still waiting: not enqueued twice
    async with sessionmaker() as session:
        keys = (await session.execute(text("SELECT dedupe_key FROM pgqueuer"))).scalars().all()
    assert keys == [job_key(row.id)]


@pytest.fixture
def smtp() -> Iterator[Inbox]:
    with smtp_server() as inbox:
        yield inbox


async def test_lost_access_email_reaches_the_host_through_the_worker(
    gql: GraphQLClient,
    factory: Factory,
    app: Starlette,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    smtp: Inbox,
) -> None:
    inbox = smtp
    ada = await factory.person(url_prefix="ada", name="Ada")
    slug = await make_page(gql, ada)
    await factory.connection(ada, status=ConnectionStatus.ACCESS_LOST)
    nine = dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)
    refused = await book(gql, slug, nine)
    assert refused["reason"] == "HOST_ACCESS_LOST"  # S13: no booking, the host is told

    mailer = inbox.mailer()
    queue = JobQueue(database_url, concurrency=4, heartbeat_seconds=5, idle_poll_seconds=0.5)
    make_outbox(app, mailer=mailer).register(queue, sweep_seconds=60)
    async with working(queue):

        async def received() -> bool:
            return len(inbox.messages) == 1

        await eventually(received)

    (message,) = inbox.messages
    assert inbox.envelopes == [("no-reply@slotgraph.test", [ada.user.email])]
    assert (message["From"], message["To"], message["Subject"]) == (
        "Slotgraph <no-reply@slotgraph.test>",
        ada.user.email,
        "A contact tried to book 'Intro'",
    )
    body = message.get_content()
    assert "A contact tried to book a meeting on your scheduling page 'Intro'" in body
    assert "reconnect the calendar" in body
    _, (delivered,) = await rows(sessionmaker)
    assert (delivered.kind, delivered.state) == (OutboxKind.EMAIL, OutboxState.DONE)
