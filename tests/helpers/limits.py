"""Apps with low limits on public operations (C25, C33, C34) and clients calling them from
a chosen address, through httpx's ASGI transport (the peer address is the transport's
`client`, as uvicorn sets it from the socket)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette

from slotgraph.models.crypto import generate_key
from slotgraph.server.app import create_app
from slotgraph.server.settings import Mode
from slotgraph.server.settings import Settings
from tests.fakes.botcheck import SECRET
from tests.fakes.botcheck import SITE_KEY
from tests.helpers.graphql import PUBLIC_BASE_URL
from tests.helpers.graphql import GraphQLClient

BOOK = """
mutation Book($input: BookMeetingInput!) {
  bookMeeting(input: $input) {
    __typename
    ... on BookMeetingSuccess { booking { start } }
    ... on Error { message field code }
    ... on RateLimited { retryAfterSeconds }
    ... on BotCheckUnavailable { retryable }
  }
}
"""
PREFILL = """
query { bookingFormPrefill(pageSlug: "nobody/none", domain: "meet.example.test",
                           manageToken: "sgm_unknown") { __typename } }
"""


def bot_check_settings(verify_url: str) -> dict[str, Any]:
    """Settings naming Turnstile, with the fake verifier's keys at `verify_url` (C34)."""
    return {
        "bot_check_verifier": "turnstile",
        "bot_check_site_key": SITE_KEY,
        "bot_check_secret_key": SECRET,
        "bot_check_verify_url": verify_url,
        "bot_check_timeout_seconds": 2,
    }


def limited_settings(database_url: str, **limits: Any) -> Settings:
    return Settings(
        mode=Mode.PRODUCTION,
        database_url=database_url,
        secret_keys=(generate_key(),),
        public_base_url=PUBLIC_BASE_URL,
        **limits,
    )


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Starlette]:
    app = create_app(settings, settings.database_url or "")
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def client_at(
    app: Starlette, address: str, headers: dict[str, str] | None = None
) -> AsyncIterator[GraphQLClient]:
    """A GraphQL client whose requests come from `address` (the socket's peer)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40_000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=headers or {}
    ) as http:
        yield GraphQLClient(http)


def booking(slug: str, start: dt.datetime, email: str, **extra: Any) -> dict[str, Any]:
    """bookMeeting's variables: `start` on the page, as the contact with `email`."""
    return {
        "input": {
            "pageSlug": slug,
            "start": start.isoformat(),
            "timeZone": "UTC",
            "contact": {"name": "Cleo Contact", "email": email},
            **extra,
        }
    }
