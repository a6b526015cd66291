"""CalDAV sync benchmark (issue #14): a full listing of a 1,000-event calendar on a real
Radicale, then an incremental one after 10 changes, through the real `CalDavCalendarClient`.

What it measures: `list_changes` without a cursor (RFC 6578's initial sync: one
sync-collection report, then calendar-multiget in chunks of 100), then with the cursor it
answered after 10 events were moved (one sync-collection report, one multiget of exactly
the 10). Radicale runs as a separate process (GPL: never imported) on a free loopback port,
behind the counting proxy of `tests/helpers/caldav_servers.py`, which reports each
request and the bytes answered. Memory: peak RSS of this process against its RSS before
the listing, and the peak of traced Python allocations of a second, untimed full listing
under `tracemalloc`. The sync engine's database writes are not part of it (see "Calendar
sync" in BENCHMARKS.md for the engine with Google).

The run fails (non-zero exit) when the listing does not hold every event or the incremental
listing reports anything but the 10 changes.

Run from the repository root: `.venv/bin/python bench/caldav_sync.py` or
`.venv/bin/python -m bench.caldav_sync` (`--events N`).
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as `python bench/<script>.py`: see bench/__init__.py
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import datetime as dt
import os
import resource
import tempfile
import time
import tracemalloc

import httpx

from slotgraph.providers.base import Interval
from slotgraph.providers.outbound import CheckedTransport
from slotgraph.providers.outbound import Trust

CHANGES = 10
WINDOW = Interval(dt.datetime(2030, 3, 4, tzinfo=dt.UTC), dt.datetime(2030, 4, 4, tzinfo=dt.UTC))


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(events: int) -> int:
    from tests.fakes.scenario import spread
    from tests.helpers.caldav import adapter
    from tests.helpers.caldav import app_event
    from tests.helpers.caldav import calendar_of
    from tests.helpers.caldav import fresh_account
    from tests.helpers.caldav_servers import DavProxy
    from tests.helpers.caldav_servers import radicale

    with tempfile.TemporaryDirectory() as root, radicale(Path(root)) as server:
        proxy = DavProxy(server.url).start()
        with fresh_account(server) as (n, app):
            bulk = spread(events, WINDOW.start, WINDOW.end)
            app.http.put(
                app.calendar_url,
                content=calendar_of(*(app_event(item, item.id) for item in bulk)),
                headers={"Content-Type": "text/calendar"},
                timeout=300,
            ).raise_for_status()
            trust = Trust.of((), ["127.0.0.0/8"])
            async with httpx.AsyncClient(
                transport=CheckedTransport(trust), trust_env=False
            ) as http:
                client = adapter(proxy.url, server, n, http, timeout=60)
                calendar = f"{proxy.url}/u{n}/calendar/"
                before = rss_mib()
                started = time.perf_counter()
                full = await client.list_changes(calendar, None, WINDOW)
                full_s = time.perf_counter() - started
                full_requests = list(proxy.exchanges)
                peak = rss_mib()
                if len(full.changed) != events:
                    print(f"full listing held {len(full.changed)} events, not {events}")
                    return 1
                hrefs = sorted({e.remote_id for e in full.changed})
                changed = hrefs[:: max(1, events // CHANGES)][:CHANGES]
                for href, item in zip(changed, bulk[:: max(1, events // CHANGES)], strict=False):
                    assert isinstance(item.start, dt.datetime)
                    start = item.start + dt.timedelta(minutes=5)
                    app.move(href, start, start + dt.timedelta(minutes=10))
                proxy.exchanges.clear()
                started = time.perf_counter()
                changes = await client.list_changes(calendar, full.next_cursor, WINDOW)
                incremental_ms = (time.perf_counter() - started) * 1000
                incremental = list(proxy.exchanges)
                if sorted(e.remote_id for e in changes.changed) != changed:
                    print(f"incremental listing reported {len(changes.changed)} changes")
                    return 1
                tracemalloc.start()
                await client.list_changes(calendar, None, WINDOW)
                traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
                tracemalloc.stop()
        proxy.stop()
    print(f"events {events}, load {os.getloadavg()[0]:.1f}")
    print(
        f"full: {full_s:.2f} s, {events / full_s:,.0f} events/s, {len(full_requests)} requests, "
        f"{sum(e.response_bytes for e in full_requests) / 2**20:.2f} MiB answered, "
        f"peak RSS {peak:.0f} MiB (+{peak - before:.0f}), tracemalloc peak {traced_peak:.1f} MiB"
    )
    print(
        f"incremental after {CHANGES} changes: {incremental_ms:.0f} ms, "
        f"{len(incremental)} requests, {sum(e.hrefs for e in incremental)} resources fetched, "
        f"{sum(e.response_bytes for e in incremental) / 1024:.1f} KiB answered"
    )
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.events)))


if __name__ == "__main__":
    main()
