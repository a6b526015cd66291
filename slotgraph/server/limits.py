"""The limits on public operations wired into the process (C25, C33, C34): `PublicLimits`
built from settings, and the graphql-transport-ws handler that caps anonymous sockets per
client address and operations per anonymous socket, per process.

A socket past the address cap is closed with 1013 ("try again later") and a reason
saying so, right after its `connection_init` (the credential decides whether it is
anonymous, C32). A subscription past the per-socket cap, or past the address's read limit,
gets an `error` message for that operation only, as Strawberry answers its own per-socket
cap (`SLOTGRAPH_MAX_SUBSCRIPTIONS_PER_SOCKET`, which still holds for every socket).
"""

from __future__ import annotations

import functools
from dataclasses import fields
from typing import TYPE_CHECKING

import httpx
from graphql import GraphQLError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

from slotgraph.graph.context import Context
from slotgraph.graph.errors import ErrorCode
from slotgraph.limits.addresses import TrustedProxies
from slotgraph.limits.addresses import client_address
from slotgraph.limits.botcheck import VERIFY_URLS
from slotgraph.limits.botcheck import BotCheck
from slotgraph.limits.policy import LimitPolicy
from slotgraph.limits.policy import PublicLimits
from slotgraph.usecases.errors import RateLimitedError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker
    from starlette.requests import HTTPConnection
    from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage
    from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

    from slotgraph.server.settings import Settings

SOCKET_CAP_CLOSE_CODE = 1013


@functools.cache
def _trusted(entries: tuple[str, ...]) -> TrustedProxies:
    return TrustedProxies.parse(entries)


def client_address_of(request: HTTPConnection, settings: Settings) -> str:
    """The client address of an HTTP request or websocket (C25)."""
    peer = request.client.host if request.client is not None else None
    forwarded = request.headers.getlist("x-forwarded-for")
    return client_address(peer, forwarded, _trusted(settings.trusted_proxies))


def limit_policy(settings: Settings) -> LimitPolicy:
    """The public limits' numbers: each `LimitPolicy` field `x` is the setting `public_x`
    (`SLOTGRAPH_PUBLIC_X`), already validated by the settings; tests/server check that every
    field has its setting, of the field's type, and every such setting its field."""
    return LimitPolicy(
        **{field.name: getattr(settings, f"public_{field.name}") for field in fields(LimitPolicy)}
    )


def build_limits(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], http: httpx.AsyncClient
) -> PublicLimits:
    policy = limit_policy(settings)
    bot_check = None
    verifier = settings.bot_check_verifier
    if verifier is not None and settings.bot_check_secret_key and settings.bot_check_site_key:
        bot_check = BotCheck(
            verifier=verifier,
            site_key=settings.bot_check_site_key,
            secret_key=settings.bot_check_secret_key.get_secret_value(),
            verify_url=settings.bot_check_verify_url or VERIFY_URLS[verifier],
            http=http,
            timeout_seconds=settings.bot_check_timeout_seconds,
        )
    return PublicLimits(policy, sessionmaker, bot_check, _trusted(settings.trusted_proxies))


class LimitedTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's graphql-transport-ws handler with the anonymous socket caps (C33)."""

    _holds_place = False

    @property
    def _limits(self) -> PublicLimits:
        return self.context.services.limits

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            if self._holds_place:
                self._limits.close_socket(self.context.client_address)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if not self.connection_acknowledged or self.context.viewer is not None:
            return
        if self._limits.open_socket(self.context.client_address):
            self._holds_place = True
            return
        cap = self._limits.policy.sockets_per_address if self._limits.policy else 0
        await self.websocket.close(
            code=SOCKET_CAP_CLOSE_CODE,
            reason=f"Too many open sockets from your address (at most {cap}); close one first.",
        )

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        policy = self._limits.policy
        if self.connection_acknowledged and self.context.viewer is None and policy is not None:
            refusal = None
            if len(self.operations) >= policy.subscriptions_per_socket:
                refusal = GraphQLError(
                    "Subscription limit reached: an anonymous connection holds at most "
                    f"{policy.subscriptions_per_socket} operations at once; complete one first."
                )
            else:
                try:
                    self._limits.admit_read(self.context.client_address)
                except RateLimitedError as exc:
                    refusal = GraphQLError(
                        exc.message,
                        extensions={
                            "code": ErrorCode.RATE_LIMITED.value,
                            "retryAfterSeconds": exc.retry_after_seconds,
                        },
                    )
            if refusal is not None:
                await self.send_message(
                    {"id": message["id"], "type": "error", "payload": [refusal.formatted]}
                )
                return
        await super().handle_subscribe(message)
