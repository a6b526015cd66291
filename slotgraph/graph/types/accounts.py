"""Users, connected domains and inboxes."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import strawberry

from slotgraph.graph.relay import Node, to_global_id
from slotgraph.models.enums import InboxKind, InboxStatus, Role, Seat, Tier

if TYPE_CHECKING:
    from slotgraph.models import ConnectedDomain as DomainRow
    from slotgraph.models import InboxConnection as InboxRow

SeatType = strawberry.enum(Seat, name="Seat")
TierType = strawberry.enum(Tier, name="Tier")
RoleType = strawberry.enum(Role, name="Role")
InboxKindType = strawberry.enum(InboxKind, name="InboxKind")
InboxStatusType = strawberry.enum(InboxStatus, name="InboxStatus")


@strawberry.type(description="A domain connected in the domain manager (S15).")
class ConnectedDomain(Node):
    domain: str
    robots_disallow_meetings: bool

    @classmethod
    def from_row(cls, row: DomainRow) -> ConnectedDomain:
        return cls(
            id=to_global_id("ConnectedDomain", row.id),
            domain=row.domain,
            robots_disallow_meetings=row.robots_disallow_meetings,
        )


@strawberry.type(description="An email integration (S4, S5).")
class InboxConnection(Node):
    email: str
    kind: InboxKindType  # type: ignore[valid-type]
    status: InboxStatusType  # type: ignore[valid-type]
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: InboxRow) -> InboxConnection:
        return cls(
            id=to_global_id("InboxConnection", row.id),
            email=row.email,
            kind=row.kind,
            status=row.status,
            created_at=row.created_at,
        )
