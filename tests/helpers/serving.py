"""`slotgraph serve` as a subprocess for end-to-end tests (bench/serve.py starts it): on a
test database, waited for until `/readyz` answers, stopped with SIGTERM, which must exit
cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

from bench.serve import LOAD_LIMITS
from bench.serve import SLOTGRAPH
from bench.serve import free_port
from bench.serve import load_limit_settings
from bench.serve import serve as start
from bench.serve import wait_ready
from slotgraph.models.crypto import generate_key

__all__ = [
    "LOAD_LIMITS",
    "RACE_ENV",
    "SLOTGRAPH",
    "free_port",
    "load_limit_settings",
    "serve",
    "wait_ready",
]
# For races of many concurrent calls: small pools (3 workers stay well under
# max_connections beside the test process's own; requests queue for a connection, which is
# fine) and no background workers, so the rows counted are the request path's alone.
RACE_ENV = {
    "SLOTGRAPH_DB_POOL_SIZE": "4",
    "SLOTGRAPH_DB_MAX_OVERFLOW": "4",
    "SLOTGRAPH_RUN_WORKER": "false",
}


@contextmanager
def serve(
    database_url: str, log_dir: Path, *, workers: int, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """The base URL of `slotgraph serve --workers N` on `database_url`."""
    served = start(
        database_url, generate_key(), log_dir, workers=workers, extra_env=dict(env or {})
    )
    try:
        yield served.base
    finally:
        code = served.stop()
    assert code == 0, served.log.read_text()[-2000:]  # graceful shutdown
