"""The schema is created only by migrations, from empty, and matches the models (the job
queue's tables, pgqueuer's own, are created by migration 0004 and left out of the diff)."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy import make_url
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from slotgraph.models import Base
from slotgraph.models import Booking
from slotgraph.models import Contact
from slotgraph.models import OutboxMessage
from slotgraph.models import SchedulingPage
from slotgraph.models.crypto import CredentialCipher
from slotgraph.models.crypto import generate_key
from slotgraph.models.db import MIGRATIONS_DIR
from slotgraph.models.db import create_engine
from slotgraph.models.db import create_sessionmaker
from slotgraph.models.db import downgrade
from slotgraph.models.db import migrate
from slotgraph.models.db import plain_url
from slotgraph.models.enums import BookingStatus
from slotgraph.models.outbox import OutboxKind
from slotgraph.models.queue import QUEUE_TABLES
from slotgraph.models.queue import include_object
from tests.helpers.accounts import Factory
from tests.helpers.database import admin_connection


@asynccontextmanager
async def private_database(server_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a new, empty database of its own, dropped afterwards."""
    name = f"slotgraph_mig_{secrets.token_hex(4)}"
    admin = await admin_connection(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    engine = create_engine(plain_url(make_url(server_url).set(database=name)), pool_size=1)
    try:
        yield engine
    finally:
        await engine.dispose()
        admin = await admin_connection(server_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_migrations_from_empty_match_models_and_round_trip(server_url: str) -> None:
    async with private_database(server_url) as engine:
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


async def test_contact_names_are_recovered_from_titles_only_where_the_page_still_tells_them(
    server_url: str,
) -> None:
    """Migration 0013 fills `bookings.contact_name` (C26 prefill) from "<page title>: <name>"
    where the page still has that title, and leaves it NULL where it cannot be told."""
    before = ScriptDirectory(str(MIGRATIONS_DIR)).get_revision("0013").down_revision
    assert isinstance(before, str)
    async with private_database(server_url) as engine:
        await migrate(engine)
        factory = Factory(create_sessionmaker(engine))
        ada = await factory.person()
        page = SchedulingPage(
            account_id=ada.account.id,
            user_id=ada.user.id,
            title="Intro: call",
            url_prefix="ada",
            slug="intro",
            durations_minutes=[30],
            weekly_hours=[],
        )
        await factory.add(page)
        contact = Contact(account_id=ada.account.id, email="cleo@example.test", name="Someone")
        await factory.add(contact)
        start = dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC)
        titles = {"Intro: call: Cleo: Contact": 0, "Old title: Mallory": 2}
        await factory.add(
            *(
                Booking(
                    account_id=ada.account.id,
                    host_user_id=ada.user.id,
                    page_id=page.id,
                    contact_id=contact.id,
                    title=title,
                    starts_at=start + dt.timedelta(hours=hour),
                    ends_at=start + dt.timedelta(hours=hour, minutes=30),
                    time_zone="UTC",
                    status=BookingStatus.CONFIRMED,
                )
                for title, hour in titles.items()
            )
        )
        await downgrade(engine, before)
        await migrate(engine)
        async with engine.connect() as connection:
            names = dict(
                (await connection.execute(select(Booking.title, Booking.contact_name))).all()
            )
        assert names == {"Intro: call: Cleo: Contact": "Cleo: Contact", "Old title: Mallory": None}


async def test_the_first_emails_sealed_manage_link_moves_onto_its_booking(
    server_url: str,
) -> None:
    """Migration 0021 moves the manage link that 0020's first email carried in its outbox
    payload (base64 of the ciphertext) onto the booking, so every later email has it too,
    and takes it out of the payload."""
    cipher = CredentialCipher((generate_key(),))
    sealed = cipher.encrypt({"url": "https://app.test/meetings/manage?token=sgm_x&lang=en"})
    async with private_database(server_url) as engine:
        await migrate(engine)
        factory = Factory(create_sessionmaker(engine))
        ada = await factory.person()
        contact = Contact(account_id=ada.account.id, email="cleo@example.test", name="Cleo")
        await factory.add(contact)
        start = dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC)
        booking = Booking(
            account_id=ada.account.id,
            host_user_id=ada.user.id,
            contact_id=contact.id,
            title="Intro",
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=30),
            time_zone="UTC",
            status=BookingStatus.CONFIRMED,
        )
        await factory.add(booking)
        first = {"event_id": 1, "to": "contact", "manage_url": base64.b64encode(sealed).decode()}
        await factory.add(
            *(
                OutboxMessage(
                    account_id=ada.account.id,
                    kind=OutboxKind.BOOKING_EMAIL,
                    booking_id=booking.id,
                    payload=payload,
                )
                for payload in (first, {"event_id": 1, "to": "host"})
            )
        )
        await downgrade(engine, "0020")
        await migrate(engine)
        async with engine.connect() as connection:
            moved = (await connection.execute(select(Booking.manage_url_sealed))).scalar_one()
            payloads = (await connection.execute(select(OutboxMessage.payload))).scalars().all()
        assert moved is not None
        assert cipher.decrypt(moved)["url"].endswith("token=sgm_x&lang=en")
        assert sorted(payloads, key=str) == [
            {"event_id": 1, "to": "contact"},
            {"event_id": 1, "to": "host"},
        ]
