"""Webhooks in tests: the example receiver (examples/webhook_receiver.py) served over real
HTTP on loopback, in front of it a switch that can answer 503 or stall first, and the app
with loopback allowed (C46) and fast retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from collections.abc import Iterator
from contextlib import asynccontextmanager
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

from examples.webhook_receiver import create_app as receiver_app
from slotgraph.server.app import create_app
from slotgraph.server.settings import Settings
from tests.helpers.graphql import GraphQLClient
from tests.helpers.live import serve_in_thread

LOOPBACK = ("127.0.0.0/8",)

CREATE = """
mutation Create($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    __typename
    ... on CreateWebhookEndpointSuccess { secret webhookEndpoint { id url eventTypes enabled } }
    ... on Error { message field code }
  }
}
"""


def hook_settings(settings: Settings, **changes: Any) -> Settings:
    """The suite's settings with loopback allowed for user-supplied URLs (C46) and retries
    a fraction of a second apart."""
    return settings.model_copy(
        update={
            "outbound_allowed_networks": LOOPBACK,
            "webhook_initial_backoff_seconds": 0.2,
            "webhook_max_backoff_seconds": 0.5,
            "webhook_max_retry_after_seconds": 1.0,
            "outbox_sweep_seconds": 0.5,
            **changes,
        }
    )


@asynccontextmanager
async def hook_app(
    settings: Settings, database_url: str, **changes: Any
) -> AsyncIterator[tuple[Starlette, GraphQLClient]]:
    """An app with `hook_settings` (and `changes`) and a GraphQL client to it."""
    app = create_app(hook_settings(settings, **changes), database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, GraphQLClient(client)


@dataclass
class Receiver:
    """The example receiver once `secret` is set; every request's `webhook-id` is recorded
    in `seen`, the first `fail_first` are answered 503 (with `retry_after`, if set) and the
    first `stall_first` wait `stall_seconds` before they are handled."""

    url: str = ""
    fail_first: int = 0
    retry_after: str | None = None
    stall_first: int = 0
    stall_seconds: float = 0.0
    seen: list[str] = field(default_factory=list)
    app: Starlette | None = None

    def use_secret(self, secret: str) -> None:
        self.app = receiver_app(secret)

    @property
    def events(self) -> dict[str, dict[str, Any]]:
        assert self.app is not None
        events: dict[str, dict[str, Any]] = self.app.state.events
        return events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "use_secret first"
        headers = dict(scope.get("headers", []))
        self.seen.append(headers.get(b"webhook-id", b"").decode())
        if len(self.seen) <= self.stall_first:
            await asyncio.sleep(self.stall_seconds)
        if len(self.seen) <= self.fail_first:
            extra = [(b"retry-after", self.retry_after.encode())] if self.retry_after else []
            await send({"type": "http.response.start", "status": 503, "headers": extra})
            await send({"type": "http.response.body", "body": b"busy"})
            return
        await self.app(scope, receive, send)


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    with serve_in_thread(Starlette(routes=[Mount("/", app=receiver)])) as base:
        receiver.url = f"{base}/webhooks"
        yield receiver


async def create_endpoint(
    gql: GraphQLClient, token: str, url: str, **fields: Any
) -> dict[str, Any]:
    result = await gql(CREATE, {"input": {"url": url, **fields}}, token=token)
    assert "errors" not in result, result
    created: dict[str, Any] = result["data"]["createWebhookEndpoint"]
    return created


async def deliver_to(gql: GraphQLClient, token: str, receiver: Receiver) -> dict[str, Any]:
    """An endpoint delivering to `receiver`, which verifies with its new secret; the
    `createWebhookEndpoint` payload."""
    created = await create_endpoint(gql, token, receiver.url)
    receiver.use_secret(created["secret"])
    return created
