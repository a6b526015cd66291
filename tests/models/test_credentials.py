"""Credentials at rest: encrypted, rotatable, absent from a dump of the database."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from typing import Any
from typing import cast

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.calendars import credentials
from slotgraph.calendars.credentials import CredentialStore
from slotgraph.models import Booking
from slotgraph.models import WebhookEndpoint
from slotgraph.models.crypto import CredentialCipher
from slotgraph.models.crypto import generate_key
from slotgraph.server.cli import main
from slotgraph.server.settings import Settings
from tests.helpers.accounts import Factory
from tests.helpers.bookings import book_with_token
from tests.helpers.bookings import page_and_nine
from tests.helpers.database import count_decrypts
from tests.helpers.database import dump
from tests.helpers.graphql import GraphQLClient
from tests.helpers.webhooks import create_endpoint

if TYPE_CHECKING:
    from slotgraph.providers.registry import OAuthProvider

SECRET = {"refresh_token": "1//refresh-SECRET-abc", "password": "hunter2-SECRET"}


async def test_a_dump_holds_no_plaintext_secret(
    factory: Factory, sessionmaker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    ada = await factory.person()
    connection, _ = await factory.connection(ada)
    store = CredentialStore(CredentialCipher((generate_key(),)))
    async with sessionmaker.begin() as session:
        await store.save(session, connection, SECRET)
    data = await dump(database_url)
    assert str(connection.id).encode() in data  # the dump is real
    assert b"SECRET" not in data
    assert b"hunter2" not in data
    assert ada.token.encode() not in data
    async with sessionmaker() as session:
        assert await store.load(session, connection.id) == SECRET


async def test_rotating_keys_reencrypts_every_sealed_value_and_keeps_it_readable(
    gql: GraphQLClient,
    factory: Factory,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After `rotate-keys` the old key can go: a credential, a webhook endpoint's signing
    secret and a booking's manage link (each sealed under the app's key) all open with the
    new key alone."""
    (old_key,) = settings.secret_keys
    new_key = generate_key()
    ada = await factory.person()
    connection, _ = await factory.connection(ada)
    async with sessionmaker.begin() as session:
        await CredentialStore(CredentialCipher((old_key,))).save(session, connection, SECRET)
    host, slug, nine = await page_and_nine(gql, factory)
    await book_with_token(gql, slug, nine)
    created = await create_endpoint(gql, host.token, "https://hooks.example.test/in")
    assert created["__typename"] == "CreateWebhookEndpointSuccess", created

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SLOTGRAPH_SECRET_KEYS", f"{new_key},{old_key}")
    monkeypatch.setattr(credentials, "BATCH", 1)  # every value in a batch of its own
    # The CLI runs its own event loop: run it off this test's loop, as a user would.
    assert await asyncio.to_thread(main, ["rotate-keys"]) == 0

    only_new = CredentialCipher((new_key,))
    async with sessionmaker() as session:
        assert await CredentialStore(only_new).load(session, connection.id) == SECRET
        (secrets,) = (await session.execute(select(WebhookEndpoint.secrets))).scalars()
        assert only_new.decrypt(secrets)["current"] == created["secret"]
        (link,) = (await session.execute(select(Booking.manage_url_sealed))).scalars()
        assert link is not None
        assert "/meetings/manage?token=sgm_" in only_new.decrypt(link)["url"]


class Renewing:
    """The token half of an OAuth provider: an access token "old" is renewed to "new"."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def access_token(
        self, secret: dict[str, Any], *, force: bool
    ) -> tuple[str, dict[str, Any] | None]:
        self.seen.append(secret["access_token"])
        if secret["access_token"] == "old":
            return "new", {**secret, "access_token": "new"}
        return secret["access_token"], None


async def test_a_token_source_starts_from_the_secret_just_loaded_unless_renewed_since(
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ada = await factory.person()
    connection, _ = await factory.connection(ada)
    store = CredentialStore(CredentialCipher((generate_key(),)))
    old = {"access_token": "old", "refresh_token": "r"}
    async with sessionmaker.begin() as session:
        await store.save(session, connection, old)
    decrypts = count_decrypts(monkeypatch)
    renewing = Renewing()
    provider = cast("OAuthProvider", renewing)
    # Two requests loaded the same secret; the first renews it before the second asks.
    first = store.token_source(sessionmaker, provider, connection.id, dict(old))
    second = store.token_source(sessionmaker, provider, connection.id, dict(old))

    assert await first(False) == "new"
    assert decrypts == []  # the loaded secret served: no second decryption
    assert await second(False) == "new"
    assert len(decrypts) == 1  # stale after the renewal: the renewed row was read
    assert renewing.seen == ["old", "new"]  # one renewal, not two
    assert await first(True) == "new"  # later calls read the row again
    assert len(decrypts) == 2
