"""createApiToken, revokeApiToken: a user's own tokens (C23, C37); the rules live in
`slotgraph.usecases.api_tokens`."""

from __future__ import annotations

import datetime as dt

import strawberry

from slotgraph.graph.context import Info
from slotgraph.graph.errors import NotFound
from slotgraph.graph.errors import PermissionDenied
from slotgraph.graph.errors import ValidationError
from slotgraph.graph.relay import require_pk
from slotgraph.graph.results import fails_with
from slotgraph.graph.types.api_tokens import ApiToken
from slotgraph.usecases import api_tokens as use_case


@strawberry.input
class CreateApiTokenInput:
    name: str
    scopes: list[str] = strawberry.field(
        description="At most the calling token's scopes and what your role allows (C37)."
    )
    expires_at: dt.datetime | None = None


@strawberry.type
class CreateApiTokenSuccess:
    api_token: ApiToken
    secret: str = strawberry.field(
        description="Send it as `Authorization: Bearer <secret>`; shown only now."
    )


@strawberry.input
class RevokeApiTokenInput:
    id: strawberry.ID


@strawberry.type
class RevokeApiTokenSuccess:
    api_token: ApiToken


@fails_with(ValidationError, PermissionDenied)
async def create_api_token(info: Info, input: CreateApiTokenInput) -> CreateApiTokenSuccess:
    """Create one of your API tokens (needs `tokens:write`)."""
    row, secret = await use_case.create_api_token(
        info.context.services,
        info.context.viewer,
        name=input.name[:1000],
        scopes=input.scopes[:50],
        expires_at=input.expires_at,
    )
    return CreateApiTokenSuccess(api_token=ApiToken.from_row(row), secret=secret)


@fails_with(NotFound, ValidationError, PermissionDenied)
async def revoke_api_token(info: Info, input: RevokeApiTokenInput) -> RevokeApiTokenSuccess:
    """Revoke one of your API tokens: HTTP refuses it at once and its open subscriptions end
    within seconds on every process (C23)."""
    pk = require_pk(input.id, "ApiToken", field="id", kind="API token")
    row = await use_case.revoke_api_token(info.context.services, info.context.viewer, pk)
    return RevokeApiTokenSuccess(api_token=ApiToken.from_row(row))
