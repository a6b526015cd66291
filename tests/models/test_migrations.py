"""The schema is created only by migrations, from empty, and matches the models (the job
queue's tables, pgqueuer's own, are created by migration 0004 and left out of the diff)."""

from __future__ import annotations

import secrets

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, make_url

from slotgraph.models import Base
from slotgraph.models.db import create_engine, downgrade, migrate, plain_url
from slotgraph.models.queue import QUEUE_TABLES, include_object
from tests.helpers.database import admin_connection


async def test_migrations_from_empty_match_models_and_round_trip(server_url: str) -> None:
    name = f"slotgraph_mig_{secrets.token_hex(4)}"
    admin = await admin_connection(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    engine = create_engine(plain_url(make_url(server_url).set(database=name)), pool_size=1)
    try:
        await migrate(engine)
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(
                        sync, opts={"compare_type": True, "include_object": include_object}
                    ),
                    Base.metadata,
                )
            )
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert diff == []
        assert tables == {t.name for t in Base.metadata.sorted_tables} | {"alembic_version"} | (
            QUEUE_TABLES
        )

        await downgrade(engine, "base")
        async with engine.connect() as connection:
            left = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert left == {"alembic_version"}

        await migrate(engine)
        await migrate(engine)  # a second upgrade is a no-op, not an error
    finally:
        await engine.dispose()
        admin = await admin_connection(server_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
