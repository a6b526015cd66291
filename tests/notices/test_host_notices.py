"""A host's change reaches the subscribers of each of the host's pages and no other page's
(`slotgraph.notices.changes.publish_host_changed`), on every broker; on PostgreSQL it never
waits for the requests' pool, which under overload held notices back until they were
dropped and shared slot answers went stale."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.models import SchedulingPage
from slotgraph.models.db import create_engine
from slotgraph.models.db import create_sessionmaker
from slotgraph.notices.changes import PAGE
from slotgraph.notices.changes import publish_host_changed
from slotgraph.notices.nats_pubsub import NatsPubSub
from slotgraph.notices.postgres_pubsub import PostgresPubSub
from slotgraph.notices.pubsub import InMemoryPubSub
from slotgraph.notices.pubsub import PubSub
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person

GUARD = 10  # seconds; a guard against hanging, never a measurement


def _page(person: Person, slug: str) -> SchedulingPage:
    return SchedulingPage(
        account_id=person.account.id,
        user_id=person.user.id,
        title="Intro",
        url_prefix=f"p-{person.user.id}",
        slug=slug,
        durations_minutes=[30],
        weekly_hours=[],
    )


@pytest.fixture(params=["memory", "postgres", "nats"])
async def pubsub(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[PubSub]:
    kind: str = request.param
    made: PubSub
    if kind == "memory":
        made = InMemoryPubSub()
    elif kind == "postgres":
        made = PostgresPubSub(database_url)
    else:
        nats_url: str = request.getfixturevalue("nats_url")
        made = NatsPubSub([nats_url], subject_prefix=f"host_test_{secrets.token_hex(4)}")
    await made.start()
    try:
        yield made
    finally:
        await made.stop()


async def test_a_host_change_wakes_each_of_the_hosts_pages_and_no_other(
    pubsub: PubSub, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada = await factory.person(name="Ada")
    bea = await factory.person(name="Bea")
    first, second, other = _page(ada, "one"), _page(ada, "two"), _page(bea, "three")
    await factory.add(first, second, other)
    with (
        pubsub.subscribe(PAGE, str(first.id)) as first_woken,
        pubsub.subscribe(PAGE, str(second.id)) as second_woken,
        pubsub.subscribe(PAGE, str(other.id)) as other_woken,
    ):
        await publish_host_changed(pubsub, sessionmaker, ada.user.id)
        async with asyncio.timeout(GUARD):
            assert await anext(first_woken) == str(first.id)
            assert await anext(second_woken) == str(second.id)
        # Bea's page hears nothing: a notice of Bea's own, published after, comes first.
        await publish_host_changed(pubsub, sessionmaker, bea.user.id)
        async with asyncio.timeout(GUARD):
            assert await anext(other_woken) == str(other.id)
        assert not first_woken.pending
        assert not second_woken.pending


@contextlib.asynccontextmanager
async def _every_connection_taken(engine: AsyncEngine) -> AsyncIterator[None]:
    """Hold every connection of `engine`'s pool, as requests queued at overload do."""
    async with contextlib.AsyncExitStack() as held:
        for _ in range(2):  # pool_size 1 + max_overflow 1
            await held.enter_async_context(engine.connect())
        yield


async def test_on_postgres_a_host_change_is_sent_while_the_requests_pool_is_exhausted(
    database_url: str, factory: Factory
) -> None:
    ada = await factory.person(name="Ada")
    page = _page(ada, "one")
    await factory.add(page)
    requests_engine = create_engine(database_url, pool_size=1, max_overflow=1)
    requests = create_sessionmaker(requests_engine)
    pubsub = PostgresPubSub(database_url)
    await pubsub.start()
    try:
        with pubsub.subscribe(PAGE, str(page.id)) as woken:
            async with _every_connection_taken(requests_engine), asyncio.timeout(GUARD):
                await publish_host_changed(pubsub, requests, ada.user.id)
                assert await anext(woken) == str(page.id)
    finally:
        await pubsub.stop()
        await requests_engine.dispose()
