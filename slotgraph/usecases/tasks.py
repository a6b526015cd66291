"""CRM tasks of the signed-in user: create, edit, complete, delete and list (S10).

Each write bumps the task's `revision` and, when the user's tasks are mirrored into a
calendar (or the task has an event already), posts a TASK_EVENT delivery in the same
transaction, so the event follows every committed change and no rolled-back one
(`slotgraph.jobs.deliveries.task_events`, rules in `slotgraph.jobs.task_events`). Turning task
sync on or off for a connection (`slotgraph.usecases.settings`) calls `task_sync_toggled`,
which backfills or removes the events.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from slotgraph.calendars.default_calendar import default_calendar
from slotgraph.jobs.deliveries.task_events import post_task_event
from slotgraph.jobs.task_events import syncs_tasks
from slotgraph.models import Contact
from slotgraph.models import Task
from slotgraph.models import User
from slotgraph.models.enums import Scope
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.errors import NotFoundError
from slotgraph.usecases.scoped_rows import RowLookup
from slotgraph.usecases.scoped_rows import own_tasks
from slotgraph.usecases.values import KEEP
from slotgraph.usecases.values import Keep
from slotgraph.usecases.viewer import Viewer
from slotgraph.usecases.viewer import require_viewer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from slotgraph.usecases.services import Services

MAX_TITLE = 300


@dataclass(frozen=True, slots=True)
class TaskDraft:
    title: str
    due_at: dt.datetime | None = None
    contact_id: int | None = None


@dataclass(frozen=True, slots=True)
class TaskChanges:
    """KEEP leaves a field as it is; a None due date removes the task's event."""

    title: str | Keep = KEEP
    due_at: dt.datetime | None | Keep = KEEP


def _title(title: str) -> str:
    title = title.strip()
    if not title or len(title) > MAX_TITLE:
        raise InvalidInput(f"Give the task a title of 1 to {MAX_TITLE} characters.", field="title")
    return title


def _due(due_at: dt.datetime | None) -> dt.datetime | None:
    if due_at is not None and due_at.tzinfo is None:
        raise InvalidInput(
            "Give the due date with a UTC offset, e.g. 2030-01-07T10:00:00Z.", field="dueAt"
        )
    return None if due_at is None else due_at.astimezone(dt.UTC)


async def create_task(services: Services, viewer: Viewer | None, draft: TaskDraft) -> Task:
    viewer = require_viewer(viewer, Scope.TASKS_WRITE)
    title, due_at = _title(draft.title), _due(draft.due_at)
    async with services.sessionmaker.begin() as session:
        if draft.contact_id is not None:
            found = await session.execute(
                select(Contact.id).where(
                    Contact.id == draft.contact_id, Contact.account_id == viewer.account_id
                )
            )
            if found.scalar_one_or_none() is None:
                raise NotFoundError("contact", field="contactId")
        task = Task(
            account_id=viewer.account_id,
            user_id=viewer.user_id,
            contact_id=draft.contact_id,
            title=title,
            due_at=due_at,
            revision=0,
            event_generation=0,
        )
        session.add(task)
        await session.flush()
        await _follow(session, task)
        await session.refresh(task)
    return task


async def update_task(
    services: Services, viewer: Viewer | None, task_id: int, changes: TaskChanges
) -> Task:
    viewer = require_viewer(viewer, Scope.TASKS_WRITE)
    async with services.sessionmaker.begin() as session:
        task = await _TASKS.one(session, viewer, task_id)
        if changes.title is not KEEP:
            task.title = _title(changes.title)
        if changes.due_at is not KEEP:
            task.due_at = _due(changes.due_at)
        await _follow(session, task)
    return task


async def complete_task(
    services: Services, viewer: Viewer | None, task_id: int
) -> tuple[Task, bool]:
    """(task, whether it changed): completing a completed task changes nothing."""
    viewer = require_viewer(viewer, Scope.TASKS_WRITE)
    now = services.clock()
    async with services.sessionmaker.begin() as session:
        task = await _TASKS.one(session, viewer, task_id)
        if task.completed_at is not None:
            return task, False
        task.completed_at = now
        await _follow(session, task)
    return task, True


async def delete_task(services: Services, viewer: Viewer | None, task_id: int) -> int:
    """Gone from the API at once. The row stays until a delivery has removed its event (or
    found it has none, perhaps after a create still under way) and then drops it."""
    viewer = require_viewer(viewer, Scope.TASKS_WRITE)
    async with services.sessionmaker.begin() as session:
        task = await _TASKS.one(session, viewer, task_id)
        task.deleted_at = services.clock()
        task.revision += 1
        await post_task_event(session, task)
    return task_id


async def task_sync_toggled(session: AsyncSession, user_id: int) -> int:
    """Task sync went on or off for the user's connection: deliver every task that may
    need an event created (open with a due date) or removed (has one). Returns how many."""
    tasks = list(
        (
            await session.execute(
                update(Task)
                .where(
                    Task.user_id == user_id,
                    Task.deleted_at.is_(None),
                    or_(
                        Task.remote_event_id.is_not(None),
                        Task.due_at.is_not(None) & Task.completed_at.is_(None),
                    ),
                )
                .values(revision=Task.revision + 1)
                .returning(Task)
                .execution_options(synchronize_session=False)
            )
        ).scalars()
    )
    for task in tasks:
        await post_task_event(session, task)
    return len(tasks)


# C9: another user's task is NotFound, exactly like an unknown id.
_TASKS = RowLookup(Task, own_tasks, "task", field="taskId")


async def _syncing(session: AsyncSession, user_id: int) -> bool:
    user = await session.get_one(User, user_id)
    target = await default_calendar(session, user_id)
    return syncs_tasks(None if target is None else target.connection, user)


async def _follow(session: AsyncSession, task: Task) -> None:
    """Bump the revision, and post a delivery when the task's event may need to change."""
    task.revision += 1
    await session.flush()
    if task.remote_event_id is not None or await _syncing(session, task.user_id):
        await post_task_event(session, task)
