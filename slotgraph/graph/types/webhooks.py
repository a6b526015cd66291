"""Webhook endpoints and their deliveries as their owner sees them (C22): never a secret."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import strawberry
from strawberry.scalars import JSON

from slotgraph.graph.context import Info
from slotgraph.graph.relay import Node
from slotgraph.graph.rows import from_columns
from slotgraph.graph.rows import load_many
from slotgraph.models.webhooks import WebhookDeliveryState

if TYPE_CHECKING:
    from slotgraph.models import WebhookAttempt as AttemptRow
    from slotgraph.models import WebhookDelivery as DeliveryRow
    from slotgraph.models import WebhookEndpoint as EndpointRow

WebhookDeliveryStatus = strawberry.enum(
    WebhookDeliveryState,
    name="WebhookDeliveryStatus",
    description="PENDING: not yet answered with a 2xx, retried with backoff (`nextAttemptAt`). "
    "DELIVERED: the endpoint answered 2xx. FAILED: retries ended (24 hours passed, the "
    "endpoint was disabled, or its address is refused); `redeliverWebhook` sends it again.",
)


@strawberry.type(description="One try of a delivery: what the endpoint answered, if anything.")
class WebhookAttempt:
    attempted_at: dt.datetime
    response_code: int | None = strawberry.field(description="Null: no HTTP answer.")
    error: str | None = strawberry.field(description="Null: answered 2xx.")
    duration_ms: int

    @classmethod
    def from_row(cls, row: AttemptRow) -> WebhookAttempt:
        return from_columns(cls, row, response_code=row.status_code)


@strawberry.type(description="One event sent (or being sent) to one of your endpoints.")
class WebhookDelivery(Node):
    pk: strawberry.Private[int]
    webhook_id: str = strawberry.field(
        description="The `webhook-id` header, the same on every attempt and redelivery."
    )
    event_type: str
    status: WebhookDeliveryStatus  # type: ignore[valid-type]
    attempts: int
    last_response_code: int | None
    last_attempt_at: dt.datetime | None
    last_error: str | None
    next_attempt_at: dt.datetime | None = strawberry.field(
        description="When it is tried again; null unless PENDING."
    )
    payload: JSON = strawberry.field(description="The body sent: `{type, timestamp, data}`.")
    created_at: dt.datetime

    @strawberry.field(description="Every attempt, oldest first (the delivery log).")
    async def attempt_log(self, info: Info) -> list[WebhookAttempt]:
        loader = info.context.loaders.webhook_attempts
        return await load_many(loader, self.pk, WebhookAttempt.from_row)

    @classmethod
    def from_row(cls, found: tuple[DeliveryRow, dt.datetime | None]) -> WebhookDelivery:
        row, next_attempt_at = found
        return from_columns(
            cls,
            row,
            webhook_id=row.message_id,
            status=row.state,
            last_response_code=row.last_status_code,
            next_attempt_at=next_attempt_at if row.state is WebhookDeliveryState.PENDING else None,
        )


@strawberry.type(description="A URL of a partner app that receives signed events (C22).")
class WebhookEndpoint(Node):
    pk: strawberry.Private[int]
    url: str
    description: str
    event_types: list[str] = strawberry.field(description="Empty: every event type.")
    account_wide: bool = strawberry.field(
        description="Receives the whole account's events (admins only); otherwise only "
        "your own bookings' and connections' (C38)."
    )
    enabled: bool
    disabled_at: dt.datetime | None
    disabled_reason: str | None
    failing_since: dt.datetime | None = strawberry.field(
        description="Every attempt has failed since then; after three days the endpoint is "
        "disabled and you are emailed."
    )
    created_at: dt.datetime

    @strawberry.field(description="The latest deliveries, newest first (at most 20).")
    async def recent_deliveries(self, info: Info) -> list[WebhookDelivery]:
        loader = info.context.loaders.recent_webhook_deliveries
        return await load_many(loader, self.pk, WebhookDelivery.from_row)

    @classmethod
    def from_row(cls, row: EndpointRow) -> WebhookEndpoint:
        return from_columns(
            cls, row, event_types=list(row.event_types), enabled=row.disabled_at is None
        )
