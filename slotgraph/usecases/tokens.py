"""API tokens: random bearer secrets shown once and stored only as a SHA-256 digest.

A plain digest (not a password hash) is right here: tokens carry 256 bits of entropy,
so there is nothing to brute-force, and lookup stays one indexed query per request.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import select

from slotgraph.models import ApiToken, User
from slotgraph.models.enums import Scope
from slotgraph.usecases.roles import role_scopes
from slotgraph.usecases.viewer import Viewer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from slotgraph.usecases.services import Services

TOKEN_PREFIX = "sg_"  # noqa: S105 - a public prefix


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def looks_like_token(raw: str) -> bool:
    return raw.startswith(TOKEN_PREFIX) and 20 < len(raw) < 200


async def issue_token(
    session: AsyncSession, user: User, name: str, scopes: Iterable[Scope] = tuple(Scope)
) -> str:
    """Create a token for `user` in the caller's transaction and return it (only now)."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            account_id=user.account_id,
            user_id=user.id,
            name=name,
            token_hash=hash_token(raw),
            scopes=sorted(scope.value for scope in set(scopes)),
        )
    )
    await session.flush()
    return raw


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
                    ApiToken.id, ApiToken.user_id, ApiToken.account_id, ApiToken.scopes, User.role
                )
                .join(User, User.id == ApiToken.user_id)
                .where(
                    ApiToken.token_hash == hash_token(raw),
                    ApiToken.revoked_at.is_(None),
                    (ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > now),
                    User.deactivated_at.is_(None),
                )
            )
        ).one_or_none()
    if row is None:
        return None
    known = {scope.value: scope for scope in Scope}
    return Viewer(
        user_id=row.user_id,
        account_id=row.account_id,
        scopes=frozenset(known[s] for s in row.scopes if s in known) & role_scopes(row.role),
        token_id=row.id,
    )
