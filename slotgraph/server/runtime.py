"""What one process shares between requests and background jobs, built once from settings:
the engine and sessions, the HTTP client for providers, the metrics recorder, and the use
cases' services (`slotgraph.usecases.services.Services`, built here and only here)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import structlog

from slotgraph.calendars.busy_cache import BusyCachePolicy
from slotgraph.calendars.credentials import CredentialStore
from slotgraph.clock import utc_now
from slotgraph.jobs.deliveries.webhooks import WebhookPolicy
from slotgraph.models.crypto import CredentialCipher
from slotgraph.models.crypto import generate_key
from slotgraph.models.db import create_engine
from slotgraph.models.db import create_sessionmaker
from slotgraph.notices.feeds import AvailabilityFeeds
from slotgraph.notices.nats_pubsub import NatsPubSub
from slotgraph.notices.postgres_pubsub import PostgresPubSub
from slotgraph.notices.pubsub import InMemoryPubSub
from slotgraph.notices.settings import PubSubKind
from slotgraph.observability.prometheus import PrometheusRecorder
from slotgraph.observability.providers import metered_registry
from slotgraph.observability.recorder import NO_RECORDER
from slotgraph.providers.dns_txt import TxtResolver
from slotgraph.providers.registry import ProviderRegistry
from slotgraph.server.limits import build_limits
from slotgraph.server.providers import Registries
from slotgraph.server.providers import build_registries
from slotgraph.server.providers import outbound_trust
from slotgraph.server.providers import provider_tls
from slotgraph.usecases.services import Services
from slotgraph.usecases.slot_answers import SlotAnswers

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from slotgraph.notices.pubsub import PubSub
    from slotgraph.server.settings import Settings

log = structlog.get_logger("slotgraph.runtime")


@dataclass(frozen=True, slots=True)
class Runtime:
    """What every request needs, built once per process."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    services: Services
    # What `/metrics` exposes; None when metrics are turned off.
    metrics: PrometheusRecorder | None = None
    # The registries built here (None when the caller gave its own, which it closes).
    registries: Registries | None = None

    async def aclose(self) -> None:
        await self.services.pubsub.stop()  # again after the lifespan's stop: a no-op
        if self.registries is not None:
            await self.registries.aclose()
        await self.http.aclose()
        await self.engine.dispose()


def build_runtime(
    settings: Settings,
    database_url: str,
    *,
    registry: ProviderRegistry | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
) -> Runtime:
    """The engine connects lazily; `registry` defaults to the providers in `settings` (two
    registries: tight retries for requests, patient ones for jobs; a given `registry` serves
    both, and either one reports its calls to the metrics recorder); `clock` is the use
    cases' "now"."""
    engine = create_engine(
        database_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
    )
    sessionmaker = create_sessionmaker(engine)
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.provider_timeout_seconds, connect=5.0),
        follow_redirects=False,
        trust_env=False,
        verify=provider_tls(settings),
    )
    keys = settings.secret_keys
    if not keys:  # demo mode started without `slotgraph serve`: a throwaway key (C15)
        log.warning("no SLOTGRAPH_SECRET_KEYS: credentials will not survive a restart")
        keys = (generate_key(),)
    pubsub = build_pubsub(settings, database_url)
    built: Registries | None = None  # what this runtime opened, so closes
    if registry is None:
        registries = built = build_registries(settings, http)
    else:
        registries = Registries(interactive=registry, background=registry)
    metrics = (
        PrometheusRecorder(settings.metrics_multiprocess_dir) if settings.metrics_enabled else None
    )
    recorder = NO_RECORDER if metrics is None else metrics
    services = Services(
        sessionmaker=sessionmaker,
        registry=metered_registry(registries.interactive, recorder),
        background_registry=metered_registry(registries.background, recorder),
        credentials=CredentialStore(CredentialCipher(keys), pubsub, clock=clock),
        public_base_url=settings.public_base_url,
        pubsub=pubsub,
        feeds=AvailabilityFeeds(),
        busy_cache=BusyCachePolicy(
            fallback=dt.timedelta(seconds=settings.busy_cache_freshness_seconds),
            listing=dt.timedelta(seconds=settings.busy_cache_listing_seconds),
        ),
        clock=clock,
        sync_freshness=dt.timedelta(seconds=settings.sync_freshness_seconds),
        limits=build_limits(settings, sessionmaker, http),
        dns=TxtResolver(settings.dns_nameservers, settings.dns_timeout_seconds),
        domain_recheck=dt.timedelta(hours=settings.domain_recheck_hours),
        domain_grace=dt.timedelta(hours=settings.domain_grace_hours),
        metrics=recorder,
        outbound=outbound_trust(settings),
        webhooks=webhook_policy(settings),
        slot_answers=(
            SlotAnswers(pubsub, settings.slot_answers_max_entries)
            if settings.slot_answers_max_entries
            else None
        ),
    )
    return Runtime(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        http=http,
        services=services,
        metrics=metrics,
        registries=built,
    )


def build_pubsub(settings: Settings, database_url: str) -> PubSub:
    """Change notices for subscriptions (`slotgraph.notices.pubsub`), by `SLOTGRAPH_PUBSUB`:
    NOTIFY on a connection of its own (never queued behind requests), or NATS over one
    connection made at the first publish. Either way the process's one listening
    connection starts with the app's lifespan (`start()`); a `slotgraph worker` only
    publishes and never starts it."""
    if settings.pubsub is PubSubKind.NATS:
        return NatsPubSub(settings.nats_servers, subject_prefix=settings.nats_subject_prefix)
    return PostgresPubSub(database_url)


def offline_services(
    sessionmaker: async_sessionmaker[AsyncSession],
    public_base_url: str,
    *,
    clock: Callable[[], dt.datetime] = utc_now,
) -> Services:
    """Services for tools that run use cases outside a serving process (benchmark and test
    seeding): no provider configured, change notices delivered in this process only, and a
    throwaway credential key (connecting a calendar, the one use case that stores a
    secret, needs a provider, so nothing is sealed with it)."""
    pubsub = InMemoryPubSub()
    return Services(
        sessionmaker=sessionmaker,
        registry=ProviderRegistry(),
        credentials=CredentialStore(CredentialCipher((generate_key(),)), pubsub, clock=clock),
        public_base_url=public_base_url,
        pubsub=pubsub,
        feeds=AvailabilityFeeds(),
        clock=clock,
    )


def webhook_policy(settings: Settings) -> WebhookPolicy:
    """How webhooks are sent, from the `webhook_*` settings (C22)."""
    return WebhookPolicy(
        timeout=settings.webhook_timeout_seconds,
        retry_window=dt.timedelta(hours=settings.webhook_retry_window_hours),
        initial_backoff=settings.webhook_initial_backoff_seconds,
        max_backoff=settings.webhook_max_backoff_seconds,
        max_retry_after=settings.webhook_max_retry_after_seconds,
        disable_after=dt.timedelta(hours=settings.webhook_disable_after_hours),
        lease=settings.outbox_lease_seconds,
    )
