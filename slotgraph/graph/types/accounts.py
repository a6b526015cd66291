"""Users, connected domains and inboxes."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import strawberry

from slotgraph.graph.relay import Node
from slotgraph.graph.rows import from_columns
from slotgraph.models.enums import DomainStatus
from slotgraph.models.enums import InboxKind
from slotgraph.models.enums import InboxStatus
from slotgraph.models.enums import Role
from slotgraph.models.enums import Seat
from slotgraph.models.enums import Tier
from slotgraph.usecases.domain_verification import verification_record
from slotgraph.usecases.verified_domains import domain_status

if TYPE_CHECKING:
    from slotgraph.models import ConnectedDomain as DomainRow
    from slotgraph.models import InboxConnection as InboxRow

SeatType = strawberry.enum(Seat, name="Seat")
TierType = strawberry.enum(Tier, name="Tier")
RoleType = strawberry.enum(Role, name="Role")
InboxKindType = strawberry.enum(InboxKind, name="InboxKind")
InboxStatusType = strawberry.enum(InboxStatus, name="InboxStatus")
DomainStatusType = strawberry.enum(
    DomainStatus,
    name="DomainStatus",
    description="Whether a connected domain's ownership is proven (C40).",
)


@strawberry.type(description="The DNS record that proves a domain is yours (C40).")
class VerificationRecord:
    name: str = strawberry.field(
        description="The record's full name, e.g. `_slotgraph-verify.meet.example.com`."
    )
    type: str = strawberry.field(description="Always `TXT`.")
    value: str


@strawberry.type(
    description="A domain connected in the domain manager (S15). It hosts pages and may be "
    "chosen as a meeting domain only while `status` is VERIFIED (C40)."
)
class ConnectedDomain(Node):
    domain: str
    robots_disallow_meetings: bool
    status: DomainStatusType  # type: ignore[valid-type]
    verification_record: VerificationRecord = strawberry.field(
        description="Publish this record, then run verifyConnectedDomain; keep it published, "
        "since the domain is checked again periodically."
    )
    verified_at: dt.datetime | None = strawberry.field(
        description="Since when it is proven; null while pending or lapsed."
    )
    checked_at: dt.datetime | None = strawberry.field(description="The last check of its record.")

    @classmethod
    def from_row(cls, row: DomainRow) -> ConnectedDomain:
        record = verification_record(row)
        return from_columns(
            cls,
            row,
            status=domain_status(row),
            verification_record=VerificationRecord(
                name=record.name, type=record.type, value=record.value
            ),
        )


@strawberry.type(description="An email integration (S4, S5).")
class InboxConnection(Node):
    email: str
    kind: InboxKindType  # type: ignore[valid-type]
    status: InboxStatusType  # type: ignore[valid-type]
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: InboxRow) -> InboxConnection:
        return from_columns(cls, row)
