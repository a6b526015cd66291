"""A user's own API tokens (C23, C37): create (the secret shown once), list (never the secret
or its digest) and revoke. Creating and revoking need the `tokens:write` scope; a new
token's scopes are at most the calling token's and what the user's role allows now.

A revocation takes effect at once over HTTP (authentication reads `revoked_at`) and is
published on the `token_revoked` channel after commit, so every process ends that token's
open subscriptions (`slotgraph.server.token_sockets`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select

from slotgraph.models import ApiToken
from slotgraph.models import User
from slotgraph.models.enums import Scope
from slotgraph.notices.revocations import publish_tokens_revoked
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.errors import PermissionDeniedError
from slotgraph.usecases.roles import role_scopes
from slotgraph.usecases.scoped_rows import RowLookup
from slotgraph.usecases.scoped_rows import of_user
from slotgraph.usecases.tokens import issue_token_row
from slotgraph.usecases.viewer import Viewer
from slotgraph.usecases.viewer import require_viewer

if TYPE_CHECKING:
    from slotgraph.usecases.services import Services

MAX_NAME_LENGTH = 200


def _scopes(values: Sequence[str]) -> frozenset[Scope]:
    known = {scope.value: scope for scope in Scope}
    unknown = [value for value in values if value not in known]
    if unknown:
        raise InvalidInput(
            f"Unknown scopes: {', '.join(unknown)}; known: {', '.join(known)}.", field="scopes"
        )
    if not values:
        raise InvalidInput("Give the token at least one scope.", field="scopes")
    return frozenset(known[value] for value in values)


async def create_api_token(
    services: Services,
    viewer: Viewer | None,
    *,
    name: str,
    scopes: Sequence[str],
    expires_at: dt.datetime | None,
) -> tuple[ApiToken, str]:
    """A new token of the viewer's and its secret, which is answered only now."""
    viewer = require_viewer(viewer, Scope.TOKENS_WRITE)
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise InvalidInput(f"A token name has 1 to {MAX_NAME_LENGTH} characters.", field="name")
    wanted = _scopes(scopes)
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise InvalidInput("Give `expiresAt` with its offset.", field="expiresAt")
        if expires_at <= services.clock():
            raise InvalidInput("`expiresAt` must be in the future.", field="expiresAt")
    async with services.sessionmaker.begin() as session:
        user = await session.get(User, viewer.user_id)
        assert user is not None  # an authenticated viewer's user exists
        beyond = wanted - (viewer.scopes & role_scopes(user.role))
        if beyond:
            names = ", ".join(sorted(scope.value for scope in beyond))
            raise PermissionDeniedError(
                f"A new token cannot hold more than this token and your role allow ({names}).",
                required_scope=sorted(scope.value for scope in beyond)[0],
            )
        return await issue_token_row(session, user, name, wanted, expires_at=expires_at)


_TOKENS = RowLookup(ApiToken, of_user(ApiToken.user_id), "API token")


async def revoke_api_token(services: Services, viewer: Viewer | None, token_id: int) -> ApiToken:
    """Revoke one of the viewer's tokens (the calling one too); revoking twice is a no-op."""
    viewer = require_viewer(viewer, Scope.TOKENS_WRITE)
    async with services.sessionmaker.begin() as session:
        token = await _TOKENS.one(session, viewer, token_id)
        if token.revoked_at is None:
            token.revoked_at = services.clock()
    await publish_tokens_revoked(services.pubsub, [token.id])
    return token


async def end_user_tokens(services: Services, user_id: int) -> None:
    """After a user's deactivation committed: end their tokens' open subscriptions (C23);
    HTTP already refuses them, since authentication reads the user's `deactivated_at`."""
    async with services.sessionmaker() as session:
        ids = (
            await session.execute(
                select(ApiToken.id).where(
                    ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None)
                )
            )
        ).scalars()
        token_ids = list(ids)
    await publish_tokens_revoked(services.pubsub, token_ids)
