"""A sync worker process for the SIGKILL test: syncs one Exchange connection with
incremental pages of two changes at a fixed clock, then exits (unless killed first).

    python -m tests.helpers.kill_worker DATABASE_URL EWS_URL EMAIL CONNECTION_ID NOW
"""

from __future__ import annotations

import datetime as dt
import sys

import anyio

import slotgraph.providers.exchange.sync as exchange_sync
from slotgraph.calsync.context import SyncConfig
from slotgraph.calsync.context import SyncContext
from slotgraph.calsync.engine import sync_connection
from slotgraph.models.db import create_engine
from slotgraph.models.db import create_sessionmaker
from slotgraph.providers.exchange import ExchangeCalendarClient
from slotgraph.providers.exchange import ExchangeCredentials
from slotgraph.providers.retry import FAST
from tests.fakes.exchange import PASSWORD
from tests.fakes.scenario import TIME_ZONE
from tests.helpers.clients import FixedClients

LEASE = dt.timedelta(minutes=2)


async def main(database_url: str, ews_url: str, email: str, connection_id: int, now: str) -> None:
    """Sync the connection once with a fixed clock, as a worker would."""
    # Pages of two changes, so that a handful of changes makes a multi-page sync to kill.
    exchange_sync.SYNC_PAGE_SIZE = 2  # type: ignore[misc]
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    client = ExchangeCalendarClient(
        ExchangeCredentials(email, PASSWORD),
        ews_url=ews_url,
        version="Exchange2016",
        limiter=anyio.CapacityLimiter(1),
        timeout=60.0,
        time_zone=TIME_ZONE,
        retry=FAST,
    )

    instant = dt.datetime.fromisoformat(now)
    sessionmaker = create_sessionmaker(engine)
    ctx = SyncContext(
        sessionmaker,
        FixedClients(client, sessionmaker),
        config=SyncConfig(lease=LEASE, ahead=dt.timedelta(days=30)),
        clock=lambda: instant,
        worker="doomed-worker",
    )
    try:
        await sync_connection(ctx, connection_id)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    url, ews, mailbox, connection, clock = sys.argv[1:6]
    anyio.run(main, url, ews, mailbox, int(connection), clock)
