"""createUser, updateUser, deactivateUser, reactivateUser: account administration (C23, C39).
Admins only (a member's token answers PermissionDenied); the rules live in
`slotgraph.usecases.users`."""

from __future__ import annotations

from typing import Any

import strawberry

from slotgraph.graph.context import Info
from slotgraph.graph.errors import LastAdmin
from slotgraph.graph.errors import NotFound
from slotgraph.graph.errors import PermissionDenied
from slotgraph.graph.errors import PlanFeatureRequired
from slotgraph.graph.errors import ValidationError
from slotgraph.graph.relay import require_pk
from slotgraph.graph.results import fails_with
from slotgraph.graph.types.accounts import InboxKindType
from slotgraph.graph.types.accounts import RoleType
from slotgraph.graph.types.accounts import SeatType
from slotgraph.graph.types.accounts import TierType
from slotgraph.graph.types.bookings import Booking
from slotgraph.graph.types.users import User
from slotgraph.usecases import deactivation
from slotgraph.usecases import users as use_case
from slotgraph.usecases.values import KEEP

_UNSET: Any = strawberry.UNSET


@strawberry.input(description="What an admin sets on a user; fields left out stay as they are.")
class UserFields:
    name: str | None = _UNSET
    email: str | None = _UNSET
    time_zone: str | None = _UNSET
    locale: str | None = _UNSET
    role: RoleType | None = _UNSET  # type: ignore[valid-type]
    seat: SeatType | None = _UNSET  # type: ignore[valid-type]
    tier: TierType | None = _UNSET  # type: ignore[valid-type]
    has_personal_email_access: bool | None = strawberry.field(
        default=_UNSET, description="May connect a calendar (S3)."
    )
    inbox_kind: InboxKindType | None = strawberry.field(  # type: ignore[valid-type]
        default=_UNSET,
        description="The kind of the user's own inbox (S4); null removes it.",
    )

    def draft(self) -> use_case.UserDraft:
        def given(value: Any, nullable: bool = False) -> Any:
            if value is strawberry.UNSET or (value is None and not nullable):
                return KEEP
            return value

        return use_case.UserDraft(
            name=given(self.name),
            email=given(self.email),
            time_zone=given(self.time_zone),
            locale=given(self.locale),
            role=given(self.role),
            seat=given(self.seat),
            tier=given(self.tier),
            personal_email_access=given(self.has_personal_email_access),
            inbox_kind=given(self.inbox_kind, nullable=True),
        )


@strawberry.input
class UpdateUserInput(UserFields):
    id: strawberry.ID


@strawberry.input
class UserIdInput:
    id: strawberry.ID


@strawberry.type
class CreateUserSuccess:
    user: User
    token: str = strawberry.field(
        description="The new user's first API token; shown only now (C37)."
    )


@strawberry.type
class UserSuccess:
    user: User


@strawberry.type
class DeactivateUserSuccess:
    user: User
    future_bookings: list[Booking] = strawberry.field(
        description="The user's bookings still to come, soonest first (at most 500): they "
        "stay booked, so reassign or cancel them (C50)."
    )


@fails_with(ValidationError, PlanFeatureRequired, PermissionDenied)
async def create_user(info: Info, input: UserFields) -> CreateUserSuccess:
    """Add a user to your account (admins); answers their first token once."""
    row, token = await use_case.create_account_user(
        info.context.services, info.context.viewer, input.draft()
    )
    return CreateUserSuccess(user=User.from_row(row), token=token)


@fails_with(
    NotFound, ValidationError, PlanFeatureRequired, LastAdmin, PermissionDenied, union="UserResult"
)
async def update_user(info: Info, input: UpdateUserInput) -> UserSuccess:
    """Change a user of your account (admins)."""
    pk = require_pk(input.id, "User", field="id", kind="user")
    row = await use_case.update_account_user(
        info.context.services, info.context.viewer, pk, input.draft()
    )
    return UserSuccess(user=User.from_row(row))


@fails_with(NotFound, ValidationError, LastAdmin, PermissionDenied)
async def deactivate_user(info: Info, input: UserIdInput) -> DeactivateUserSuccess:
    """Deactivate a user (admins): their tokens, pages, syncs and push channels stop at
    once (C23, C50); their bookings stay and are listed for you to act on."""
    pk = require_pk(input.id, "User", field="id", kind="user")
    done = await deactivation.deactivate_user(info.context.services, info.context.viewer, pk)
    return DeactivateUserSuccess(
        user=User.from_row(done.user),
        future_bookings=[Booking.from_row(row) for row in done.future_bookings],
    )


@fails_with(
    NotFound, ValidationError, PlanFeatureRequired, LastAdmin, PermissionDenied, union="UserResult"
)
async def reactivate_user(info: Info, input: UserIdInput) -> UserSuccess:
    """Undo deactivateUser (C50)."""
    pk = require_pk(input.id, "User", field="id", kind="user")
    row = await use_case.set_user_active(
        info.context.services, info.context.viewer, pk, active=True
    )
    return UserSuccess(user=User.from_row(row))
