"""Account administration (C23, C37, C39): admins create, change and deactivate the users of
their own account; the first admin comes from `slotgraph create-account`.

The rules live here once: who is an admin
(re-read from the database on every call, since a token outlives a role change, C37), what
a plan allows (C39) and that a deactivated user's pages stop taking bookings (C23).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlalchemy import select

from slotgraph.models import Account
from slotgraph.models import InboxConnection
from slotgraph.models import User
from slotgraph.models.enums import InboxKind
from slotgraph.models.enums import Role
from slotgraph.models.enums import Scope
from slotgraph.models.enums import Seat
from slotgraph.models.enums import Tier
from slotgraph.scheduling.rules import check_time_zone
from slotgraph.usecases import reads
from slotgraph.usecases.accounts import create_account
from slotgraph.usecases.accounts import create_user
from slotgraph.usecases.api_tokens import end_user_tokens
from slotgraph.usecases.errors import HostDeactivatedError
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.errors import LastAdminError
from slotgraph.usecases.errors import PermissionDeniedError
from slotgraph.usecases.errors import PlanFeatureRequiredError
from slotgraph.usecases.roles import role_scopes
from slotgraph.usecases.scoped_rows import RowLookup
from slotgraph.usecases.scoped_rows import in_account
from slotgraph.usecases.tokens import issue_token
from slotgraph.usecases.values import KEEP
from slotgraph.usecases.values import Keep
from slotgraph.usecases.viewer import Viewer
from slotgraph.usecases.viewer import require_viewer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from slotgraph.usecases.services import Services

# Tier order, lowest first: a plan holds its own tier and every one below it (C39).
TIER_ORDER = (Tier.FREE, Tier.STARTER, Tier.PROFESSIONAL, Tier.ENTERPRISE)
FIRST_TOKEN_NAME = "first token"  # noqa: S105 - a label, not a secret


@dataclasses.dataclass(frozen=True, slots=True)
class UserDraft:
    """What an admin sets on a user; KEEP leaves a field as it is (updateUser)."""

    name: str | Keep = KEEP
    email: str | Keep = KEEP
    time_zone: str | Keep = KEEP
    locale: str | Keep = KEEP
    role: Role | Keep = KEEP
    seat: Seat | Keep = KEEP
    tier: Tier | Keep = KEEP
    personal_email_access: bool | Keep = KEEP
    inbox_kind: InboxKind | None | Keep = KEEP


def check_host_active(host: User) -> None:
    """C23, C50: a deactivated user's pages take no bookings (a typed reason, not NotFound,
    so the contact learns to reach the host another way)."""
    if host.deactivated_at is not None:
        raise HostDeactivatedError(
            f"{host.name} is no longer taking bookings here; contact them directly.",
            field="pageSlug",
        )


async def require_admin(session: AsyncSession, viewer: Viewer | None) -> tuple[Viewer, User]:
    """The viewer, holding the `admin` scope and, as the database says now, the admin role."""
    viewer = require_viewer(viewer, Scope.ADMIN)
    me = await session.get(User, viewer.user_id)
    if me is None or me.role is not Role.ADMIN or me.deactivated_at is not None:
        raise PermissionDeniedError(
            "Only an admin of this account may manage its users.", required_scope="admin"
        )
    return viewer, me


async def _lock_admins(session: AsyncSession, viewer: Viewer) -> set[int]:
    """The account's active admins, their rows locked (in id order, so two admins' calls
    cannot deadlock) until the transaction ends: two admins demoting or deactivating each
    other at once take turns, and the second sees the first's change. Raises if the viewer
    is no longer among them (the other admin went first)."""
    admins = set(
        (
            await session.execute(
                select(User.id)
                .where(
                    User.account_id == viewer.account_id,
                    User.role == Role.ADMIN,
                    User.deactivated_at.is_(None),
                )
                .order_by(User.id)
                .with_for_update()
            )
        ).scalars()
    )
    if viewer.user_id not in admins:
        raise PermissionDeniedError(
            "Only an admin of this account may manage its users.", required_scope="admin"
        )
    return admins


def _keep_an_admin(admins: set[int], user: User, *, stays_admin: bool) -> None:
    """C37: an account keeps at least one active admin (`create-account` made the first)."""
    if user.id in admins and not stays_admin and not admins - {user.id}:
        raise LastAdminError(
            f"{user.name} is the account's only active admin; make another user admin first.",
            field="role",
        )


# A user of the viewer's account, locked; a foreign id is NotFound like a missing one (C9).
_USERS = RowLookup(User, in_account(User.account_id), "user")


async def _check_plan(session: AsyncSession, account: Account, user: User) -> None:
    """C39: the tier is at most the plan's, and paid seats are within the plan's counts."""
    if TIER_ORDER.index(user.tier) > TIER_ORDER.index(account.plan_tier):
        raise PlanFeatureRequiredError(
            f"The account's plan holds tiers up to {account.plan_tier.value}.", field="tier"
        )
    limit = {Seat.SALES: account.sales_seats, Seat.SERVICE: account.service_seats}.get(user.seat)
    if limit is None:
        return
    taken = await session.scalar(
        select(func.count())
        .select_from(User)
        .where(
            User.account_id == account.id,
            User.seat == user.seat,
            User.id != user.id,
            User.deactivated_at.is_(None),
        )
    )
    if (taken or 0) >= limit:
        raise PlanFeatureRequiredError(
            f"All {limit} {user.seat.value} seats of the account's plan are taken.", field="seat"
        )


def _apply(user: User, draft: UserDraft) -> None:
    if draft.name is not KEEP:
        name = draft.name.strip()
        if not 1 <= len(name) <= 200:
            raise InvalidInput("A name has 1 to 200 characters.", field="name")
        user.name = name
    if draft.email is not KEEP:
        email = draft.email.strip()
        if "@" not in email or len(email) > 320:
            raise InvalidInput("Give an email address.", field="email")
        user.email = email
    if draft.time_zone is not KEEP:
        user.time_zone = check_time_zone("timeZone", draft.time_zone)
    if draft.locale is not KEEP:
        if not 2 <= len(draft.locale) <= 35:
            raise InvalidInput("A locale is a BCP 47 tag such as en-US.", field="locale")
        user.locale = draft.locale
    for column in ("role", "seat", "tier", "personal_email_access"):
        value = getattr(draft, column)
        if value is not KEEP:
            setattr(user, column, value)


async def _email_taken(session: AsyncSession, user: User) -> bool:
    other = await session.scalar(
        select(User.id).where(
            User.account_id == user.account_id,
            func.lower(User.email) == user.email.lower(),
            User.id != user.id,
        )
    )
    return other is not None


async def _set_inbox(session: AsyncSession, user: User, kind: InboxKind | None) -> None:
    """S4: the kind of the user's own inbox; a SHARED one bars connecting a calendar."""
    inbox = (
        await session.execute(
            select(InboxConnection).where(
                InboxConnection.user_id == user.id,
                func.lower(InboxConnection.email) == user.email.lower(),
            )
        )
    ).scalar_one_or_none()
    if kind is None:
        if inbox is not None:
            await session.delete(inbox)
        return
    if inbox is None:
        session.add(
            InboxConnection(
                account_id=user.account_id, user_id=user.id, email=user.email, kind=kind
            )
        )
    else:
        inbox.kind = kind


async def _save(session: AsyncSession, account: Account, user: User, draft: UserDraft) -> None:
    _apply(user, draft)
    await session.flush()
    if await _email_taken(session, user):
        raise InvalidInput("Another user of this account has this email.", field="email")
    await _check_plan(session, account, user)
    if draft.inbox_kind is not KEEP:
        await _set_inbox(session, user, draft.inbox_kind)
    await session.flush()


async def create_account_with_admin(
    session: AsyncSession, *, name: str, admin_email: str, admin_name: str | None = None
) -> tuple[Account, User, str]:
    """`slotgraph create-account`: the account, its first admin and that admin's first token
    (shown once, C37), in the caller's transaction."""
    account = await create_account(session, name)
    admin = await create_user(
        session, account, email=admin_email, name=admin_name or admin_email.split("@")[0]
    )
    admin.role = Role.ADMIN
    token = await issue_token(session, admin, FIRST_TOKEN_NAME, role_scopes(Role.ADMIN))
    return account, admin, token


async def create_account_user(
    services: Services, viewer: Viewer | None, draft: UserDraft
) -> tuple[User, str]:
    """createUser: a user of the admin's account and their first token, shown once (C37)."""
    if draft.name is KEEP or draft.email is KEEP:
        raise InvalidInput("A new user needs a name and an email.", field="email")
    async with services.sessionmaker.begin() as session:
        viewer, _ = await require_admin(session, viewer)
        account = await session.get(Account, viewer.account_id)
        assert account is not None
        user = await create_user(session, account, email=draft.email.strip(), name="new user")
        await _save(session, account, user, draft)
        token = await issue_token(session, user, FIRST_TOKEN_NAME, role_scopes(user.role))
    return user, token


async def update_account_user(
    services: Services, viewer: Viewer | None, user_id: int, draft: UserDraft
) -> User:
    """updateUser: fields left out stay as they are."""
    async with services.sessionmaker.begin() as session:
        viewer, _ = await require_admin(session, viewer)
        # A role change locks the admins before the user's row (one lock order everywhere).
        admins = await _lock_admins(session, viewer) if draft.role is not KEEP else None
        user = await _USERS.one(session, viewer, user_id)
        account = await session.get(Account, viewer.account_id)
        assert account is not None
        if admins is not None:
            _keep_an_admin(admins, user, stays_admin=draft.role is Role.ADMIN)
        await _save(session, account, user, draft)
    return user


async def set_user_active(
    services: Services, viewer: Viewer | None, user_id: int, *, active: bool
) -> User:
    """deactivateUser / reactivateUser (C23, C50). Deactivation takes effect at once: the
    token check, the page check and the sync claim all read `deactivated_at`. An admin cannot
    deactivate themself, nor the last other active admin (`_keep_an_admin`); reactivation
    takes a seat, so it is within the plan (C39), checked with the account's row locked so two
    reactivations cannot both take the last seat."""
    async with services.sessionmaker.begin() as session:
        viewer, _ = await require_admin(session, viewer)
        if active:
            account = await session.get(Account, viewer.account_id, with_for_update=True)
            assert account is not None
            user = await _USERS.one(session, viewer, user_id)
            if user.deactivated_at is not None:
                await _check_plan(session, account, user)
            user.deactivated_at = None
            return user
        admins = await _lock_admins(session, viewer)
        user = await _USERS.one(session, viewer, user_id)
        if user.id == viewer.user_id:
            raise InvalidInput("You cannot deactivate yourself; ask another admin.", field="id")
        _keep_an_admin(admins, user, stays_admin=False)
        if user.deactivated_at is None:
            user.deactivated_at = services.clock()
    await end_user_tokens(services, user.id)
    return user


async def get_account(services: Services, viewer: Viewer | None) -> Account:
    """The viewer's account (its plan is read-only, C39)."""
    viewer = require_viewer(viewer, Scope.READ)
    async with services.sessionmaker() as session:
        account = await session.get(Account, viewer.account_id)
    assert account is not None
    return account


async def list_users(
    services: Services, viewer: Viewer | None, first: int, after: int | None
) -> reads.Slice[User]:
    """The account's users, for its admins only (C23)."""
    async with services.sessionmaker() as session:
        admin, _ = await require_admin(session, viewer)
    return await reads.list_account_users(services.sessionmaker, admin, first, after)
