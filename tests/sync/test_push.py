"""Push notifications end to end over loopback HTTP: the first sync opens
a Google `events.watch` channel or a Graph subscription (Graph validating our route first),
a change at the fake is POSTed by the fake to the app's notification route served by
uvicorn, the route verifies the channel token / clientState and makes the connection due
with its sync job enqueued, and the sync that follows puts the change in synced busy time.
Forged notifications change nothing; Graph's lifecycle events resync, reopen or renew;
channels are renewed before they expire and stopped on disconnect."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ssl
from collections.abc import AsyncIterator
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.calendars.synced_busy import synced_busy
from slotgraph.calsync.context import Outcome
from slotgraph.calsync.context import SyncConfig
from slotgraph.calsync.context import SyncContext
from slotgraph.calsync.engine import SYNC_JOB
from slotgraph.calsync.engine import sync_connection
from slotgraph.calsync.watches import RENEW_JOB
from slotgraph.calsync.watches import WatchConfig
from slotgraph.calsync.watches import Watches
from slotgraph.calsync.watches import token_hash
from slotgraph.models import CalendarConnection
from slotgraph.models import CalendarSyncCursor
from slotgraph.models import CalendarWatch
from slotgraph.models import RemoteCalendar
from slotgraph.models.enums import Provider
from slotgraph.providers.base import CalendarClient
from slotgraph.server.app import create_app
from slotgraph.server.settings import Settings
from tests.fakes.google import FakeGoogle
from tests.fakes.microsoft import EMAIL
from tests.fakes.microsoft import FakeMicrosoft
from tests.fakes.push import Delivery
from tests.fakes.scenario import TIME_ZONE
from tests.fakes.scenario import ScriptedEvent
from tests.helpers.accounts import OWNED_PRIMARY
from tests.helpers.accounts import Factory
from tests.helpers.clients import FixedClients
from tests.helpers.clock import Clock
from tests.helpers.google import google_client
from tests.helpers.live import serve_in_thread
from tests.helpers.microsoft import SecretBox
from tests.helpers.microsoft import connect
from tests.helpers.microsoft import oauth_for

CONFIG = SyncConfig(
    interval=dt.timedelta(minutes=5), ahead=dt.timedelta(days=14), margin=dt.timedelta(days=1)
)
TTL = dt.timedelta(days=3)
MARGIN = dt.timedelta(days=1)


@pytest.fixture
def receiver(settings: Settings, database_url: str) -> Iterator[str]:
    """The app served by uvicorn on a loopback port (its own thread and event loop), so
    the fakes reach its notification routes over real HTTP."""
    app = create_app(settings.model_copy(update={"db_pool_size": 2}), database_url)
    with serve_in_thread(app) as base:
        yield base


@pytest.fixture
def microsoft() -> Iterator[FakeMicrosoft]:
    with FakeMicrosoft() as fake:
        yield fake


@pytest.fixture
async def http(microsoft: FakeMicrosoft, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    ca_file = microsoft.write_ca(tmp_path / "ca.pem")
    context = ssl.create_default_context(cafile=str(ca_file))
    async with httpx.AsyncClient(verify=context, trust_env=False, timeout=5.0) as client:
        yield client


@pytest.fixture
def clock() -> Clock:
    # Near real time: Graph checks expiries against its own clock.
    return Clock(dt.datetime.now(dt.UTC).replace(microsecond=0))


@dataclasses.dataclass
class Setup:
    """A connected host on one fake, with the sync and watch use cases wired as the
    worker wires them (`slotgraph.server.worker.register_sync`)."""

    connection: CalendarConnection
    primary: RemoteCalendar
    ctx: SyncContext
    watches: Watches
    receiver: str


async def make_setup(
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    receiver: str,
    provider: Provider,
    client: CalendarClient,
    email: str,
) -> Setup:
    connection, (primary,) = await factory.connection(
        await factory.person(),
        provider=provider,
        account_email=email,
        primary=OWNED_PRIMARY,
        primary_remote_id=email,
        time_zone=TIME_ZONE,
    )
    clients = FixedClients(client, sessionmaker)
    watches = Watches(
        sessionmaker,
        clients,
        WatchConfig(public_base_url=receiver, ttl=TTL, renew_margin=MARGIN),
        clock=clock,
    )

    async def on_synced(connection_id: int) -> None:
        await watches.ensure(connection_id)

    ctx = SyncContext(
        sessionmaker=sessionmaker,
        clients=clients,
        config=CONFIG,
        on_synced=on_synced,
        clock=clock,
        worker="worker-push",
    )
    return Setup(connection, primary, ctx, watches, receiver)


@pytest.fixture
async def on_google(
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    receiver: str,
    google: FakeGoogle,
) -> AsyncIterator[Setup]:
    async with httpx.AsyncClient(trust_env=False) as client:
        adapter = google_client(google, client)
        yield await make_setup(
            factory, sessionmaker, clock, receiver, Provider.GOOGLE, adapter, google.email
        )


@pytest.fixture
async def on_graph(
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    receiver: str,
    microsoft: FakeMicrosoft,
    http: httpx.AsyncClient,
    tmp_path: Path,
) -> Setup:
    oauth = oauth_for(microsoft, http, microsoft.write_ca(tmp_path / "ca-oauth.pem"), timeout=5.0)
    grant = await connect(oauth, http)
    adapter = oauth.client(SecretBox(oauth, grant.secret), EMAIL)
    return await make_setup(
        factory, sessionmaker, clock, receiver, Provider.MICROSOFT365, adapter, EMAIL
    )


# -- helpers -----------------------------------------------------------------------------


async def watch_rows(sessionmaker: async_sessionmaker[AsyncSession]) -> list[CalendarWatch]:
    async with sessionmaker() as session:
        return list(
            (await session.execute(select(CalendarWatch).order_by(CalendarWatch.id))).scalars()
        )


async def due_state(
    sessionmaker: async_sessionmaker[AsyncSession], setup: Setup
) -> tuple[dt.datetime | None, list[tuple[str, Any]]]:
    """The connection's `next_sync_at` and the queued jobs (entrypoint, payload)."""
    async with sessionmaker() as session:
        row = await session.get_one(CalendarConnection, setup.connection.id)
        jobs = (
            await session.execute(
                text("SELECT entrypoint, convert_from(payload, 'UTF8') FROM pgqueuer ORDER BY id")
            )
        ).all()
    return row.next_sync_at, [(str(name), payload) for name, payload in jobs]


async def busy_of(
    sessionmaker: async_sessionmaker[AsyncSession], setup: Setup, clock: Clock
) -> list[tuple[dt.datetime, dt.datetime]] | None:
    async with sessionmaker() as session:
        answer = await synced_busy(
            session,
            [setup.primary.id],
            clock(),
            clock() + dt.timedelta(days=7),
            now=clock(),
            freshness=dt.timedelta(hours=1),
        )
    spans = answer[setup.primary.id]
    return None if spans is None else [(s.start, s.end) for s in spans]


async def settled(notifier_owner: FakeGoogle | FakeMicrosoft) -> list[Delivery]:
    return await anyio.to_thread.run_sync(notifier_owner.notifier.settled)


def pushed_event(clock: Clock, event_id: str) -> ScriptedEvent:
    start = clock() + dt.timedelta(days=2)
    return ScriptedEvent(event_id, "Pushed meeting", start, start + dt.timedelta(hours=1))


# -- Google ------------------------------------------------------------------------------


async def test_first_sync_opens_a_google_channel_and_a_pushed_change_is_synced(
    on_google: Setup,
    google: FakeGoogle,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
) -> None:
    assert await sync_connection(on_google.ctx, on_google.connection.id) is Outcome.SYNCED

    [watch_call] = google.calls("events.watch")
    body = watch_call.body
    assert watch_call.status == 200
    assert body == {
        "id": body["id"],
        "type": "web_hook",
        "address": f"{on_google.receiver}/notifications/google",
        "token": body["token"],
        "params": {"ttl": str(int(TTL.total_seconds()))},
    }
    assert len(body["token"]) >= 43
    [row] = await watch_rows(sessionmaker)
    channel = google.channels[body["id"]]
    assert (row.provider, row.remote_id, row.resource_id, row.token_hash) == (
        Provider.GOOGLE,
        body["id"],
        channel.resource_id,
        token_hash(body["token"]),
    )
    assert body["token"] not in row.token_hash
    # Google's first message on a channel is `sync`: answered, nothing to do.
    [first] = await settled(google)
    assert (first.headers["X-Goog-Resource-State"], first.status) == ("sync", 200)
    synced_at, jobs = await due_state(sessionmaker, on_google)
    assert synced_at == clock() + CONFIG.interval
    assert jobs == []

    # When: an event is added in Google Calendar.
    google.add_event(pushed_event(clock, "pushed"))
    deliveries = await settled(google)

    # Then: the notification was accepted, the connection is due and its job queued ...
    assert [(d.headers["X-Goog-Resource-State"], d.status) for d in deliveries] == [
        ("sync", 200),
        ("exists", 200),
    ]
    due_at, jobs = await due_state(sessionmaker, on_google)
    assert due_at is not None
    assert due_at <= dt.datetime.now(dt.UTC)  # due now: the route's clock is real time
    assert jobs == [(SYNC_JOB, f'{{"id":{on_google.connection.id}}}')]
    # ... and the sync it asks for puts the new event in synced busy time.
    assert await sync_connection(on_google.ctx, on_google.connection.id) is Outcome.SYNCED
    start = clock() + dt.timedelta(days=2)
    assert await busy_of(sessionmaker, on_google, clock) == [(start, start + dt.timedelta(hours=1))]
    assert len(google.calls("events.watch")) == 1  # the channel lives on: no second one


async def test_a_notification_leaves_a_connection_backing_off_on_its_schedule(
    on_google: Setup,
    google: FakeGoogle,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
) -> None:
    """A provider in trouble is not asked again on every change it announces: the backoff
    (and parking) of failed syncs stands; only `syncCalendarConnection` overrides it."""
    assert await sync_connection(on_google.ctx, on_google.connection.id) is Outcome.SYNCED
    await settled(google)
    google.fail("503", times=None)
    clock.advance(CONFIG.interval)
    assert await sync_connection(on_google.ctx, on_google.connection.id) is Outcome.FAILED
    google.clear_faults()
    backing_off_until, _ = await due_state(sessionmaker, on_google)
    assert backing_off_until is not None
    assert backing_off_until > dt.datetime.now(dt.UTC)

    google.add_event(pushed_event(clock, "during-backoff"))
    deliveries = await settled(google)

    assert [d.status for d in deliveries][-1] == 200  # accepted ...
    assert await due_state(sessionmaker, on_google) == (backing_off_until, [])  # ... no effect


async def test_forged_or_unknown_google_notifications_are_refused_without_effect(
    on_google: Setup,
    google: FakeGoogle,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await sync_connection(on_google.ctx, on_google.connection.id)
    [row] = await watch_rows(sessionmaker)
    before = await due_state(sessionmaker, on_google)
    genuine = {
        "X-Goog-Channel-ID": row.remote_id,
        "X-Goog-Channel-Token": "forged-token",
        "X-Goog-Resource-ID": str(row.resource_id),
        "X-Goog-Resource-State": "exists",
        "X-Goog-Message-Number": "2",
    }
    url = f"{on_google.receiver}/notifications/google"
    async with httpx.AsyncClient(trust_env=False) as client:
        forged = await client.post(url, headers=genuine)
        unknown = await client.post(url, headers={**genuine, "X-Goog-Channel-ID": "nope"})
        wrong_resource = await client.post(
            url,
            headers={
                **genuine,
                "X-Goog-Channel-Token": google.channels[row.remote_id].token or "",
                "X-Goog-Resource-ID": "res-other",
            },
        )
        bare = await client.post(url)
        huge = await client.post(url, headers=genuine, content=b"x" * 300_000)

    assert [r.status_code for r in (forged, unknown, wrong_resource, bare, huge)] == [
        401,
        404,
        401,
        400,
        413,
    ]
    assert "forged-token" not in forged.text
    assert await due_state(sessionmaker, on_google) == before


async def test_google_channels_are_replaced_before_they_expire(
    on_google: Setup,
    google: FakeGoogle,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
) -> None:
    await sync_connection(on_google.ctx, on_google.connection.id)
    [old] = await watch_rows(sessionmaker)
    assert await on_google.watches.renew_due() == 0  # not yet within the margin

    clock.now = old.expires_at - MARGIN + dt.timedelta(minutes=1)
    # A sync inside the margin leaves the channel to the renewal sweep: no second one.
    assert await on_google.watches.ensure(on_google.connection.id) == 0
    assert len(google.calls("events.watch")) == 1
    assert await on_google.watches.renew_due() == 1

    [new] = await watch_rows(sessionmaker)
    assert new.remote_id != old.remote_id
    [stopped] = google.calls("channels.stop")
    assert (stopped.status, stopped.body) == (
        204,
        {"id": old.remote_id, "resourceId": old.resource_id},
    )
    assert [c.id for c in google.live_channels()] == [new.remote_id]


async def test_a_sync_reopens_a_channel_that_lapsed_and_opens_none_while_one_lives(
    on_google: Setup,
    google: FakeGoogle,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
) -> None:
    await sync_connection(on_google.ctx, on_google.connection.id)
    [old] = await watch_rows(sessionmaker)
    assert await sync_connection(on_google.ctx, on_google.connection.id) is Outcome.SYNCED
    assert len(google.calls("events.watch")) == 1  # live: the sync opened none

    # When: the channel lapsed unrenewed (the renewal sweep was down), and the next sync runs.
    clock.now = old.expires_at + dt.timedelta(minutes=1)
    assert await sync_connection(on_google.ctx, on_google.connection.id) is Outcome.SYNCED

    # Then: that sync opened a new channel, and stored it.
    assert len(google.calls("events.watch")) == 2
    newest = (await watch_rows(sessionmaker))[-1]
    assert newest.remote_id == google.calls("events.watch")[1].body["id"] != old.remote_id


# -- Microsoft Graph -----------------------------------------------------------------------


async def test_graph_subscription_is_validated_then_a_pushed_change_is_synced(
    on_graph: Setup,
    microsoft: FakeMicrosoft,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
) -> None:
    assert await sync_connection(on_graph.ctx, on_graph.connection.id) is Outcome.SYNCED

    [created] = microsoft.graph_requests("/v1.0/subscriptions", "POST")
    address = f"{on_graph.receiver}/notifications/microsoft"
    body = created.body
    assert created.status == 201
    expires = dt.datetime.fromisoformat(body["expirationDateTime"])
    assert body == {
        "changeType": "created,updated,deleted",
        "notificationUrl": address,
        "lifecycleNotificationUrl": address,
        "resource": "me/events",
        "expirationDateTime": body["expirationDateTime"],
        "clientState": body["clientState"],
    }
    assert dt.timedelta(days=2) < expires - dt.datetime.now(dt.UTC) <= TTL
    # Graph validated the route before creating the subscription.
    [handshake] = await settled(microsoft)
    assert handshake.url.startswith(f"{address}?validationToken=")
    assert handshake.status == 200
    [row] = await watch_rows(sessionmaker)
    [subscription] = microsoft.subscriptions.values()
    assert (row.provider, row.remote_id, row.token_hash) == (
        Provider.MICROSOFT365,
        subscription.id,
        token_hash(body["clientState"]),
    )

    microsoft.add_event(pushed_event(clock, "pushed"))
    deliveries = await settled(microsoft)

    assert [(d.body["value"][0]["changeType"], d.status) for d in deliveries[1:]] == [
        ("created", 202)
    ]
    due_at, jobs = await due_state(sessionmaker, on_graph)
    assert due_at is not None
    assert due_at <= dt.datetime.now(dt.UTC)  # due now: the route's clock is real time
    assert jobs == [(SYNC_JOB, f'{{"id":{on_graph.connection.id}}}')]
    assert await sync_connection(on_graph.ctx, on_graph.connection.id) is Outcome.SYNCED
    start = clock() + dt.timedelta(days=2)
    assert await busy_of(sessionmaker, on_graph, clock) == [(start, start + dt.timedelta(hours=1))]


async def test_graph_validation_handshake_echoes_the_token_as_plain_text(receiver: str) -> None:
    token = "Validation: Testing client application reachability for subscription Request-Id"
    async with httpx.AsyncClient(trust_env=False) as client:
        answer = await client.post(
            f"{receiver}/notifications/microsoft", params={"validationToken": token}
        )
    assert (answer.status_code, answer.headers["content-type"], answer.text) == (
        200,
        "text/plain; charset=utf-8",
        token,
    )


async def test_forged_graph_client_state_is_refused_without_effect(
    on_graph: Setup, microsoft: FakeMicrosoft, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await sync_connection(on_graph.ctx, on_graph.connection.id)
    [row] = await watch_rows(sessionmaker)
    before = await due_state(sessionmaker, on_graph)
    url = f"{on_graph.receiver}/notifications/microsoft"
    item = {"subscriptionId": row.remote_id, "clientState": "guess", "changeType": "updated"}
    async with httpx.AsyncClient(trust_env=False) as client:
        forged = await client.post(url, json={"value": [item]})
        unknown = await client.post(url, json={"value": [{**item, "subscriptionId": "x"}]})
        lifecycle = await client.post(
            url, json={"value": [{**item, "lifecycleEvent": "subscriptionRemoved"}]}
        )
        garbage = await client.post(url, content=b"{not json")
    assert [r.status_code for r in (forged, unknown, lifecycle, garbage)] == [401, 401, 401, 400]
    assert await due_state(sessionmaker, on_graph) == before
    assert [w.id for w in await watch_rows(sessionmaker)] == [row.id]


async def test_missed_lifecycle_event_lists_the_calendar_again_in_full(
    on_graph: Setup, microsoft: FakeMicrosoft, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await sync_connection(on_graph.ctx, on_graph.connection.id)
    [subscription] = microsoft.subscriptions
    microsoft.lifecycle(subscription, "missed")
    assert (await settled(microsoft))[-1].status == 202

    async with sessionmaker() as session:
        cursor = await session.get(CalendarSyncCursor, on_graph.primary.id)
    assert cursor is None  # the delta link is no longer trusted
    _, jobs = await due_state(sessionmaker, on_graph)
    assert [name for name, _ in jobs] == [SYNC_JOB]
    mark = len(microsoft.requests)
    assert await sync_connection(on_graph.ctx, on_graph.connection.id) is Outcome.SYNCED
    first = next(r for r in microsoft.requests[mark:] if "calendarView/delta" in r.path)
    assert "startDateTime" in first.query  # a full listing, not a delta round
    assert len(microsoft.subscriptions) == 1


async def test_subscription_removed_resyncs_and_reopens_the_subscription(
    on_graph: Setup, microsoft: FakeMicrosoft, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await sync_connection(on_graph.ctx, on_graph.connection.id)
    [old] = microsoft.subscriptions
    microsoft.lifecycle(old, "subscriptionRemoved")
    assert (await settled(microsoft))[-1].status == 202
    assert await watch_rows(sessionmaker) == []

    assert await sync_connection(on_graph.ctx, on_graph.connection.id) is Outcome.SYNCED

    [new] = microsoft.subscriptions
    assert new != old
    assert [row.remote_id for row in await watch_rows(sessionmaker)] == [new]
    assert len(microsoft.graph_requests("/v1.0/subscriptions", "POST")) == 2


async def test_graph_subscriptions_are_renewed_before_expiry_and_on_reauthorization(
    on_graph: Setup,
    microsoft: FakeMicrosoft,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
) -> None:
    await sync_connection(on_graph.ctx, on_graph.connection.id)
    [row] = await watch_rows(sessionmaker)
    [subscription] = microsoft.subscriptions
    assert await on_graph.watches.renew_due() == 0

    # Graph asks for reauthorization: the route queues a renewal job.
    microsoft.lifecycle(subscription, "reauthorizationRequired")
    assert (await settled(microsoft))[-1].status == 202
    _, jobs = await due_state(sessionmaker, on_graph)
    assert jobs == [(RENEW_JOB, f'{{"id":{row.id}}}')]

    # Two and a bit days on, the periodic sweep renews it in place (PATCH).
    clock.advance(TTL - MARGIN + dt.timedelta(hours=1))
    assert await on_graph.watches.renew_due() == 1
    [patch] = microsoft.graph_requests(f"/v1.0/subscriptions/{subscription}", "PATCH")
    assert patch.status == 200
    [renewed] = await watch_rows(sessionmaker)
    assert (renewed.id, renewed.remote_id) == (row.id, row.remote_id)
    assert renewed.expires_at >= row.expires_at
    assert renewed.renewed_at == clock()
    async with sessionmaker() as session:
        count = await session.scalar(select(func.count()).select_from(CalendarWatch))
    assert count == 1
