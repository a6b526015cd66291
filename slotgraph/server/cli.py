"""`slotgraph`: serve, worker, migrate, export-schema, create-token, generate-key,
rotate-keys."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import signal
import sys
from pathlib import Path

import uvicorn
from sqlalchemy import func
from sqlalchemy import select

from slotgraph.calendars.credentials import CredentialStore
from slotgraph.graph.schema import build_schema
from slotgraph.models import User
from slotgraph.models.crypto import CredentialCipher
from slotgraph.models.crypto import generate_key
from slotgraph.models.db import create_engine
from slotgraph.models.db import create_sessionmaker
from slotgraph.models.db import embedded_postgres_stopped_after
from slotgraph.models.db import migrate
from slotgraph.models.db import start_embedded_postgres
from slotgraph.models.db import stop_embedded_postgres
from slotgraph.models.enums import Scope
from slotgraph.server.demo import connect_demo_calendar
from slotgraph.server.demo import demo_page_url
from slotgraph.server.demo import seed_demo
from slotgraph.server.demo_calendar import write_demo_calendar
from slotgraph.server.demo_radicale import DemoCalDav
from slotgraph.server.demo_radicale import DemoCalendarUnavailable
from slotgraph.server.demo_radicale import DemoRadicale
from slotgraph.server.logs import configure_logging
from slotgraph.server.metrics import multiprocess_metrics
from slotgraph.server.runtime import build_runtime
from slotgraph.server.settings import Mode
from slotgraph.server.settings import Settings
from slotgraph.server.settings import SettingsError
from slotgraph.server.settings import load_settings
from slotgraph.server.worker import run_worker
from slotgraph.usecases.roles import role_scopes
from slotgraph.usecases.tokens import issue_token
from slotgraph.usecases.users import create_account_with_admin

SCHEMA_FILE = Path("schema.graphql")
DEMO_QUERY = '{"query": "{ viewer { name schedulingPages { edges { node { title url } } } } }"}'


def schema_sdl() -> str:
    return build_schema(introspection=True).as_str() + "\n"


def _settings(demo: bool = False, *, need_keys: bool = True) -> Settings:
    overrides: dict[str, object] = {}
    if demo or os.environ.get("SLOTGRAPH_MODE") == Mode.DEMO.value:
        overrides["mode"] = Mode.DEMO
    if not need_keys and not os.environ.get("SLOTGRAPH_SECRET_KEYS"):
        overrides["mode"] = Mode.DEMO  # commands that touch no credentials need no key
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        print(f"slotgraph: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings.log_level, json=settings.log_json)
    return settings


def _demo_key(settings: Settings) -> str:
    """C15: demo mode generates a secret key, kept in the data dir so restarts can still
    read credentials stored earlier."""
    path = settings.data_dir / "demo-secret.key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(generate_key())
        path.chmod(0o600)
    return path.read_text().strip()


def _database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    print(f"slotgraph: starting embedded PostgreSQL in {settings.data_dir}", file=sys.stderr)
    return start_embedded_postgres(settings.data_dir)


async def _migrate(url: str) -> None:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


async def _seed(url: str, settings: Settings, calendar: DemoCalDav) -> tuple[str, str]:
    """The demo user's new token and the demo's booking page URL, its calendar connected
    through the use cases (C29)."""
    runtime = build_runtime(settings.model_copy(update={"db_pool_size": 2}), url)
    try:
        user = await seed_demo(runtime.sessionmaker)
        await connect_demo_calendar(runtime.services, user.viewer, calendar)
        return user.token, await demo_page_url(runtime.sessionmaker, settings.public_base_url)
    finally:
        await runtime.aclose()


def cmd_serve(args: argparse.Namespace) -> int:
    # Links on pages point at this server unless an operator says where it is published.
    os.environ.setdefault("SLOTGRAPH_PUBLIC_BASE_URL", f"http://{args.host}:{args.port}")
    settings = _settings(args.demo)
    if not settings.is_demo:
        return _serve(args, settings, None)
    # C29: the demo's own calendar server, stopped with the service (a crashed run's is
    # stopped by the next start), and the one loopback server it may reach (C46).
    radicale = DemoRadicale(settings.data_dir)
    # A SIGTERM while starting (migrating, seeding) unwinds through `radicale.stop()` too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        calendar = radicale.start()
    except DemoCalendarUnavailable as exc:
        print(f"slotgraph: {exc}", file=sys.stderr)
        return 2
    try:
        os.environ["SLOTGRAPH_DEMO_CALDAV_URL"] = calendar.url
        return _serve(args, settings.model_copy(update={"demo_caldav_url": calendar.url}), calendar)
    finally:
        radicale.stop()


def _serve(args: argparse.Namespace, settings: Settings, calendar: DemoCalDav | None) -> int:
    url = _database_url(settings)
    # Workers are fresh processes that read the environment: hand them what we resolved.
    os.environ["DATABASE_URL"] = url
    os.environ["SLOTGRAPH_MODE"] = settings.mode.value
    if args.no_worker:
        os.environ["SLOTGRAPH_RUN_WORKER"] = "false"
    if settings.is_demo and not settings.secret_keys:
        os.environ["SLOTGRAPH_SECRET_KEYS"] = _demo_key(settings)
        settings = settings.model_copy(update={"secret_keys": (_demo_key(settings),)})
    if not args.no_migrate:
        asyncio.run(_migrate(url))
    if calendar is not None:
        write_demo_calendar(calendar, dt.date.today())
        token, page = asyncio.run(_seed(url, settings, calendar))
        address = f"http://{args.host}:{args.port}/graphql"
        print(
            f"\nSlotgraph demo on {address} (GraphiQL in a browser)\n"
            f"Booking page (open it in a browser to book a meeting): {page}\n"
            f"Demo user token (new each start): {token}\n"
            f"Try: curl -s {address} -H 'Authorization: Bearer {token}' "
            f"-H 'Content-Type: application/json' -d '{DEMO_QUERY}'\n"
            f"Demo calendar (CalDAV, Radicale): {calendar.calendar_url} "
            f"(user {calendar.username}, password {calendar.password})\n"
            f"See its events: curl -s -u {calendar.username}:{calendar.password} "
            f"{calendar.calendar_url} | grep -E '^(SUMMARY|DTSTART;)'\n",
            file=sys.stderr,
            flush=True,
        )
    # uvicorn drains requests on SIGTERM, then re-raises the signal with the previous handler
    # in place; exiting normally there lets the embedded PostgreSQL be stopped below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        # Several workers share their samples through files (docs/operations.md "Metrics").
        with multiprocess_metrics(settings, args.workers):
            uvicorn.run(
                "slotgraph.server.app:create_app_from_env",
                factory=True,
                host=args.host,
                port=args.port,
                workers=args.workers,
                access_log=False,
                log_level=settings.log_level.lower(),
                timeout_graceful_shutdown=10,
                # uvicorn's supervisor kills a worker that answers no health ping within this
                # many seconds. Its default, 5 s, killed workers still importing on a loaded
                # two-core machine, again and again, so `serve --workers 3` never became ready.
                timeout_worker_healthcheck=60,
                # The client's address is decided once, by SLOTGRAPH_TRUSTED_PROXIES
                # (`slotgraph.limits.addresses`): uvicorn must not rewrite it first.
                proxy_headers=False,
                # Subscription events are small: per-message deflate cost more CPU per send
                # than it saved, and a compressor per socket (bench/fanout.py, BENCHMARKS.md).
                ws_per_message_deflate=False,
            )
    finally:
        stop_embedded_postgres()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Run the background jobs (outbox deliveries, calendar sync) alone, without the API."""
    settings = _settings()
    if settings.is_demo and not settings.secret_keys:  # read what demo `serve` stored (C15)
        settings = settings.model_copy(update={"secret_keys": (_demo_key(settings),)})
    running = DemoRadicale(settings.data_dir).running() if settings.is_demo else None
    if running is not None and not settings.demo_caldav_url:  # the demo's calendar (C46)
        settings = settings.model_copy(update={"demo_caldav_url": running.url})
    url = _database_url(settings)
    if not args.no_migrate:
        asyncio.run(_migrate(url))
    try:
        run_worker(settings, url)
    finally:
        stop_embedded_postgres()
    return 0


def cmd_migrate(_: argparse.Namespace) -> int:
    settings = _settings(need_keys=False)
    asyncio.run(_migrate(_database_url(settings)))
    print("slotgraph: database schema is up to date", file=sys.stderr)
    return 0


def cmd_export_schema(args: argparse.Namespace) -> int:
    sdl = schema_sdl()
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.output).write_text(sdl)
    return 0


async def _create_token(
    url: str, email: str, name: str, scopes: list[Scope] | None, account_id: int | None
) -> str:
    """A token for the user with `email` (in `account_id` when given): the user's role's
    scopes by default, and never more than them (C37)."""
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with create_sessionmaker(engine).begin() as session:
            query = select(User).where(func.lower(User.email) == email.lower())
            if account_id is not None:
                query = query.where(User.account_id == account_id)
            users = list((await session.execute(query.limit(2))).scalars())
            if not users:
                raise CliError(f"no user with email {email!r}")
            if len(users) > 1:
                raise CliError(f"{email!r} is a user of several accounts; name one with --account")
            allowed = role_scopes(users[0].role)
            if scopes is not None and not set(scopes) <= allowed:
                extra = ", ".join(sorted(s.value for s in set(scopes) - allowed))
                raise CliError(f"the user's role may not hold {extra}")
            return await issue_token(session, users[0], name=name, scopes=scopes or allowed)
    finally:
        await engine.dispose()


class CliError(Exception):
    """A command's input names nothing usable; the message is printed, the exit code is 1."""


def cmd_create_token(args: argparse.Namespace) -> int:
    settings = _settings(need_keys=False)
    scopes = [Scope(s) for s in args.scope] if args.scope else None
    try:
        token = asyncio.run(
            _create_token(_database_url(settings), args.email, args.name, scopes, args.account)
        )
    except CliError as exc:
        print(f"slotgraph: {exc}", file=sys.stderr)
        return 1
    print(token)
    return 0


async def _create_account(url: str, name: str, admin_email: str) -> tuple[int, str]:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with create_sessionmaker(engine).begin() as session:
            account, _, token = await create_account_with_admin(
                session, name=name, admin_email=admin_email
            )
            return account.id, token
    finally:
        await engine.dispose()


def cmd_create_account(args: argparse.Namespace) -> int:
    """Print the new account's id and its first admin's token (shown only now, C23, C37)."""
    settings = _settings(need_keys=False)
    account_id, token = asyncio.run(
        _create_account(_database_url(settings), args.name, args.admin_email)
    )
    print(f"account {account_id}; the admin's first API token (shown only now):", file=sys.stderr)
    print(token)
    return 0


async def _rotate_keys(url: str, keys: tuple[str, ...]) -> int:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        store = CredentialStore(CredentialCipher(keys))
        return await store.rotate_all(create_sessionmaker(engine))
    finally:
        await engine.dispose()


def cmd_rotate_keys(_: argparse.Namespace) -> int:
    """Re-encrypt every stored secret (credentials, webhook signing secrets, manage links)
    under the first key of SLOTGRAPH_SECRET_KEYS; keep the old keys listed until this has
    run, then drop them."""
    settings = _settings()
    count = asyncio.run(_rotate_keys(_database_url(settings), settings.secret_keys))
    print(f"slotgraph: re-encrypted {count} secret(s) under the newest key", file=sys.stderr)
    return 0


def cmd_generate_key(_: argparse.Namespace) -> int:
    print(generate_key())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slotgraph", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the API (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--demo", action="store_true", help="GraphiQL, introspection, demo data")
    serve.add_argument("--no-migrate", action="store_true", help="skip migrating at start")
    serve.add_argument(
        "--no-worker", action="store_true", help="run no background jobs (use `slotgraph worker`)"
    )
    serve.set_defaults(run=cmd_serve)

    worker = commands.add_parser("worker", help="run the background jobs alone")
    worker.add_argument("--no-migrate", action="store_true", help="skip migrating at start")
    worker.set_defaults(run=cmd_worker)

    commands.add_parser("migrate", help="upgrade the database schema").set_defaults(run=cmd_migrate)

    export = commands.add_parser("export-schema", help="write the GraphQL SDL")
    export.add_argument("--output", default=str(SCHEMA_FILE), help="file, or - for stdout")
    export.set_defaults(run=cmd_export_schema)

    token = commands.add_parser("create-token", help="print a new API token for a user")
    token.add_argument("--email", required=True)
    token.add_argument("--name", default="cli")
    token.add_argument(
        "--scope",
        action="append",
        choices=[s.value for s in Scope],
        help="repeat for several; default: every scope the user's role allows",
    )
    token.add_argument("--account", type=int, help="the account id, when the email is in several")
    token.set_defaults(run=cmd_create_token)

    account = commands.add_parser(
        "create-account", help="create an account and its first admin; print the admin's token"
    )
    account.add_argument("--name", required=True)
    account.add_argument("--admin-email", required=True)
    account.set_defaults(run=cmd_create_account)

    commands.add_parser("generate-key", help="print a new secret key").set_defaults(
        run=cmd_generate_key
    )
    commands.add_parser(
        "rotate-keys", help="re-encrypt stored secrets under the newest SLOTGRAPH_SECRET_KEYS key"
    ).set_defaults(run=cmd_rotate_keys)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Whatever the command, the embedded server it started is stopped when it ends (unless
    # another live process still uses it).
    with embedded_postgres_stopped_after():
        code: int = args.run(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
