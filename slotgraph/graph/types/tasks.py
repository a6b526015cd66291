"""CRM tasks of the viewer (S10); with task sync on they appear as calendar events."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import strawberry

from slotgraph.graph.context import Info
from slotgraph.graph.relay import Node
from slotgraph.graph.rows import from_columns
from slotgraph.graph.rows import load_one
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
        return await load_one(info.context.loaders.contacts, self.contact_pk, Contact.from_row)

    @classmethod
    def from_row(cls, row: TaskRow) -> Task:
        return from_columns(
            cls, row, contact_pk=row.contact_id, on_calendar=row.remote_event_id is not None
        )
