"""createWebhookEndpoint, updateWebhookEndpoint, rotateWebhookSecret,
deleteWebhookEndpoint, redeliverWebhook (C22, C38); the rules live in
`slotgraph.usecases.webhooks`."""

from __future__ import annotations

import strawberry

from slotgraph.graph.context import Info
from slotgraph.graph.errors import NotFound
from slotgraph.graph.errors import PermissionDenied
from slotgraph.graph.errors import ValidationError
from slotgraph.graph.relay import require_pk
from slotgraph.graph.results import fails_with
from slotgraph.graph.types.webhooks import WebhookDelivery
from slotgraph.graph.types.webhooks import WebhookEndpoint
from slotgraph.models import WebhookEndpoint as EndpointRow
from slotgraph.usecases import webhooks as use_case

MAX_EVENT_TYPES = 20


@strawberry.input
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description="HTTPS; not a private or loopback address (C46).")
    event_types: list[str] = strawberry.field(
        default_factory=list,
        description="e.g. booking.created, booking.cancelled; empty: every event type.",
    )
    description: str = ""
    account_wide: bool = strawberry.field(
        default=False, description="Every event of the account: admins only (C38)."
    )


@strawberry.type
class CreateWebhookEndpointSuccess:
    webhook_endpoint: WebhookEndpoint
    secret: str = strawberry.field(
        description="The signing secret (`whsec_...`) for verifying signatures; shown only now."
    )

    @classmethod
    def of(cls, created: tuple[EndpointRow, str]) -> CreateWebhookEndpointSuccess:
        """A new endpoint or a new secret: both answer the endpoint and its secret, once."""
        row, secret = created
        return cls(webhook_endpoint=WebhookEndpoint.from_row(row), secret=secret)


@strawberry.input
class UpdateWebhookEndpointInput:
    id: strawberry.ID
    url: str | None = None
    event_types: list[str] | None = None
    description: str | None = None
    enabled: bool | None = strawberry.field(
        default=None, description="false disables it; true enables it again."
    )


@strawberry.type
class UpdateWebhookEndpointSuccess:
    webhook_endpoint: WebhookEndpoint


@strawberry.input
class RotateWebhookSecretInput:
    id: strawberry.ID
    overlap_hours: float = strawberry.field(
        default=24.0, description="How long the previous secret keeps signing too (0 to 168)."
    )


@strawberry.input
class DeleteWebhookEndpointInput:
    id: strawberry.ID


@strawberry.type
class DeleteWebhookEndpointSuccess:
    deleted_id: strawberry.ID


@strawberry.input
class RedeliverWebhookInput:
    delivery_id: strawberry.ID


@strawberry.type
class RedeliverWebhookSuccess:
    delivery: WebhookDelivery


def _endpoint_pk(global_id: str) -> int:
    return require_pk(global_id, "WebhookEndpoint", field="id", kind="webhook endpoint")


@fails_with(ValidationError, PermissionDenied)
async def create_webhook_endpoint(
    info: Info, input: CreateWebhookEndpointInput
) -> CreateWebhookEndpointSuccess:
    """Register an endpoint (needs `webhooks:write`; account-wide also `admin`)."""
    created = await use_case.create_webhook_endpoint(
        info.context.services,
        info.context.viewer,
        url=input.url,
        event_types=input.event_types[:MAX_EVENT_TYPES],
        description=input.description[:1000],
        account_wide=input.account_wide,
    )
    return CreateWebhookEndpointSuccess.of(created)


@fails_with(NotFound, ValidationError, PermissionDenied)
async def update_webhook_endpoint(
    info: Info, input: UpdateWebhookEndpointInput
) -> UpdateWebhookEndpointSuccess:
    """Change, disable or enable one of your endpoints."""
    row = await use_case.update_webhook_endpoint(
        info.context.services,
        info.context.viewer,
        _endpoint_pk(input.id),
        url=input.url,
        event_types=None if input.event_types is None else input.event_types[:MAX_EVENT_TYPES],
        description=None if input.description is None else input.description[:1000],
        enabled=input.enabled,
    )
    return UpdateWebhookEndpointSuccess(webhook_endpoint=WebhookEndpoint.from_row(row))


@fails_with(NotFound, ValidationError, PermissionDenied)
async def rotate_webhook_secret(
    info: Info, input: RotateWebhookSecretInput
) -> CreateWebhookEndpointSuccess:
    """A new signing secret, shown only now; the old one signs beside it for the overlap."""
    rotated = await use_case.rotate_webhook_secret(
        info.context.services,
        info.context.viewer,
        _endpoint_pk(input.id),
        overlap_hours=input.overlap_hours,
    )
    return CreateWebhookEndpointSuccess.of(rotated)


@fails_with(NotFound, ValidationError, PermissionDenied)
async def delete_webhook_endpoint(
    info: Info, input: DeleteWebhookEndpointInput
) -> DeleteWebhookEndpointSuccess:
    """Delete one of your endpoints with its delivery log."""
    await use_case.delete_webhook_endpoint(
        info.context.services, info.context.viewer, _endpoint_pk(input.id)
    )
    return DeleteWebhookEndpointSuccess(deleted_id=input.id)


@fails_with(NotFound, ValidationError, PermissionDenied)
async def redeliver_webhook(info: Info, input: RedeliverWebhookInput) -> RedeliverWebhookSuccess:
    """Send a delivery again (same `webhook-id`), retried for another 24 hours."""
    pk = require_pk(input.delivery_id, "WebhookDelivery", field="deliveryId", kind="delivery")
    row = await use_case.redeliver_webhook(info.context.services, info.context.viewer, pk)
    return RedeliverWebhookSuccess(delivery=WebhookDelivery.from_row((row, None)))
