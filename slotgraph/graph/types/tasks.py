"""CRM tasks of the viewer (S10); with task sync on they appear as calendar events."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import strawberry

from slotgraph.graph.context import Info
from slotgraph.graph.relay import Node, to_global_id
from slotgraph.graph.types.bookings import Contact

if TYPE_CHECKING:
    from slotgraph.models import Task as TaskRow


@strawberry.type(description="A CRM task of the viewer.")
class Task(Node):
    contact_pk: strawberry.Private[int | None]
    title: str
    due_at: dt.datetime | None = strawberry.field(
        description="With task sync on (S10), a task with a due date has an event at this "
        "time in the 'Slotgraph tasks' calendar; one without has none."
    )
    completed_at: dt.datetime | None
    on_calendar: bool = strawberry.field(
        description="Its event has been written to the task calendar."
    )
    created_at: dt.datetime

    @strawberry.field(description="The contact the task is about, if any.")
    async def contact(self, info: Info) -> Contact | None:
        if self.contact_pk is None:
            return None
        row = await info.context.loaders.contacts.load(self.contact_pk)
        return None if row is None else Contact.from_row(row)

    @classmethod
    def from_row(cls, row: TaskRow) -> Task:
        return cls(
            id=to_global_id("Task", row.id),
            contact_pk=row.contact_id,
            title=row.title,
            due_at=row.due_at,
            completed_at=row.completed_at,
            on_calendar=row.remote_event_id is not None,
            created_at=row.created_at,
        )
