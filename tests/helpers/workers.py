"""`slotgraph worker` processes for the kill tests: the test app's database and keys (it
stored the credentials and secrets), short timings, started with their log in a file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from slotgraph.server.settings import Settings
from tests.helpers.serving import SLOTGRAPH


def worker_env(settings: Settings, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a worker on the test app's database, plus `extra` variables."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLOTGRAPH_SECRET_KEYS": ",".join(settings.secret_keys),
        "SLOTGRAPH_LOG_LEVEL": "WARNING",
        "SLOTGRAPH_DB_POOL_SIZE": "2",
        "SLOTGRAPH_WORKER_CONCURRENCY": "4",
        "SLOTGRAPH_JOB_HEARTBEAT_SECONDS": "2",
        "SLOTGRAPH_OUTBOX_LEASE_SECONDS": "4",
        "SLOTGRAPH_OUTBOX_SWEEP_SECONDS": "1",
        "SLOTGRAPH_OUTBOX_INITIAL_BACKOFF_SECONDS": "1",
        "SLOTGRAPH_PROVIDER_TIMEOUT_SECONDS": "30",
        **extra,
    }


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`slotgraph <args>` with its stderr appended to `log`."""
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [SLOTGRAPH, *args], env=env, stdout=subprocess.DEVNULL, stderr=stderr
        )
