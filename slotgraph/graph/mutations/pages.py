"""createSchedulingPage, updateSchedulingPage, deleteSchedulingPage (S7, S14, S15)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from slotgraph.graph.context import Info
from slotgraph.graph.errors import NotFound
from slotgraph.graph.errors import PermissionDenied
from slotgraph.graph.errors import SlugTaken
from slotgraph.graph.errors import ValidationError
from slotgraph.graph.inputs.pages import CreateSchedulingPageInput
from slotgraph.graph.inputs.pages import DeleteSchedulingPageInput
from slotgraph.graph.inputs.pages import UpdateSchedulingPageInput
from slotgraph.graph.relay import require_pk
from slotgraph.graph.results import fails_with
from slotgraph.graph.types.pages import SchedulingPage
from slotgraph.usecases import pages as use_case
from slotgraph.usecases import reads

if TYPE_CHECKING:
    from slotgraph.models import SchedulingPage as PageRow


@strawberry.type
class CreateSchedulingPageSuccess:
    page: SchedulingPage


@strawberry.type
class UpdateSchedulingPageSuccess:
    page: SchedulingPage


@strawberry.type
class DeleteSchedulingPageSuccess:
    deleted_id: strawberry.ID


async def _with_url(info: Info, row: PageRow) -> SchedulingPage:
    context = info.context
    assert context.viewer is not None
    [base] = await reads.base_urls(
        context.sessionmaker, context.viewer, [row.user_id], context.public_base_url
    )
    return SchedulingPage.from_row(row, base)


@fails_with(ValidationError, SlugTaken, PermissionDenied)
async def create_scheduling_page(
    info: Info, input: CreateSchedulingPageInput
) -> CreateSchedulingPageSuccess:
    """Create a page; its link is `<your prefix>/<name>`. No calendar needed (S7)."""
    services = info.context.services
    row = await use_case.create_page(services, info.context.viewer, input.to_draft())
    return CreateSchedulingPageSuccess(page=await _with_url(info, row))


@fails_with(ValidationError, SlugTaken, NotFound, PermissionDenied)
async def update_scheduling_page(
    info: Info, input: UpdateSchedulingPageInput
) -> UpdateSchedulingPageSuccess:
    """Change a page; a new `name` keeps the page's original prefix (S14)."""
    services = info.context.services
    page_pk = require_pk(input.id, "SchedulingPage", field="id", kind="scheduling page")
    row = await use_case.update_page(services, info.context.viewer, page_pk, input.to_draft())
    return UpdateSchedulingPageSuccess(page=await _with_url(info, row))


@fails_with(NotFound, PermissionDenied, ValidationError)
async def delete_scheduling_page(
    info: Info, input: DeleteSchedulingPageInput
) -> DeleteSchedulingPageSuccess:
    """Delete a page; its bookings are kept."""
    services = info.context.services
    page_pk = require_pk(input.id, "SchedulingPage", field="id", kind="scheduling page")
    await use_case.delete_page(services, info.context.viewer, page_pk)
    return DeleteSchedulingPageSuccess(deleted_id=input.id)
