"""Webhook deliveries (kind WEBHOOK, C22, C46): one event POSTed to one partner endpoint,
signed by the Standard Webhooks spec with the `standardwebhooks` library.

Each attempt sends the delivery's own `webhook-id` (the same on every retry and
redelivery), the attempt's `webhook-timestamp` (receivers refuse stale ones), and a
`webhook-signature` for every secret in force (after a rotation, the previous secret's too
until its overlap ends). The body is the delivery's `{type, timestamp, data}` as JSON.

At least once: the outbox retries until a 2xx. Backoff is exponential, and a receiver's
`Retry-After` is honoured up to `max_retry_after`; retries stop once `retry_window` (at
least 24 hours in production) has passed since the event or its redelivery, and the
delivery is FAILED. Each attempt is a row of the delivery log, written whatever the
outcome. An endpoint whose attempts have failed for `disable_after` (three days) without
a success is disabled, and its owner is emailed through the outbox (kind EMAIL).

C46: the URL is user-supplied, so the connection goes through `CheckedTransport`: the
trusted CAs (`SLOTGRAPH_CA_BUNDLE`) and the connected peer's address checked, so a name
that resolves to a loopback or private address is refused at connect time (permanently:
retrying cannot make it public). A receiver gets 10 seconds (`timeout`); no redirects.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar

import httpx
import structlog
from sqlalchemy import update
from standardwebhooks import Webhook

from slotgraph.clock import utc_now
from slotgraph.jobs.outbox import Delivery
from slotgraph.jobs.outbox import DeliveryFailure
from slotgraph.jobs.outbox import DeliveryPolicy
from slotgraph.jobs.outbox import post
from slotgraph.models import OutboxMessage
from slotgraph.models import User
from slotgraph.models import WebhookAttempt
from slotgraph.models import WebhookDelivery
from slotgraph.models import WebhookEndpoint
from slotgraph.models.outbox import OutboxKind
from slotgraph.models.webhooks import WebhookDeliveryState
from slotgraph.providers.base import AddressNotAllowed
from slotgraph.providers.outbound import CheckedTransport
from slotgraph.providers.outbound import Trust
from slotgraph.providers.outbound import find_refusal
from slotgraph.providers.rest import retry_after

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from slotgraph.calendars.credentials import CredentialStore

log = structlog.get_logger("slotgraph.webhooks")
DISABLED = "The endpoint is disabled; enable it and redeliver."


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    """How webhooks are sent (settings `webhook_*`)."""

    timeout: float = 10.0
    retry_window: dt.timedelta = dt.timedelta(hours=24)
    initial_backoff: float = 30.0
    max_backoff: float = 2 * 3600.0
    max_retry_after: float = 6 * 3600.0
    disable_after: dt.timedelta = dt.timedelta(days=3)
    lease: float = 60.0


def signature(secrets: list[str], message_id: str, timestamp: dt.datetime, body: str) -> str:
    """The `webhook-signature` header: one `v1,<base64>` per secret, space separated."""
    return " ".join(Webhook(s).sign(message_id, timestamp, body) for s in secrets)


def secrets_in_force(sealed: Mapping[str, Any], now: dt.datetime) -> list[str]:
    """The current secret and, during a rotation's overlap, the previous one."""
    found = [str(sealed["current"])]
    until = sealed.get("previous_until")
    if sealed.get("previous") and until and dt.datetime.fromisoformat(until) > now:
        found.append(str(sealed["previous"]))
    return found


@dataclass(slots=True)
class _Attempt:
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None
    refused: bool = False


class Webhooks(Delivery):
    """Sends the delivery a WEBHOOK row names and logs the attempt."""

    kinds: ClassVar[frozenset[OutboxKind]] = frozenset({OutboxKind.WEBHOOK})

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        credentials: CredentialStore,
        trust: Trust,
        policy: WebhookPolicy = WebhookPolicy(),
        *,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.credentials = credentials
        self.trust = trust
        self.webhook_policy = policy
        self.clock = clock
        # Attempts are bounded by time (the retry window), not by count.
        self.policy = DeliveryPolicy(
            max_attempts=1_000_000,
            initial_backoff=policy.initial_backoff,
            max_backoff=policy.max_backoff,
            lease=policy.lease,
        )

    async def deliver(self, message: OutboxMessage) -> Mapping[str, Any] | None:
        async with self.sessionmaker() as session:
            delivery = await session.get(WebhookDelivery, int(message.payload["deliveryId"]))
            endpoint = (
                None
                if delivery is None
                else await session.get(WebhookEndpoint, delivery.endpoint_id)
            )
        if delivery is None or endpoint is None:  # the endpoint was deleted meanwhile
            return None
        if endpoint.disabled_at is not None:
            raise DeliveryFailure(DISABLED, permanent=True)
        now = self.clock()
        secrets = secrets_in_force(self.credentials.unseal(endpoint.secrets), now)
        body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False)
        headers = {
            "content-type": "application/json",
            "user-agent": "Slotgraph-Webhooks/1",
            "webhook-id": delivery.message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature(secrets, delivery.message_id, now, body),
        }
        started = time.monotonic()
        attempt = await self._send(endpoint.url, headers, body.encode())
        elapsed = int((time.monotonic() - started) * 1000)
        gave_up = await self._log(delivery, endpoint, attempt, now, elapsed)
        if attempt.error is None:
            return None
        wait = attempt.retry_after
        if wait is not None:
            wait = min(wait, self.webhook_policy.max_retry_after)
        raise DeliveryFailure(attempt.error, permanent=attempt.refused or gave_up, retry_after=wait)

    async def _send(self, url: str, headers: dict[str, str], body: bytes) -> _Attempt:
        transport = CheckedTransport(self.trust)
        timeout = httpx.Timeout(self.webhook_policy.timeout)
        try:
            async with httpx.AsyncClient(
                transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
            ) as client:
                response = await client.post(url, content=body, headers=headers)
        except AddressNotAllowed as refusal:
            return _Attempt(error=refusal.message, refused=True)
        except httpx.TimeoutException:
            return _Attempt(error=f"No answer within {self.webhook_policy.timeout:g} s.")
        except httpx.HTTPError as error:
            wrapped = find_refusal(error)
            if wrapped is not None:
                return _Attempt(error=wrapped.message, refused=True)
            return _Attempt(error=f"Could not reach the endpoint ({type(error).__name__}).")
        if 200 <= response.status_code < 300:
            return _Attempt(status_code=response.status_code)
        return _Attempt(
            status_code=response.status_code,
            error=f"The endpoint answered HTTP {response.status_code}.",
            retry_after=retry_after(response),
        )

    async def _log(
        self,
        delivery: WebhookDelivery,
        endpoint: WebhookEndpoint,
        attempt: _Attempt,
        now: dt.datetime,
        elapsed_ms: int,
    ) -> bool:
        """Write the attempt to the delivery log and the endpoint's failing streak; whether
        the retry window is over (the delivery gives up)."""
        async with self.sessionmaker.begin() as session:
            session.add(
                WebhookAttempt(
                    delivery_id=delivery.id,
                    attempted_at=now,
                    status_code=attempt.status_code,
                    error=attempt.error,
                    duration_ms=elapsed_ms,
                )
            )
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery.id)
                .values(
                    attempts=WebhookDelivery.attempts + 1,
                    last_status_code=attempt.status_code,
                    last_error=attempt.error,
                    last_attempt_at=now,
                )
            )
            if attempt.error is None:
                await session.execute(
                    update(WebhookEndpoint)
                    .where(WebhookEndpoint.id == endpoint.id)
                    .values(failing_since=None)
                )
                return False
            disabled = await self._failing(session, endpoint.id, now)
        return disabled or now - delivery.window_started_at >= self.webhook_policy.retry_window

    async def _failing(self, session: AsyncSession, endpoint_id: int, now: dt.datetime) -> bool:
        """Start or extend the endpoint's failing streak; after `disable_after`, disable it
        and email its owner (once: only the attempt that disables it posts). Whether the
        endpoint is disabled now."""
        endpoint = await session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
        if endpoint is None or endpoint.disabled_at is not None:
            return True
        if endpoint.failing_since is None:
            endpoint.failing_since = now
            return False
        if now - endpoint.failing_since < self.webhook_policy.disable_after:
            return False
        endpoint.disabled_at = now
        endpoint.disabled_reason = "Every delivery failed for three days; fix it and enable it."
        owner = await session.get(User, endpoint.user_id)
        log.warning("webhook endpoint disabled", endpoint_id=endpoint.id)
        if owner is not None:
            await post(
                session,
                OutboxMessage(
                    account_id=endpoint.account_id,
                    kind=OutboxKind.EMAIL,
                    payload=_disabled_email(owner, endpoint.url),
                ),
            )
        return True

    async def record_done(
        self, session: AsyncSession, message: OutboxMessage, result: Mapping[str, Any] | None
    ) -> None:
        await self._state(session, message, WebhookDeliveryState.DELIVERED)

    async def record_failure(
        self, session: AsyncSession, message: OutboxMessage, error: str, gave_up: bool
    ) -> None:
        if gave_up:
            await self._state(session, message, WebhookDeliveryState.FAILED)

    async def _state(
        self, session: AsyncSession, message: OutboxMessage, state: WebhookDeliveryState
    ) -> None:
        await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == int(message.payload["deliveryId"]),
                WebhookDelivery.outbox_id == message.id,  # not an older send's outcome
            )
            .values(state=state)
        )


def _disabled_email(owner: User, url: str) -> dict[str, Any]:
    return {
        "to": owner.email,
        "subject": "A webhook endpoint was disabled",
        "body": (
            f"Hi {owner.name},\n\nEvery delivery to your webhook endpoint {url} has failed "
            "for three days, so Slotgraph has disabled it and stopped sending to it.\n\n"
            "Once the endpoint answers again, enable it (updateWebhookEndpoint) and "
            "redeliver what it missed (redeliverWebhook).\n"
        ),
    }
