"""createTask, updateTask, completeTask, deleteTask: the viewer's CRM tasks, mirrored into
the task calendar when task sync is on (S10)."""

from __future__ import annotations

import datetime as dt

import strawberry

from slotgraph.graph.context import Info
from slotgraph.graph.errors import NotFound
from slotgraph.graph.errors import PermissionDenied
from slotgraph.graph.errors import ValidationError
from slotgraph.graph.relay import require_pk
from slotgraph.graph.results import fails_with
from slotgraph.graph.types.tasks import Task
from slotgraph.usecases import tasks as use_case
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.values import KEEP


@strawberry.input
class CreateTaskInput:
    title: str
    due_at: dt.datetime | None = strawberry.field(
        default=None, description="With a UTC offset; no due date, no calendar event."
    )
    contact_id: strawberry.ID | None = None


@strawberry.input
class UpdateTaskInput:
    task_id: strawberry.ID
    title: str | None = strawberry.UNSET
    due_at: dt.datetime | None = strawberry.field(
        default=strawberry.UNSET, description="Null removes the due date and the event."
    )


@strawberry.input
class CompleteTaskInput:
    task_id: strawberry.ID


@strawberry.input
class DeleteTaskInput:
    task_id: strawberry.ID


@strawberry.type
class TaskSuccess:
    task: Task


@strawberry.type
class CompleteTaskSuccess:
    task: Task
    already_completed: bool = strawberry.field(description="Nothing changed: it was done.")


@strawberry.type
class DeleteTaskSuccess:
    deleted_task_id: strawberry.ID


_ERRORS = NotFound | PermissionDenied | ValidationError


def _task_pk(global_id: str) -> int:
    return require_pk(global_id, "Task", field="taskId", kind="task")


@fails_with(_ERRORS)
async def create_task(info: Info, input: CreateTaskInput) -> TaskSuccess:
    """A task for the viewer; with a due date and task sync on, its event follows (S10)."""
    services = info.context.services
    contact = (
        None
        if input.contact_id is None
        else require_pk(input.contact_id, "Contact", field="contactId", kind="contact")
    )
    draft = use_case.TaskDraft(title=input.title, due_at=input.due_at, contact_id=contact)
    row = await use_case.create_task(services, info.context.viewer, draft)
    return TaskSuccess(task=Task.from_row(row))


@fails_with(_ERRORS)
async def update_task(info: Info, input: UpdateTaskInput) -> TaskSuccess:
    """Change the title or due date; the event moves with it, or goes with the due date."""
    services = info.context.services
    pk = _task_pk(input.task_id)
    if input.title is None:
        raise InvalidInput("A task needs a title.", field="title")
    changes = use_case.TaskChanges(
        title=KEEP if input.title is strawberry.UNSET else input.title,
        due_at=KEEP if input.due_at is strawberry.UNSET else input.due_at,
    )
    row = await use_case.update_task(services, info.context.viewer, pk, changes)
    return TaskSuccess(task=Task.from_row(row))


@fails_with(_ERRORS)
async def complete_task(info: Info, input: CompleteTaskInput) -> CompleteTaskSuccess:
    """Mark the task done; its event stays, titled "✓ …" (S10)."""
    services = info.context.services
    pk = _task_pk(input.task_id)
    row, changed = await use_case.complete_task(services, info.context.viewer, pk)
    return CompleteTaskSuccess(task=Task.from_row(row), already_completed=not changed)


@fails_with(_ERRORS)
async def delete_task(info: Info, input: DeleteTaskInput) -> DeleteTaskSuccess:
    """Delete the task; its event is removed from the task calendar (S10)."""
    services = info.context.services
    pk = _task_pk(input.task_id)
    await use_case.delete_task(services, info.context.viewer, pk)
    return DeleteTaskSuccess(deleted_task_id=input.task_id)
