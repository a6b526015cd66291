"""The use cases' one dependency object, `Services`, built once per process.

Every use case takes it the same way: `services` first, then the `viewer` (or, for booking
changes, the `Manager` standing for host or contact) where there is one, then its inputs.
Whatever a use case needs besides its inputs comes from here: the database
(`sessionmaker`), the providers (`registry`, `background_registry`), the credential store,
the public address, change notices (`pubsub`) and shared availability feeds, the busy
cache's policy, how fresh a sync must be, what records metrics (`metrics`), and the clock: a
use case that decides on "now" asks `services.clock()`, never the wall clock, so a fixed
clock holds for every rule (C17).

This module is a leaf of the use-case layer: it imports no use case, at run time or under
TYPE_CHECKING, only the layers below (calendars, limits, notices, observability, providers),
so any use case, the API and the server can import it without an import cycle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

from slotgraph.calendars.busy_cache import BusyCachePolicy
from slotgraph.calendars.clients import ConnectionClients
from slotgraph.clock import utc_now
from slotgraph.jobs.deliveries.webhooks import WebhookPolicy
from slotgraph.limits.policy import PublicLimits
from slotgraph.observability.recorder import NO_RECORDER
from slotgraph.observability.recorder import Recorder
from slotgraph.providers.dns_txt import TxtResolver
from slotgraph.providers.outbound import Trust

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from slotgraph.calendars.credentials import CredentialStore
    from slotgraph.notices.feeds import AvailabilityFeeds
    from slotgraph.notices.pubsub import PubSub
    from slotgraph.providers.registry import ProviderRegistry
    from slotgraph.usecases.slot_answers import SlotAnswers


@dataclass(frozen=True, slots=True)
class Services:
    """What use cases need besides their inputs; frozen, shared by every request and job."""

    sessionmaker: async_sessionmaker[AsyncSession]
    registry: ProviderRegistry
    credentials: CredentialStore
    public_base_url: str
    pubsub: PubSub
    feeds: AvailabilityFeeds
    busy_cache: BusyCachePolicy = field(default_factory=BusyCachePolicy)
    # The time use cases take as "now" (aware UTC); a fixed clock lets the benchmark ask
    # for slots in the canonical workload's window, which lies in the past (C17).
    clock: Callable[[], dt.datetime] = utc_now
    # How recent a calendar's last sync must be for availability to use its synced events
    # instead of live free/busy (`Settings.sync_freshness_seconds`).
    sync_freshness: dt.timedelta = dt.timedelta(minutes=15)
    # The providers background jobs use (outbox, sync, push, task events): patient retries,
    # where `registry` is tuned for a person waiting. None: `registry` serves both.
    background_registry: ProviderRegistry | None = None
    # Limits on public operations and the bot check (C25, C33, C34); none by default.
    limits: PublicLimits = field(default_factory=PublicLimits.unlimited)
    # Connected domains (C40): where TXT records are looked up, how often each domain is
    # checked again, and how long a verified domain's record may be missing before it lapses.
    dns: TxtResolver = field(default_factory=TxtResolver)
    domain_recheck: dt.timedelta = dt.timedelta(hours=24)
    domain_grace: dt.timedelta = dt.timedelta(hours=72)
    # Where requests, provider calls and open sockets are reported (`slotgraph.observability`);
    # the registries above already report through it.
    metrics: Recorder = NO_RECORDER
    # Outbound trust (C46): which non-public networks user-supplied URLs (webhooks) may
    # reach, and the trusted CAs; how webhooks are sent (C22).
    outbound: Trust = field(default_factory=Trust)
    webhooks: WebhookPolicy = field(default_factory=WebhookPolicy)
    # Slot answers shared by this process's requests and feeds until a change notice
    # (`slotgraph.usecases.slot_answers`); None: every request computes its own.
    # Typed loosely: the answer type lives in the availability use case, which imports this.
    slot_answers: SlotAnswers[Any] | None = None

    @property
    def job_registry(self) -> ProviderRegistry:
        return self.background_registry or self.registry

    @property
    def connection_clients(self) -> ConnectionClients:
        """Clients of stored connections for background work (outbox, sync, push)."""
        return ConnectionClients(
            self.sessionmaker, self.credentials, self.job_registry, self.pubsub
        )
