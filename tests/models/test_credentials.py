"""Credentials at rest: encrypted, rotatable, absent from a dump of the database."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from slotgraph.calendars.credentials import CredentialStore
from slotgraph.models import Base
from slotgraph.models.crypto import CredentialCipher, generate_key
from slotgraph.server.cli import main
from tests.conftest import Factory, _admin

SECRET = {"refresh_token": "1//refresh-SECRET-abc", "password": "hunter2-SECRET"}


async def dump(database_url: str) -> bytes:
    """Every row of every table as COPY text: what a pg_dump of the data would hold."""
    connection = await _admin(database_url)
    chunks: list[bytes] = []

    async def collect(chunk: bytes) -> None:
        chunks.append(chunk)

    try:
        for table in Base.metadata.sorted_tables:
            await connection.copy_from_table(table.name, output=collect)
    finally:
        await connection.close()
    return b"".join(chunks)


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


async def test_rotating_keys_reencrypts_and_keeps_credentials_readable(
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old_key, new_key = generate_key(), generate_key()
    ada = await factory.person()
    connection, _ = await factory.connection(ada)
    async with sessionmaker.begin() as session:
        await CredentialStore(CredentialCipher((old_key,))).save(session, connection, SECRET)

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SLOTGRAPH_SECRET_KEYS", f"{new_key},{old_key}")
    # The CLI runs its own event loop: run it off this test's loop, as a user would.
    assert await asyncio.to_thread(main, ["rotate-keys"]) == 0

    async with sessionmaker() as session:
        only_new = CredentialStore(CredentialCipher((new_key,)))
        assert await only_new.load(session, connection.id) == SECRET
