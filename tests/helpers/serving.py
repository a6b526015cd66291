"""`slotgraph serve` as a subprocess for end-to-end tests (bench/serve.py starts it): on a
test database, waited for until `/readyz` answers, stopped with SIGTERM, which must exit
cleanly."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from bench.serve import SLOTGRAPH, free_port, wait_ready
from bench.serve import serve as start
from slotgraph.models.crypto import generate_key

__all__ = ["SLOTGRAPH", "free_port", "serve", "wait_ready"]


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
