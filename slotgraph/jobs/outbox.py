"""Delivering the outbox: calendar writes of bookings and emails (C14, S12, S13).

A use case writes an `OutboxMessage` with `post(session, message)` in the transaction of the
change that needs it; `post` also enqueues the delivery job there, so a commit always has
its delivery and a rollback has none. A periodic `sweep` re-enqueues due rows whose job
is gone (rows written by older code, or jobs cleared by hand).

Delivering one row (`Outbox.deliver`):
1. Claim it: one conditional UPDATE takes a PENDING row that is due, counts the attempt and
   leases it (`available_at` moves `lease` seconds ahead). Two workers racing for a row
   serialise on its row lock; the loser sees the lease and backs off. A worker killed
   mid-write leaves the lease to expire, and the queue re-runs its job.
2. Do the work with no transaction open: CALENDAR_CREATE writes the booking to the host's
   default calendar only (C3, S12) with the contact as attendee and an idempotency key
   derived from the booking (`event_key`), so a retry after a crash, or a second worker
   after an expired lease, finds the event instead of doubling it. CALENDAR_UPDATE and
   CALENDAR_DELETE use the event id stored on the booking (deleting a gone event is fine).
   EMAIL goes out by SMTP (`slotgraph.jobs.mail`).
3. Record the result under the claim (same attempt count): DONE with the event id on the
   booking; or, on failure, the error on the row and on the booking (C14) and a retry after
   exponential backoff or the provider's Retry-After, whichever is longer; after
   `max_attempts`, or at once for failures retrying cannot fix, FAILED, visible on the
   booking. A revoked grant also marks the connection ACCESS_LOST (S13, C2).

TASK_EVENT (task sync, S10) is state-based: its delivery makes the task's event in the
"Slotgraph tasks" sub-calendar match the task as it is now (`slotgraph.jobs.task_events` holds the
rules), creating the sub-calendar on first use. So deliveries may run in any order, twice,
or concurrently and still converge; a task written while its delivery ran is delivered
again (`Task.revision`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from slotgraph.calendars.clients import CalendarClients
from slotgraph.calendars.default_calendar import ConnectedCalendar, default_calendar
from slotgraph.calendars.lost_access import mark_calendars_lost
from slotgraph.jobs.mail import MailError, MailRejected
from slotgraph.jobs.queue import Job, JobQueue, Retry, RetryPolicy, enqueue, enqueue_many
from slotgraph.jobs.task_events import TASK_CALENDAR_NAME, syncs_tasks, task_draft, wants_event
from slotgraph.models import (
    Booking,
    CalendarConnection,
    Contact,
    OutboxMessage,
    RemoteCalendar,
    Task,
    User,
)
from slotgraph.models.enums import (
    BookingStatus,
    CalendarAccess,
    CalendarStatus,
    CalendarWriteState,
    ConnectionStatus,
)
from slotgraph.models.outbox import OutboxKind, OutboxState
from slotgraph.providers.base import (
    AccessRevoked,
    Attendee,
    CalendarGone,
    EventDraft,
    EventGone,
    NotOffered,
    ProviderError,
    RemoteCalendarInfo,
    TransientError,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from slotgraph.jobs.mail import Mailer
    from slotgraph.providers.base import CalendarClient

log = structlog.get_logger("slotgraph.outbox")
T = TypeVar("T")

DELIVER = "outbox.deliver"
SWEEP_BATCH = 500
# An update or delete waits this long for a create of the same booking still under way.
WAIT_FOR_CREATE = 5.0
# The first key of the advisory lock under which a connection's task calendar is created.
TASK_CALENDAR_LOCK = 0x5347_5443  # "SGTC"


def job_key(outbox_id: int) -> str:
    """The dedupe key of a row's delivery job: one queued-or-running job per row."""
    return f"outbox:{outbox_id}"


async def post(session: AsyncSession, message: OutboxMessage) -> OutboxMessage:
    """Add `message` and enqueue its delivery, both in the session's transaction."""
    session.add(message)
    await session.flush()
    await enqueue(session, DELIVER, {"id": message.id}, dedupe_key=job_key(message.id))
    return message


def event_key(booking: Booking) -> str:
    """The booking's idempotency key at the provider: the same for every retry and every
    worker, different for every booking (also across databases sharing one calendar).
    Lowercase hex, which suits Google's event-id alphabet and Graph's transactionId."""
    seed = f"slotgraph-booking:{booking.id}:{booking.created_at.isoformat()}"
    return "sg" + hashlib.sha256(seed.encode()).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    max_attempts: int = 8
    initial_backoff: float = 30.0
    max_backoff: float = 3600.0
    # Longer than any one provider call with its own retries: a live worker keeps its claim.
    lease: float = 300.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = min(self.initial_backoff * 2 ** max(0, attempt - 1), self.max_backoff)
        return float(max(backoff, retry_after or 0.0))


@dataclass(frozen=True, slots=True)
class Outcome:
    """The row's state after a delivery attempt; `retry_in` is set while it stays PENDING."""

    state: OutboxState
    retry_in: float | None = None
    error: str | None = None


class _Waiting(Exception):
    """An update or delete whose booking's create is still to be delivered: it must go out
    after the create, however long that takes. `until` is when a create that failed before
    is retried (None while its first attempt is under way or about to be)."""

    def __init__(self, until: dt.datetime | None) -> None:
        super().__init__(_WAITING)
        self.until = until


class _Failure(Exception):
    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after


_LOST = "Access to the host's calendar was lost; reconnect it and the meeting will be written."
_NO_CALENDAR = (
    "The host has no connected calendar for meetings; connect one and book again to have "
    "meetings written to it."
)
_NO_MAIL = "No mail server is configured (SLOTGRAPH_SMTP_HOST); the email was not sent."
_TASK_CALENDAR_GONE = (
    "The 'Slotgraph tasks' calendar was deleted at the provider; a new one is made on retry."
)
_UNEXPECTED = "Unexpected error while delivering; it will be retried."
_WAITING = "Waiting for the meeting to be written to the calendar first."


class Outbox:
    """Delivers outbox rows; `register` puts it on a job queue."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clients: CalendarClients,
        *,
        mailer: Mailer | None,
        policy: DeliveryPolicy = DeliveryPolicy(),
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clients = clients
        self.mailer = mailer
        self.policy = policy

    def register(self, queue: JobQueue, *, sweep_seconds: float = 30.0) -> None:
        # Attempts are counted in the outbox rows, so the job itself retries unbounded.
        queue.register(DELIVER, self.run_job, policy=RetryPolicy(max_attempts=None))
        queue.every(sweep_seconds, self.sweep)

    async def run_job(self, payload: dict[str, Any]) -> None:
        outcome = await self.deliver(int(payload["id"]))
        if outcome.retry_in is not None:
            raise Retry(outcome.error or "not due yet", outcome.retry_in)

    async def sweep(self) -> int:
        """Enqueue deliveries for due rows that have no job waiting; returns how many."""
        async with self.sessionmaker.begin() as session:
            ids = (
                await session.execute(
                    select(OutboxMessage.id)
                    .where(
                        OutboxMessage.state == OutboxState.PENDING,
                        OutboxMessage.available_at <= func.now(),
                    )
                    .order_by(OutboxMessage.available_at)
                    .limit(SWEEP_BATCH)
                )
            ).scalars()
            jobs = [Job(DELIVER, {"id": i}, dedupe_key=job_key(i)) for i in ids]
            return await enqueue_many(session, jobs)

    async def deliver(self, outbox_id: int) -> Outcome:
        claimed = await self._claim(outbox_id)
        if isinstance(claimed, Outcome):
            return claimed
        try:
            changes = await self._perform(claimed)
        except _Waiting as waiting:
            return await self._wait(claimed, waiting.until)
        except _Failure as failure:
            return await self._failed(claimed, failure)
        except ProviderError as error:
            return await self._failed(claimed, _provider_failure(error))
        except MailError as error:
            rejected = isinstance(error, MailRejected)
            return await self._failed(claimed, _Failure(error.message, permanent=rejected))
        except Exception:  # a bug must not lose the row: keep it, retried with backoff
            log.exception("outbox delivery failed", outbox_id=outbox_id, kind=claimed.kind)
            return await self._failed(claimed, _Failure(_UNEXPECTED))
        return await self._done(claimed, changes)

    # claiming and recording ---------------------------------------------------------------

    async def _claim(self, outbox_id: int) -> OutboxMessage | Outcome:
        lease = dt.timedelta(seconds=self.policy.lease)
        async with self.sessionmaker.begin() as session:
            row = (
                await session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == outbox_id,
                        OutboxMessage.state == OutboxState.PENDING,
                        OutboxMessage.available_at <= func.now(),
                    )
                    .values(
                        attempts=OutboxMessage.attempts + 1,
                        available_at=func.now() + lease,
                    )
                    .returning(OutboxMessage)
                    .execution_options(synchronize_session=False)
                )
            ).scalar_one_or_none()
            if row is not None:
                return row
            current = await session.get(OutboxMessage, outbox_id)
            if current is None:  # its booking was deleted: nothing left to deliver
                return Outcome(OutboxState.DONE)
            if current.state is not OutboxState.PENDING:
                return Outcome(current.state, error=current.last_error)
            now = (await session.execute(select(func.now()))).scalar_one()
            wait = max(0.0, (current.available_at - now).total_seconds())
            return Outcome(OutboxState.PENDING, retry_in=wait, error=current.last_error)

    def _claim_held(self, message: OutboxMessage) -> Any:
        """Only the claim that did the work may record its result (a slower worker whose
        lease expired finds another claim and leaves the row to it)."""
        return (
            (OutboxMessage.id == message.id)
            & (OutboxMessage.state == OutboxState.PENDING)
            & (OutboxMessage.attempts == message.attempts)
        )

    async def _done(self, message: OutboxMessage, changes: dict[str, Any] | None) -> Outcome:
        async with self.sessionmaker.begin() as session:
            recorded = await session.execute(
                update(OutboxMessage)
                .where(self._claim_held(message))
                .values(state=OutboxState.DONE, done_at=func.now(), last_error=None)
            )
            if not recorded.rowcount:  # type: ignore[attr-defined]
                log.warning("outbox claim lost before recording", outbox_id=message.id)
                return Outcome(OutboxState.PENDING, retry_in=0.0)
            if changes and message.booking_id is not None:
                await session.execute(
                    update(Booking).where(Booking.id == message.booking_id).values(**changes)
                )
        log.info("outbox delivered", outbox_id=message.id, kind=message.kind)
        return Outcome(OutboxState.DONE)

    async def _wait(self, message: OutboxMessage, until: dt.datetime | None) -> Outcome:
        """Put an update or delete back behind its booking's create. Waiting is no failed
        attempt: the row never gives up while its create is still to come (else a create
        throttled for longer than the row's attempts last would leave the calendar at the
        old time). It is retried WAIT_FOR_CREATE from now, or once the create's own retry
        is due if that is later."""
        async with self.sessionmaker.begin() as session:
            now = (await session.execute(select(func.now()))).scalar_one()
            due = now + dt.timedelta(seconds=WAIT_FOR_CREATE)
            if until is not None and until > due:
                due = until
            recorded = await session.execute(
                update(OutboxMessage)
                .where(self._claim_held(message))
                .values(attempts=message.attempts - 1, available_at=due, last_error=_WAITING)
            )
        if not recorded.rowcount:  # type: ignore[attr-defined]
            return Outcome(OutboxState.PENDING, retry_in=0.0)
        log.info("outbox delivery waits for its create", outbox_id=message.id)
        return Outcome(OutboxState.PENDING, retry_in=(due - now).total_seconds(), error=_WAITING)

    async def _failed(self, message: OutboxMessage, failure: _Failure) -> Outcome:
        give_up = failure.permanent or message.attempts >= self.policy.max_attempts
        delay = self.policy.delay(message.attempts, failure.retry_after)
        values: dict[str, Any] = {"last_error": failure.message}
        if give_up:
            values["state"] = OutboxState.FAILED
        else:
            values["available_at"] = func.now() + dt.timedelta(seconds=delay)
        async with self.sessionmaker.begin() as session:
            recorded = await session.execute(
                update(OutboxMessage).where(self._claim_held(message)).values(**values)
            )
            if not recorded.rowcount:  # type: ignore[attr-defined]
                return Outcome(OutboxState.PENDING, retry_in=0.0)
            if message.booking_id is not None:
                booking_values: dict[str, Any] = {"calendar_write_error": failure.message}
                if give_up:
                    booking_values["calendar_write_state"] = CalendarWriteState.FAILED
                await session.execute(
                    update(Booking).where(Booking.id == message.booking_id).values(**booking_values)
                )
        log.warning(
            "outbox delivery failed",
            outbox_id=message.id,
            kind=message.kind,
            attempt=message.attempts,
            gave_up=give_up,
            error=failure.message,
        )
        if give_up:
            return Outcome(OutboxState.FAILED, error=failure.message)
        return Outcome(OutboxState.PENDING, retry_in=delay, error=failure.message)

    # the work ----------------------------------------------------------------------------

    async def _perform(self, message: OutboxMessage) -> dict[str, Any] | None:
        """Do the message's work; the booking columns to set on success, if any."""
        match message.kind:
            case OutboxKind.EMAIL:
                await self._email(message.payload)
                return None
            case OutboxKind.CALENDAR_CREATE:
                return await self._create(message)
            case OutboxKind.CALENDAR_UPDATE | OutboxKind.CALENDAR_DELETE:
                return await self._change(message)
            case OutboxKind.TASK_EVENT:
                await self._task_event(int(message.payload["task_id"]))
                return None
        raise _Failure(f"Unknown outbox kind {message.kind}.", permanent=True)

    async def _email(self, payload: dict[str, Any]) -> None:
        if self.mailer is None:
            raise _Failure(_NO_MAIL, permanent=True)
        await self.mailer.send(payload["to"], payload["subject"], payload["body"])

    async def _create(self, message: OutboxMessage) -> dict[str, Any] | None:
        async with self.sessionmaker() as session:
            booking = await session.get(Booking, message.booking_id)
            if (
                booking is None
                or booking.status is not BookingStatus.CONFIRMED
                or booking.remote_event_id is not None
            ):
                return None  # cancelled before it was written, or written already
            contact = await session.get_one(Contact, booking.contact_id)
            target = await default_calendar(session, booking.host_user_id)
        if target is None:
            raise _Failure(_NO_CALENDAR, permanent=True)
        client = await self._client(target.connection)
        draft = _draft(booking, contact)
        remote_id = await self._guarded(
            target.connection, client.create_event(target.calendar.remote_id, draft)
        )
        return {
            "remote_event_id": remote_id,
            "remote_calendar_id": target.calendar.id,
            "calendar_write_state": CalendarWriteState.WRITTEN,
            "calendar_write_error": None,
        }

    async def _change(self, message: OutboxMessage) -> dict[str, Any] | None:
        async with self.sessionmaker() as session:
            booking = await session.get(Booking, message.booking_id)
            if booking is None:
                return None
            if message.kind is OutboxKind.CALENDAR_UPDATE and (
                booking.status is not BookingStatus.CONFIRMED
            ):
                # Cancelled since the move: the delete behind it removes the event; a patch
                # would have the provider mail the contact a new time first.
                return None
            if booking.remote_event_id is None:
                create = await _pending_create(session, booking.id)
                if create is not None:
                    raise _Waiting(create.available_at if create.last_error else None)
                return None  # never written: the calendar has nothing to change
            contact = await session.get_one(Contact, booking.contact_id)
            target = await _written_to(session, booking)
        if target is None:
            raise _Failure(_NO_CALENDAR, permanent=True)
        client = await self._client(target.connection)
        event_id, calendar_id = booking.remote_event_id, target.calendar.remote_id
        if message.kind is OutboxKind.CALENDAR_DELETE:
            await self._guarded(target.connection, client.delete_event(calendar_id, event_id))
            return {
                "remote_event_id": None,
                "calendar_write_state": CalendarWriteState.WRITTEN,
                "calendar_write_error": None,
            }
        draft = _draft(booking, contact)
        await self._guarded(target.connection, client.update_event(calendar_id, event_id, draft))
        return {"calendar_write_state": CalendarWriteState.WRITTEN, "calendar_write_error": None}

    async def _client(self, connection: CalendarConnection) -> CalendarClient:
        if connection.status is ConnectionStatus.ACCESS_LOST:
            raise _Failure(_LOST)
        return await self._guarded(connection, self.clients.client(connection))

    async def _guarded(self, connection: CalendarConnection, call: Awaitable[T]) -> T:
        """Await a provider call; a revoked grant marks the connection ACCESS_LOST."""
        try:
            return await call
        except AccessRevoked:
            await self.clients.access_lost(connection.id)
            raise _Failure(_LOST) from None

    # task sync (S10) -----------------------------------------------------------------------

    async def _task_event(self, task_id: int) -> None:
        """Make the task's event match the task: create or update it in the connection's
        task sub-calendar, or delete it when the task should have none."""
        async with self.sessionmaker() as session:
            task = await session.get(Task, task_id)
            if task is None:
                return
            user = await session.get_one(User, task.user_id)
            target = await default_calendar(session, task.user_id)
            connection = None if target is None else target.connection
            wanted = wants_event(task, syncs_tasks(connection, user))
            holder = await _task_holder(session, task)
            contact = await session.get(Contact, task.contact_id) if task.contact_id else None
        revision = task.revision
        if holder is not None and task.remote_event_id is not None:
            moved = (
                connection is None
                or holder.connection.id != connection.id
                or holder.calendar.status is not CalendarStatus.CONNECTED
            )
            if not wanted or moved:
                await self._delete_task_event(holder, task.remote_event_id)
                await self._record_task(task_id, revision, event=None, generation_up=True)
                if not wanted:
                    return
                task.remote_event_id = None
                task.event_generation += 1
        if not wanted or connection is None:
            await self._record_task(task_id, revision, event=None, generation_up=False)
            return
        calendar = await self._task_calendar(connection)
        client = await self._client(connection)
        event_id = task.remote_event_id
        if event_id is not None:
            draft = task_draft(task, contact, calendar.time_zone)
            try:
                await self._guarded(
                    connection, client.update_event(calendar.remote_id, event_id, draft)
                )
            except EventGone:  # deleted in the calendar app: write a new one, with a new key
                await self._record_task(task_id, revision, event=None, generation_up=True)
                task.event_generation += 1
                event_id = None
        try:
            if event_id is None:
                draft = task_draft(task, contact, calendar.time_zone)
                created = client.create_event(calendar.remote_id, draft)
                event_id = await self._guarded(connection, created)
        except CalendarGone:
            # The user deleted the task calendar: the next attempt makes a new one.
            await self._task_calendar_gone(calendar.id)
            raise _Failure(_TASK_CALENDAR_GONE, retry_after=0.0) from None
        await self._record_task(task_id, revision, event=(event_id, calendar.id))

    async def _task_calendar_gone(self, calendar_id: int) -> None:
        async with self.sessionmaker.begin() as session:
            await mark_calendars_lost(session, [calendar_id])

    async def _delete_task_event(self, holder: ConnectedCalendar, event_id: str) -> None:
        if holder.connection.status is ConnectionStatus.DISCONNECTED:
            return  # the grant is gone; the calendar is no longer ours to change
        client = await self._client(holder.connection)
        deleted = client.delete_event(holder.calendar.remote_id, event_id)
        await self._guarded(holder.connection, deleted)

    async def _task_calendar(self, connection: CalendarConnection) -> RemoteCalendar:
        """The connection's task sub-calendar, created at the provider on first use.

        The first deliveries of a connection take turns, so two workers cannot both create
        it: a session-level advisory lock, taken on a connection of its own in autocommit
        mode, is held across the one provider call and released in `finally`. No
        transaction is open while the provider is awaited (that call may take ~30 s with
        its retries): the lookup and the insert each run in a short transaction of their
        own, as on every other path here. A lock rather than a placeholder row, because a
        placeholder would be a half-made calendar every other reader of `remote_calendars`
        had to learn to skip, and one a crashed worker would leave behind; the lock goes
        with its connection.
        """
        found = await self._find_task_calendar(connection.id)
        if found is not None:
            return found
        client = await self._client(connection)
        key = (TASK_CALENDAR_LOCK, connection.id % 2**31)
        async with self.sessionmaker() as locker:
            await locker.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            await locker.execute(select(func.pg_advisory_lock(*key)))
            try:
                found = await self._find_task_calendar(connection.id)
                if found is not None:
                    return found
                info = await self._guarded(connection, client.create_calendar(TASK_CALENDAR_NAME))
                calendar = await self._store_task_calendar(connection, info)
            finally:
                await locker.execute(select(func.pg_advisory_unlock(*key)))
        log.info("task calendar created", connection_id=connection.id)
        return calendar

    async def _store_task_calendar(
        self, connection: CalendarConnection, info: RemoteCalendarInfo
    ) -> RemoteCalendar:
        async with self.sessionmaker.begin() as session:
            values = {
                "account_id": connection.account_id,
                "connection_id": connection.id,
                "remote_id": info.remote_id,
                "name": info.name[:500],
                "time_zone": info.time_zone,
                "access": CalendarAccess.OWNER,
                "is_primary": False,
                "can_see_all_details": True,
                "status": CalendarStatus.CONNECTED,
                "is_task_calendar": True,
            }
            statement = insert(RemoteCalendar).values(**values)
            statement = statement.on_conflict_do_update(
                index_elements=[RemoteCalendar.connection_id, RemoteCalendar.remote_id],
                set_={"is_task_calendar": True, "status": CalendarStatus.CONNECTED},
            )
            return (
                await session.execute(
                    statement.returning(RemoteCalendar),
                    execution_options={"populate_existing": True},
                )
            ).scalar_one()

    async def _find_task_calendar(self, connection_id: int) -> RemoteCalendar | None:
        query = select(RemoteCalendar).where(
            RemoteCalendar.connection_id == connection_id,
            RemoteCalendar.is_task_calendar.is_(True),
            RemoteCalendar.status == CalendarStatus.CONNECTED,
        )
        async with self.sessionmaker() as session:
            return (await session.execute(query)).scalar_one_or_none()

    async def _record_task(
        self,
        task_id: int,
        revision: int,
        *,
        event: tuple[str, int] | None,
        generation_up: bool = False,
    ) -> None:
        """Store where the task's event is (None: it has none). A task gone from the API
        whose event is gone leaves no row; one written since `revision` was read is
        delivered again."""
        async with self.sessionmaker.begin() as session:
            task = (
                await session.execute(select(Task).where(Task.id == task_id).with_for_update())
            ).scalar_one_or_none()
            if task is None:
                return
            if event is None:
                task.remote_event_id = None
                task.remote_calendar_id = None
                if generation_up:
                    task.event_generation += 1
            else:
                task.remote_event_id, task.remote_calendar_id = event
            if task.revision != revision:
                await post_task_event(session, task)
            elif task.deleted_at is not None and task.remote_event_id is None:
                await session.delete(task)


async def post_task_event(session: AsyncSession, task: Task) -> OutboxMessage:
    """Enqueue a TASK_EVENT delivery for `task` in the session's transaction."""
    message = OutboxMessage(
        account_id=task.account_id, kind=OutboxKind.TASK_EVENT, payload={"task_id": task.id}
    )
    return await post(session, message)


async def _task_holder(session: AsyncSession, task: Task) -> ConnectedCalendar | None:
    """The calendar holding the task's event, if it has one."""
    if task.remote_calendar_id is None:
        return None
    calendar = await session.get(RemoteCalendar, task.remote_calendar_id)
    if calendar is None:
        return None
    connection = await session.get_one(CalendarConnection, calendar.connection_id)
    return ConnectedCalendar(connection, calendar)


def _provider_failure(error: ProviderError) -> _Failure:
    if isinstance(error, (NotOffered, CalendarGone)):
        return _Failure(error.message, permanent=True)
    retry_after = error.retry_after if isinstance(error, TransientError) else None
    return _Failure(error.message, retry_after=retry_after)


def _draft(booking: Booking, contact: Contact) -> EventDraft:
    answers = "\n".join(f"{question}: {answer}" for question, answer in booking.answers.items())
    return EventDraft(
        title=booking.title,
        start=booking.starts_at,
        end=booking.ends_at,
        time_zone=booking.time_zone,
        attendees=(Attendee(email=contact.email, name=contact.name),),
        description=f"Booked through Slotgraph by {contact.name} <{contact.email}>.\n{answers}",
        idempotency_key=event_key(booking),
    )


async def _pending_create(session: AsyncSession, booking_id: int) -> OutboxMessage | None:
    """The booking's calendar create still to be delivered, if any."""
    found = await session.execute(
        select(OutboxMessage)
        .where(
            OutboxMessage.booking_id == booking_id,
            OutboxMessage.kind == OutboxKind.CALENDAR_CREATE,
            OutboxMessage.state == OutboxState.PENDING,
        )
        .limit(1)
    )
    return found.scalar_one_or_none()


async def _written_to(session: AsyncSession, booking: Booking) -> ConnectedCalendar | None:
    """The calendar holding the booking's event (else today's default calendar)."""
    if booking.remote_calendar_id is not None:
        calendar = await session.get(RemoteCalendar, booking.remote_calendar_id)
        if calendar is not None:
            connection = await session.get_one(CalendarConnection, calendar.connection_id)
            return ConnectedCalendar(connection, calendar)
    return await default_calendar(session, booking.host_user_id)
