"""Task events: a CRM task mirrored as an event in the "Slotgraph tasks" sub-calendar of the
connection used for meetings (S10, C3; kind TASK_EVENT). The rules (who syncs, which tasks
get an event, what it looks like) are `slotgraph.jobs.task_events`; the task use cases
(`slotgraph.usecases.tasks`) post a delivery with `post_task_event` after each write.

The delivery is state-based: it makes the task's event match the task as it is now,
creating the sub-calendar on first use. So deliveries may run in any order, twice, or
concurrently and still converge; a task written while its delivery ran is delivered again
(`Task.revision`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar

import structlog
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from slotgraph.calendars.default_calendar import ConnectedCalendar
from slotgraph.calendars.default_calendar import default_calendar
from slotgraph.calendars.lost_access import mark_calendars_lost
from slotgraph.jobs.deliveries.calendar_writes import CalendarDelivery
from slotgraph.jobs.outbox import DeliveryFailure
from slotgraph.jobs.outbox import post
from slotgraph.jobs.task_events import TASK_CALENDAR_NAME
from slotgraph.jobs.task_events import syncs_tasks
from slotgraph.jobs.task_events import task_draft
from slotgraph.jobs.task_events import wants_event
from slotgraph.models import CalendarConnection
from slotgraph.models import Contact
from slotgraph.models import OutboxMessage
from slotgraph.models import RemoteCalendar
from slotgraph.models import Task
from slotgraph.models import User
from slotgraph.models.enums import CalendarAccess
from slotgraph.models.enums import CalendarStatus
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.outbox import OutboxKind
from slotgraph.providers.base import CalendarGone
from slotgraph.providers.base import EventGone
from slotgraph.providers.base import RemoteCalendarInfo

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger("slotgraph.outbox")

# The first key of the advisory lock under which a connection's task calendar is created.
TASK_CALENDAR_LOCK = 0x5347_5443  # "SGTC"
TASK_CALENDAR_GONE = (
    "The 'Slotgraph tasks' calendar was deleted at the provider; a new one is made on retry."
)


async def post_task_event(session: AsyncSession, task: Task) -> OutboxMessage:
    """Enqueue a TASK_EVENT delivery for `task` in the session's transaction."""
    message = OutboxMessage(
        account_id=task.account_id, kind=OutboxKind.TASK_EVENT, payload={"task_id": task.id}
    )
    return await post(session, message)


class TaskEvents(CalendarDelivery):
    """Makes each task's event match the task."""

    kinds: ClassVar[frozenset[OutboxKind]] = frozenset({OutboxKind.TASK_EVENT})

    async def write(self, message: OutboxMessage) -> Mapping[str, Any] | None:
        await self._task_event(int(message.payload["task_id"]))
        return None

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
        client = await self.client(connection)
        event_id = task.remote_event_id
        if event_id is not None:
            draft = task_draft(task, contact, calendar.time_zone)
            try:
                await self.guarded(
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
                event_id = await self.guarded(connection, created)
        except CalendarGone:
            # The user deleted the task calendar: the next attempt makes a new one.
            async with self.sessionmaker.begin() as session:
                await mark_calendars_lost(session, [calendar.id])
            raise DeliveryFailure(TASK_CALENDAR_GONE, retry_after=0.0) from None
        await self._record_task(task_id, revision, event=(event_id, calendar.id))

    async def _delete_task_event(self, holder: ConnectedCalendar, event_id: str) -> None:
        if holder.connection.status is ConnectionStatus.DISCONNECTED:
            return  # the grant is gone; the calendar is no longer ours to change
        client = await self.client(holder.connection)
        deleted = client.delete_event(holder.calendar.remote_id, event_id)
        await self.guarded(holder.connection, deleted)

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
        client = await self.client(connection)
        key = (TASK_CALENDAR_LOCK, connection.id % 2**31)
        async with self.sessionmaker() as locker:
            await locker.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            await locker.execute(select(func.pg_advisory_lock(*key)))
            try:
                found = await self._find_task_calendar(connection.id)
                if found is not None:
                    return found
                info = await self.guarded(connection, client.create_calendar(TASK_CALENDAR_NAME))
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


async def _task_holder(session: AsyncSession, task: Task) -> ConnectedCalendar | None:
    """The calendar holding the task's event, if it has one."""
    if task.remote_calendar_id is None:
        return None
    calendar = await session.get(RemoteCalendar, task.remote_calendar_id)
    if calendar is None:
        return None
    connection = await session.get_one(CalendarConnection, calendar.connection_id)
    return ConnectedCalendar(connection, calendar)
