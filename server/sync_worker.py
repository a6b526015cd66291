"""The sync worker process (`slotgraph sync-worker`): `sync.scheduler.sync_loop` over the
configured providers and the credential store, until SIGTERM or SIGINT. Any number of
workers may run side by side (leases, `FOR UPDATE SKIP LOCKED`); the API processes need
none of this. The hooks are where pub/sub plugs in (issue #5's push and syncStatus)."""

from __future__ import annotations

import datetime as dt
import signal

import anyio
import httpx
import structlog

from models.crypto import CredentialCipher
from models.db import create_engine, create_sessionmaker
from resolvers.credentials import CredentialStore
from server.providers import build_registry
from server.settings import Settings
from sync.clients import registry_clients
from sync.engine import Hook, SyncConfig, SyncContext, no_hook
from sync.scheduler import sync_loop

log = structlog.get_logger("slotgraph.sync")


def sync_config(settings: Settings) -> SyncConfig:
    return SyncConfig(
        interval=dt.timedelta(seconds=settings.sync_interval_seconds),
        ahead=dt.timedelta(days=settings.sync_window_days),
        lease=dt.timedelta(seconds=settings.sync_lease_seconds),
        max_attempts=settings.sync_max_attempts,
        concurrency=settings.sync_concurrency,
        poll_seconds=settings.sync_poll_seconds,
    )


async def run_sync_worker(
    settings: Settings,
    database_url: str,
    *,
    on_state_change: Hook = no_hook,
    on_busy_change: Hook = no_hook,
) -> None:
    """Sync due connections until SIGTERM or SIGINT; a sync under way when the signal comes
    is cancelled, and its lease lets the next worker take it over."""
    engine = create_engine(database_url, pool_size=settings.sync_concurrency + 1, max_overflow=0)
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.provider_timeout_seconds, connect=5.0),
        follow_redirects=False,
        trust_env=False,
    )
    sessionmaker = create_sessionmaker(engine)
    credentials = CredentialStore(CredentialCipher(settings.secret_keys))
    ctx = SyncContext(
        sessionmaker=sessionmaker,
        clients=registry_clients(build_registry(settings, http), credentials, sessionmaker),
        config=sync_config(settings),
        on_state_change=on_state_change,
        on_busy_change=on_busy_change,
    )
    stop = anyio.Event()
    log.info("sync worker started", worker=ctx.worker)
    try:
        async with anyio.create_task_group() as group:

            async def until_signalled() -> None:
                with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for _ in signals:
                        stop.set()
                        group.cancel_scope.cancel()
                        return

            group.start_soon(until_signalled)
            await sync_loop(ctx, stop)
    finally:
        await http.aclose()
        await engine.dispose()
        log.info("sync worker stopped", worker=ctx.worker)
