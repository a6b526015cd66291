"""Plain connections to the test PostgreSQL server, outside SQLAlchemy: creating and dropping
databases, reading every row as a dump would, and counting the statements and credential
decryptions a piece of work costs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event
from starlette.applications import Starlette

from bench.graphql_overhead import fresh_database as new_database
from slotgraph.models import Base
from slotgraph.models.crypto import CredentialCipher
from slotgraph.models.db import connect_raw

__all__ = ["admin_connection", "count_decrypts", "counting", "dump", "new_database"]
# `new_database(server_url)`: a new, empty database, dropped (whoever is still connected) on
# leaving; the benchmark's own helper. The session's test database is one; a test whose rows
# no worker of another `slotgraph serve` may touch gets one of its own.


async def admin_connection(url: str) -> asyncpg.Connection:
    """A raw asyncpg connection to `url` (the caller closes it)."""
    connection: asyncpg.Connection = await connect_raw(url)
    return connection


async def dump(database_url: str) -> bytes:
    """Every row of every table as COPY text: what a pg_dump of the data would hold."""
    connection = await admin_connection(database_url)
    chunks: list[bytes] = []

    async def collect(chunk: bytes) -> None:
        chunks.append(chunk)

    try:
        for table in Base.metadata.sorted_tables:
            await connection.copy_from_table(table.name, output=collect)
    finally:
        await connection.close()
    return b"".join(chunks)


TABLES = tuple(table.name for table in Base.metadata.sorted_tables)


@contextmanager
def counting(app: Starlette) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = app.state.runtime.engine.sync_engine

    def record(*args: Any) -> None:
        # Only reads of our tables: a fresh pool connection can add driver set-up statements
        # (server version, schema), which say nothing about N+1 and made the count flaky.
        statement: str = args[2]
        if any(f" {table} " in statement or f" {table}\n" in statement for table in TABLES):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def count_decrypts(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every ciphertext any credential cipher decrypts from now on, in order."""
    decrypts: list[bytes] = []
    decrypt = CredentialCipher.decrypt

    def counted(cipher: CredentialCipher, ciphertext: bytes) -> dict[str, Any]:
        decrypts.append(ciphertext)
        return decrypt(cipher, ciphertext)

    monkeypatch.setattr(CredentialCipher, "decrypt", counted)
    return decrypts
