"""The Starlette application: `/graphql` (HTTP and graphql-transport-ws), the OAuth
callbacks, the push notification routes (`slotgraph.server.notifications`), health routes,
`/metrics` (`slotgraph.server.metrics`), request ids and access logs, and a lifespan that
owns the database engine, the pub/sub listener behind subscriptions, the metrics port if
any and, unless turned off, the background workers."""

from __future__ import annotations

import datetime as dt
import gc
import re
import time
import uuid
from collections.abc import AsyncIterator
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import Response
from starlette.routing import Route
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from slotgraph.clock import utc_now
from slotgraph.graph.context import Context
from slotgraph.graph.fanout import FanoutGroups
from slotgraph.graph.schema import build_schema
from slotgraph.models.db import start_embedded_postgres
from slotgraph.models.reachability import database_unreachable
from slotgraph.server.auth import REFUSED_MESSAGE
from slotgraph.server.auth import BearerAuth
from slotgraph.server.auth import InvalidToken
from slotgraph.server.auth import connection_init_credential
from slotgraph.server.auth import viewer_for
from slotgraph.server.cors import GraphQLCors
from slotgraph.server.cors import SameOrigins
from slotgraph.server.graphql_http import MediaTypedGraphQL
from slotgraph.server.grouped_ws import GroupedTransportWS
from slotgraph.server.limits import client_address_of
from slotgraph.server.logs import configure_logging
from slotgraph.server.metrics import CountedSockets
from slotgraph.server.metrics import MetricsPort
from slotgraph.server.metrics import metrics_routes
from slotgraph.server.notifications import google_endpoint
from slotgraph.server.notifications import microsoft_endpoint
from slotgraph.server.oauth import callback_endpoint
from slotgraph.server.robots import robots_endpoint
from slotgraph.server.runtime import Runtime
from slotgraph.server.runtime import build_runtime
from slotgraph.server.settings import Settings
from slotgraph.server.settings import load_settings
from slotgraph.server.token_sockets import TokenSockets
from slotgraph.server.token_sockets import watch_token
from slotgraph.server.unavailable import DatabaseAway
from slotgraph.server.unavailable import mark_websocket_database_away
from slotgraph.server.unavailable import readyz_endpoint
from slotgraph.server.worker import BackgroundWorker
from slotgraph.server.worker import build_queue
from slotgraph.web.routes import web_routes

if TYPE_CHECKING:
    from starlette.types import ASGIApp
    from starlette.types import Message
    from starlette.types import Receive
    from starlette.types import Scope
    from starlette.types import Send

    from slotgraph.providers.registry import ProviderRegistry

log = structlog.get_logger("slotgraph.http")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class SlotgraphGraphQL(MediaTypedGraphQL):
    """Strawberry's ASGI view with our context, websocket authentication and the
    GraphQL-over-HTTP media types (`slotgraph.server.graphql_http`)."""

    graphql_transport_ws_handler_class = GroupedTransportWS

    def __init__(self, runtime: Runtime, **kwargs: Any) -> None:
        settings = runtime.settings
        super().__init__(
            build_schema(
                introspection=settings.is_demo,
                max_depth=settings.max_query_depth,
                max_aliases=settings.max_aliases,
                max_tokens=settings.max_tokens,
            ),
            graphql_ide="graphiql" if settings.is_demo else None,
            allow_queries_via_get=True,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
            max_subscriptions_per_connection=settings.max_subscriptions_per_socket,
            allowed_origins=settings.allowed_origins,
            **kwargs,
        )
        self.runtime = runtime
        self.same_origins = SameOrigins(runtime.services)
        self.fanout_groups = (
            FanoutGroups(late_joins=settings.fanout_late_joins)
            if settings.fanout_grouping
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.same_origins.remember(scope)  # for is_websocket_origin_allowed
        await super().__call__(scope, receive, send)

    def is_websocket_origin_allowed(self, request: Any, origin: str) -> bool:
        """C35: the app domain and verified connected domains, besides the configured ones."""
        scope = getattr(request, "scope", {})
        return SameOrigins.is_same_origin_in(scope) or super().is_websocket_origin_allowed(
            request, origin
        )

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        state = request.scope.get("state", {})
        return Context(
            sessionmaker=self.runtime.sessionmaker,
            public_base_url=self.runtime.settings.public_base_url,
            viewer=state.get("viewer"),
            request_id=state.get("request_id", ""),
            request=request,
            response=response,
            services=self.runtime.services,
            client_address=client_address_of(request, self.runtime.settings),
        )

    async def on_ws_connect(self, context: Context) -> None:
        params = context.connection_params
        try:
            credential = connection_init_credential(params)
            context.viewer = await viewer_for(self.runtime.services, credential)
        except InvalidToken:
            raise ConnectionRejectionError({"message": REFUSED_MESSAGE}) from None
        except Exception as error:  # C30: closed as "try again later", not as refused
            if not database_unreachable(error):
                raise
            mark_websocket_database_away(context.request.scope)
            raise ConnectionRejectionError({"message": "database unavailable"}) from None
        watch_token(context.request.scope, context.viewer)  # ends it on revocation (C23)
        context.reset_loaders()


class RequestIds:
    """Give each request an id (the caller's `X-Request-ID` if sane), bind it to every log
    line of the request, echo it in the response, and write one access-log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        sent = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = sent if REQUEST_ID.match(sent) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                log.info(
                    "request",
                    method=scope.get("method", "WS"),
                    path=scope["path"],
                    status=status,
                    ms=round((time.perf_counter() - started) * 1000, 2),
                )


def tune_garbage_collector() -> None:
    """Move everything alive at start-up (modules, schema, ORM mappers) out of the cyclic
    collector's sight and collect young objects less often. A GraphQL request allocates
    many short-lived objects, so the default thresholds run generation-0 collections
    that rescan the same long-lived heap again and again (BENCHMARKS.md measures it)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def create_app(
    settings: Settings,
    database_url: str,
    *,
    registry: ProviderRegistry | None = None,
    worker: bool = False,
    clock: Callable[[], dt.datetime] = utc_now,
) -> Starlette:
    """The app on `database_url`; the engine connects lazily and closes at shutdown.
    `registry` defaults to the providers configured in `settings`; `worker` runs the job
    queue's workers inside this process, started and stopped with the lifespan; `clock`
    is the use cases' "now" (a fixed one for the slots benchmark, whose workload lies in
    the past)."""
    runtime = build_runtime(settings, database_url, registry=registry, clock=clock)
    services = runtime.services
    background = BackgroundWorker(build_queue(runtime, database_url)) if worker else None
    graphql = SlotgraphGraphQL(runtime)
    authed_graphql = BearerAuth(graphql, services)
    metrics_port = MetricsPort.of(runtime)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        tune_garbage_collector()
        pubsub = runtime.services.pubsub
        await pubsub.start()
        if background is not None:
            background.start()
        if metrics_port is not None:
            await metrics_port.start()
        log.info("started", mode=settings.mode.value, worker=background is not None)
        try:
            yield
        finally:
            if metrics_port is not None:
                await metrics_port.stop()
            if background is not None:
                await background.stop()
            await pubsub.stop()
            await runtime.aclose()
            log.info("stopped")

    app = Starlette(
        routes=[
            Route(
                "/graphql",
                GraphQLCors(
                    authed_graphql,
                    same_origins=graphql.same_origins,
                    allowed_origins=settings.allowed_origins,
                ),
                methods=["GET", "POST", "OPTIONS"],
            ),
            WebSocketRoute(
                "/graphql", CountedSockets(TokenSockets(graphql, services), services.metrics)
            ),
            Route(
                "/oauth/{provider}/callback",
                callback_endpoint(services, settings.dashboard_url),
                methods=["GET", "POST"],
            ),
            Route("/notifications/google", google_endpoint(services), methods=["POST"]),
            Route("/notifications/microsoft", microsoft_endpoint(services), methods=["POST"]),
            Route("/robots.txt", robots_endpoint(services), methods=["GET"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz_endpoint(database_url)),
            *metrics_routes(runtime),
            *web_routes(graphql.schema, services, settings.secret_keys),
        ],
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
    )
    app.state.runtime = runtime
    app.add_middleware(DatabaseAway)
    app.add_middleware(RequestIds)
    return app


def create_app_from_env() -> Starlette:
    """uvicorn's factory: every worker process builds its app from the environment that
    `slotgraph serve` prepared (DATABASE_URL already resolved)."""
    settings = load_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    database_url = settings.database_url or start_embedded_postgres(settings.data_dir)
    return create_app(settings, database_url, worker=settings.run_worker)
