"""Connected domains: add, verify (C40) and remove them (admins), and the per-domain
choices (updateConnectedDomain: S15 robots.txt)."""

from __future__ import annotations

import strawberry

from slotgraph.graph.context import Info
from slotgraph.graph.errors import DomainCheckUnavailable
from slotgraph.graph.errors import DomainNotVerified
from slotgraph.graph.errors import DomainTaken
from slotgraph.graph.errors import NotFound
from slotgraph.graph.errors import PermissionDenied
from slotgraph.graph.errors import PlanFeatureRequired
from slotgraph.graph.errors import ValidationError
from slotgraph.graph.relay import require_pk
from slotgraph.graph.relay import to_global_id
from slotgraph.graph.results import fails_with
from slotgraph.graph.types.accounts import ConnectedDomain
from slotgraph.usecases import domain_verification as verification
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


@fails_with(NotFound, PermissionDenied, ValidationError)
async def update_connected_domain(
    info: Info, input: UpdateConnectedDomainInput
) -> UpdateConnectedDomainSuccess:
    """Change a connected domain of your account; fields left out stay as they are."""
    services = info.context.services
    row = await use_case.update_connected_domain(
        services,
        info.context.viewer,
        require_pk(input.id, "ConnectedDomain", field="id", kind="connected domain"),
        disallow_meetings_indexing=input.disallow_meetings_indexing,
    )
    return UpdateConnectedDomainSuccess(domain=ConnectedDomain.from_row(row))


@strawberry.input
class AddConnectedDomainInput:
    domain: str = strawberry.field(description="A host name such as `meet.example.com`.")


@strawberry.input
class ConnectedDomainIdInput:
    id: strawberry.ID


@strawberry.type
class ConnectedDomainSuccess:
    domain: ConnectedDomain


@strawberry.type
class RemoveConnectedDomainSuccess:
    removed_id: strawberry.ID


def _pk(id: strawberry.ID) -> int:
    return require_pk(id, "ConnectedDomain", field="id", kind="connected domain")


@fails_with(ValidationError, DomainTaken, PlanFeatureRequired, PermissionDenied)
async def add_connected_domain(
    info: Info, input: AddConnectedDomainInput
) -> ConnectedDomainSuccess:
    """Connect a domain to your account (admins). It is PENDING until its
    `verificationRecord` is published in DNS and verifyConnectedDomain finds it (C40)."""
    row = await verification.add_connected_domain(
        info.context.services, info.context.viewer, input.domain
    )
    return ConnectedDomainSuccess(domain=ConnectedDomain.from_row(row))


@fails_with(
    DomainNotVerified,
    DomainCheckUnavailable,
    DomainTaken,
    NotFound,
    ValidationError,
    PermissionDenied,
)
async def verify_connected_domain(
    info: Info, input: ConnectedDomainIdInput
) -> ConnectedDomainSuccess:
    """Look up the domain's TXT record now (admins); found, the domain is VERIFIED (C40)."""
    row = await verification.verify_connected_domain(
        info.context.services, info.context.viewer, _pk(input.id)
    )
    return ConnectedDomainSuccess(domain=ConnectedDomain.from_row(row))


@fails_with(NotFound, ValidationError, PermissionDenied)
async def remove_connected_domain(
    info: Info, input: ConnectedDomainIdInput
) -> RemoveConnectedDomainSuccess:
    """Disconnect a domain (admins); pages it hosted answer on the app domain again."""
    pk = await verification.remove_connected_domain(
        info.context.services, info.context.viewer, _pk(input.id)
    )
    return RemoveConnectedDomainSuccess(removed_id=to_global_id("ConnectedDomain", pk))
