"""Webhook endpoints of partner apps (C22, C38): register, change, enable or disable,
rotate the secret, delete, and redeliver. All need the `webhooks:write` scope.

An endpoint belongs to the user who registers it, and only they see and manage it. It
hears of its owner's bookings and connections; an account-wide one (`accountWide`) hears
of the whole account's, which needs the admin role and the `admin` scope (C38).

The signing secret (`whsec_` and 24 random bytes, base64) is answered once, at creation
or rotation, and stored sealed with the credential cipher. A rotation keeps the previous
secret signing too for an overlap (24 hours by default), so a receiver can switch over.

C46: a URL must be HTTPS and may not name a loopback, link-local or private address unless
the operator allows that network (then plain HTTP is accepted too, for development and
tests). Names are checked where they are resolved, at each delivery's connect
(`slotgraph.jobs.deliveries.webhooks`); here only literal addresses and `localhost` are.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING

import httpx

from slotgraph.jobs.webhooks import EVENT_TYPES
from slotgraph.jobs.webhooks import post_delivery
from slotgraph.models import User
from slotgraph.models import WebhookDelivery
from slotgraph.models import WebhookEndpoint
from slotgraph.models.enums import Role
from slotgraph.models.enums import Scope
from slotgraph.models.webhooks import WebhookDeliveryState
from slotgraph.providers.base import AddressNotAllowed
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.errors import PermissionDeniedError
from slotgraph.usecases.scoped_rows import RowLookup
from slotgraph.usecases.scoped_rows import one_or_not_found
from slotgraph.usecases.scoped_rows import own_deliveries
from slotgraph.usecases.scoped_rows import own_endpoints
from slotgraph.usecases.viewer import Viewer
from slotgraph.usecases.viewer import require_viewer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from slotgraph.providers.outbound import Trust
    from slotgraph.usecases.services import Services

MAX_URL_LENGTH = 2_000
MAX_DESCRIPTION = 200
MAX_OVERLAP_HOURS = 24 * 7
DEFAULT_OVERLAP_HOURS = 24


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _literal_address(host: str) -> str | None:
    if host.lower() in {"localhost", "localhost."} or host.lower().endswith(".localhost"):
        return "127.0.0.1"
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def check_url(url: str, trust: Trust) -> str:
    """`url` if an endpoint may have it (C22, C46), else InvalidInput on `url`."""
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"Give a URL of at most {MAX_URL_LENGTH} characters.", field="url")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise InvalidInput("That is not a URL.", field="url") from None
    if parsed.scheme not in {"https", "http"} or not parsed.host:
        raise InvalidInput("Give an https:// URL.", field="url")
    if parsed.userinfo:
        raise InvalidInput("Leave user names and passwords out of the URL.", field="url")
    address = _literal_address(parsed.host)
    if address is not None:
        try:
            trust.check_peer(address)
        except AddressNotAllowed as refusal:
            raise InvalidInput(refusal.message, field="url") from None
    allowed_plain = address is not None and any(
        ipaddress.ip_address(address) in network for network in trust.allowed_networks
    )
    if parsed.scheme == "http" and not allowed_plain:
        raise InvalidInput("Give an https:// URL: events are sent over TLS only.", field="url")
    return url


def _event_types(values: Sequence[str]) -> list[str]:
    unknown = sorted(set(values) - set(EVENT_TYPES))
    if unknown:
        raise InvalidInput(
            f"Unknown event types: {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}.",
            field="eventTypes",
        )
    return sorted(set(values))


def _description(value: str) -> str:
    value = value.strip()
    if len(value) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"Give a description of at most {MAX_DESCRIPTION} characters.", field="description"
        )
    return value


async def create_webhook_endpoint(
    services: Services,
    viewer: Viewer | None,
    *,
    url: str,
    event_types: Sequence[str],
    description: str = "",
    account_wide: bool = False,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint of the viewer's and its signing secret, answered only now."""
    viewer = require_viewer(viewer, Scope.WEBHOOKS_WRITE)
    checked = check_url(url, services.outbound)
    wanted = _event_types(event_types)
    text = _description(description)
    secret = new_secret()
    async with services.sessionmaker.begin() as session:
        if account_wide:
            await _require_admin(session, viewer)
        endpoint = WebhookEndpoint(
            account_id=viewer.account_id,
            user_id=viewer.user_id,
            account_wide=account_wide,
            url=checked,
            description=text,
            event_types=wanted,
            secrets=services.credentials.seal({"current": secret}),
        )
        session.add(endpoint)
    return endpoint, secret


async def _require_admin(session: AsyncSession, viewer: Viewer) -> None:
    """C38: an account-wide endpoint needs an admin, with a token holding `admin`."""
    viewer.require(Scope.ADMIN)
    user = await session.get(User, viewer.user_id)
    if user is None or user.role is not Role.ADMIN:
        raise PermissionDeniedError(
            "Only an admin may register an endpoint for the whole account.",
            required_scope=Scope.ADMIN.value,
        )


_ENDPOINTS = RowLookup(WebhookEndpoint, own_endpoints, "webhook endpoint")


async def update_webhook_endpoint(
    services: Services,
    viewer: Viewer | None,
    endpoint_id: int,
    *,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change what was given; `enabled` false disables it (nothing is sent meanwhile),
    true enables it again and forgets its failing streak."""
    viewer = require_viewer(viewer, Scope.WEBHOOKS_WRITE)
    checked = None if url is None else check_url(url, services.outbound)
    async with services.sessionmaker.begin() as session:
        endpoint = await _ENDPOINTS.one(session, viewer, endpoint_id)
        if checked is not None:
            endpoint.url = checked
        if event_types is not None:
            endpoint.event_types = _event_types(event_types)
        if description is not None:
            endpoint.description = _description(description)
        if enabled is False and endpoint.disabled_at is None:
            endpoint.disabled_at = services.clock()
            endpoint.disabled_reason = "Disabled by its owner."
        elif enabled is True:
            endpoint.disabled_at = None
            endpoint.disabled_reason = None
            endpoint.failing_since = None
    return endpoint


async def rotate_webhook_secret(
    services: Services,
    viewer: Viewer | None,
    endpoint_id: int,
    *,
    overlap_hours: float = DEFAULT_OVERLAP_HOURS,
) -> tuple[WebhookEndpoint, str]:
    """A new signing secret, answered only now; the previous one keeps signing beside it
    for `overlap_hours` (0: stops at once)."""
    viewer = require_viewer(viewer, Scope.WEBHOOKS_WRITE)
    if not 0 <= overlap_hours <= MAX_OVERLAP_HOURS:
        raise InvalidInput(
            f"Give an overlap of 0 to {MAX_OVERLAP_HOURS} hours.", field="overlapHours"
        )
    secret = new_secret()
    until = services.clock() + dt.timedelta(hours=overlap_hours)
    async with services.sessionmaker.begin() as session:
        endpoint = await _ENDPOINTS.one(session, viewer, endpoint_id)
        previous = services.credentials.unseal(endpoint.secrets)["current"]
        endpoint.secrets = services.credentials.seal(
            {"current": secret, "previous": previous, "previous_until": until.isoformat()}
        )
    return endpoint, secret


async def delete_webhook_endpoint(
    services: Services, viewer: Viewer | None, endpoint_id: int
) -> None:
    """Delete the endpoint with its delivery log; nothing more is sent to it."""
    viewer = require_viewer(viewer, Scope.WEBHOOKS_WRITE)
    async with services.sessionmaker.begin() as session:
        await session.delete(await _ENDPOINTS.one(session, viewer, endpoint_id))


async def redeliver_webhook(
    services: Services, viewer: Viewer | None, delivery_id: int
) -> WebhookDelivery:
    """Send a delivery again, with its own `webhook-id`, and retry it for a new window."""
    viewer = require_viewer(viewer, Scope.WEBHOOKS_WRITE)
    async with services.sessionmaker.begin() as session:
        delivery = await one_or_not_found(
            session,
            own_deliveries(viewer)
            .where(WebhookDelivery.id == delivery_id)
            .with_for_update(of=WebhookDelivery),
            "webhook delivery",
            field="deliveryId",
        )
        endpoint = await _ENDPOINTS.one(session, viewer, delivery.endpoint_id)
        if endpoint.disabled_at is not None:
            raise InvalidInput(
                "The endpoint is disabled; enable it first (updateWebhookEndpoint).",
                field="deliveryId",
            )
        delivery.state = WebhookDeliveryState.PENDING
        delivery.window_started_at = services.clock()
        await post_delivery(session, delivery)
    return delivery
