"""Task sync's rules (S10, C11): when a user's tasks are mirrored, which tasks get an event,
and what that event looks like. The outbox's task-event delivery
(`slotgraph.jobs.deliveries.task_events`, kind TASK_EVENT) applies them; the task use cases
(`slotgraph.usecases.tasks`) ask them whether a write needs a delivery.

Decisions where the spec is silent:
- Task events live in a sub-calendar named "Slotgraph tasks" of the connection used for
  meetings, created on first use. They are written as free (transparent) and that calendar
  is never offered as an availability calendar: a due time is a deadline, not a meeting,
  so it must not hide bookable slots, here or in anyone else's free/busy.
- An event starts at the due time and lasts `EVENT_LENGTH`. Completing a task keeps its
  event and prefixes the title with "✓ "; deleting it, clearing its due date, or turning
  task sync off removes the event. Turning task sync on backfills open tasks with due dates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING

from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import Provider
from slotgraph.models.enums import Seat
from slotgraph.models.enums import Tier
from slotgraph.providers.base import EventDraft

if TYPE_CHECKING:
    from slotgraph.models import CalendarConnection
    from slotgraph.models import Contact
    from slotgraph.models import Task
    from slotgraph.models import User

TASK_CALENDAR_NAME = "Slotgraph tasks"
EVENT_LENGTH = dt.timedelta(minutes=30)
DONE_PREFIX = "✓ "

TASK_SYNC_SEATS = frozenset({Seat.SALES, Seat.SERVICE})
TASK_SYNC_TIERS = frozenset({Tier.PROFESSIONAL, Tier.ENTERPRISE})
# C11: the source offers task sync for Google and Microsoft 365 only.
TASK_SYNC_PROVIDERS = frozenset({Provider.GOOGLE, Provider.MICROSOFT365})


def can_sync_tasks(user: User) -> bool:
    """S10: a Sales or Service seat at Professional or Enterprise."""
    return user.seat in TASK_SYNC_SEATS and user.tier in TASK_SYNC_TIERS


def syncs_tasks(connection: CalendarConnection | None, user: User) -> bool:
    """Whether `user`'s tasks are mirrored into `connection` (their meetings connection):
    calendar sync and task sync on, a provider that offers it, and a seat that still
    qualifies (a lost seat stops the mirroring, S10)."""
    return (
        connection is not None
        and connection.status is not ConnectionStatus.DISCONNECTED
        and connection.provider in TASK_SYNC_PROVIDERS
        and connection.calendar_sync_enabled
        and connection.task_sync_enabled
        and can_sync_tasks(user)
    )


def wants_event(task: Task, syncing: bool) -> bool:
    """Whether the task should have an event now. A completed task keeps the event it has
    (marked done) but gets none afresh, so a backfill brings open tasks only."""
    return (
        syncing
        and task.deleted_at is None
        and task.due_at is not None
        and (task.completed_at is None or task.remote_event_id is not None)
    )


def task_event_key(task: Task) -> str:
    """The event's idempotency key: the same for every retry of one event, new after the
    task's event was deleted (providers keep a deleted event's id reserved). Lowercase
    hex, which suits Google's event-id alphabet and Graph's transactionId."""
    seed = f"slotgraph-task:{task.id}:{task.created_at.isoformat()}:{task.event_generation}"
    return "sgt" + hashlib.sha256(seed.encode()).hexdigest()[:40]


def task_draft(task: Task, contact: Contact | None, time_zone: str) -> EventDraft:
    assert task.due_at is not None, "only tasks with a due date have events"
    title = task.title if task.completed_at is None else DONE_PREFIX + task.title
    about = f" for {contact.name} <{contact.email}>" if contact is not None else ""
    return EventDraft(
        title=title,
        start=task.due_at,
        end=task.due_at + EVENT_LENGTH,
        time_zone=time_zone,
        description=f"Task{about}, due at this time. Synced from Slotgraph.",
        idempotency_key=task_event_key(task),
        send_invitations=False,
        transparent=True,
    )
