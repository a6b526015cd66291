"""updateConnectedDomain: the operator's per-domain choices (S15 robots.txt)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from slotgraph.graph.context import Info
from slotgraph.graph.errors import NotFound, PermissionDenied, ValidationError
from slotgraph.graph.relay import require_pk
from slotgraph.graph.types.accounts import ConnectedDomain
from slotgraph.usecases import domains as use_case


@strawberry.input
class UpdateConnectedDomainInput:
    id: strawberry.ID
    disallow_meetings_indexing: bool | None = strawberry.field(
        default=None,
        description="Serve `Disallow: /meetings*` in this domain's robots.txt (S15).",
    )


@strawberry.type
class UpdateConnectedDomainSuccess:
    domain: ConnectedDomain


UpdateConnectedDomainResult = Annotated[
    UpdateConnectedDomainSuccess | NotFound | PermissionDenied | ValidationError,
    strawberry.union("UpdateConnectedDomainResult"),
]


async def update_connected_domain(
    info: Info, input: UpdateConnectedDomainInput
) -> UpdateConnectedDomainResult:
    """Change a connected domain of your account; fields left out stay as they are."""
    services = info.context.services
    row = await use_case.update_connected_domain(
        services,
        info.context.viewer,
        require_pk(input.id, "ConnectedDomain", field="id", kind="connected domain"),
        disallow_meetings_indexing=input.disallow_meetings_indexing,
    )
    return UpdateConnectedDomainSuccess(domain=ConnectedDomain.from_row(row))
