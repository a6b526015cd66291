"""API tokens: random bearer secrets shown once and stored only as a SHA-256 digest.

A plain digest (not a password hash) is right here: tokens carry 256 bits of entropy,
so there is nothing to brute-force, and lookup stays one indexed query per request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy import update

from slotgraph.models import ApiToken
from slotgraph.models import User
from slotgraph.models.enums import Scope
from slotgraph.usecases.roles import role_scopes
from slotgraph.usecases.viewer import Viewer

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy.ext.asyncio import AsyncSession

    from slotgraph.usecases.services import Services

TOKEN_PREFIX = "sg_"  # noqa: S105 - a public prefix
LAST_USED_PRECISION = dt.timedelta(minutes=1)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def looks_like_token(raw: str) -> bool:
    return raw.startswith(TOKEN_PREFIX) and 20 < len(raw) < 200


async def issue_token(
    session: AsyncSession,
    user: User,
    name: str,
    scopes: Iterable[Scope] = tuple(Scope),
    *,
    expires_at: dt.datetime | None = None,
) -> str:
    """Create a token for `user` in the caller's transaction and return it (only now)."""
    return (await issue_token_row(session, user, name, scopes, expires_at=expires_at))[1]


async def issue_token_row(
    session: AsyncSession,
    user: User,
    name: str,
    scopes: Iterable[Scope],
    *,
    expires_at: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """`issue_token`, answering the stored row as well (createApiToken shows both)."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        account_id=user.account_id,
        user_id=user.id,
        name=name,
        token_hash=hash_token(raw),
        scopes=sorted(scope.value for scope in set(scopes)),
        expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    return row, raw


def _usable(now: dt.datetime) -> ColumnElement[bool]:
    """A token that authenticates (joined with its user): not revoked, not expired, its user
    not deactivated (C23)."""
    return (
        ApiToken.revoked_at.is_(None)
        & (ApiToken.expires_at.is_(None) | (ApiToken.expires_at > now))
        & User.deactivated_at.is_(None)
    )


async def authenticate(services: Services, raw: str) -> Viewer | None:
    """The viewer a token stands for, or None when it is unknown, revoked, expired or its
    user deactivated (C23). Its scopes are cut to what the user's role allows now (C37)."""
    if not looks_like_token(raw):
        return None
    now = services.clock()
    async with services.sessionmaker() as session:
        row = (
            await session.execute(
                select(
                    ApiToken.id,
                    ApiToken.user_id,
                    ApiToken.account_id,
                    ApiToken.scopes,
                    ApiToken.expires_at,
                    ApiToken.last_used_at,
                    User.role,
                )
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.token_hash == hash_token(raw), _usable(now))
            )
        ).one_or_none()
    if row is None:
        return None
    if row.last_used_at is None or row.last_used_at <= now - LAST_USED_PRECISION:
        await _mark_used(services, row.id, now)
    known = {scope.value: scope for scope in Scope}
    return Viewer(
        user_id=row.user_id,
        account_id=row.account_id,
        scopes=frozenset(known[s] for s in row.scopes if s in known) & role_scopes(row.role),
        token_id=row.id,
        expires_at=row.expires_at,
    )


async def _mark_used(services: Services, token_id: int, now: dt.datetime) -> None:
    """C48: write the last-used time at most once a minute per token, so authentication is a
    read nearly always; the guard in the WHERE keeps concurrent requests from writing twice."""
    async with services.sessionmaker.begin() as session:
        await session.execute(
            update(ApiToken)
            .where(
                ApiToken.id == token_id,
                (ApiToken.last_used_at.is_(None))
                | (ApiToken.last_used_at <= now - LAST_USED_PRECISION),
            )
            .values(last_used_at=now)
        )


async def token_is_active(services: Services, token_id: int) -> bool:
    """Whether the token still authenticates its user (not revoked or expired, user active):
    what an open websocket re-checks when told its token may have been revoked."""
    now = services.clock()
    async with services.sessionmaker() as session:
        found = await session.scalar(
            select(ApiToken.id)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.id == token_id, _usable(now))
        )
    return found is not None
