"""Graph change-notification subscriptions (push-driven sync, C16) on a calendar's events.

Graph validates the notification address (the validation handshake) before answering, and
caps Outlook resources at 10,080 minutes, so the asked lifetime is clipped below that.
Lifecycle notifications (`missed`, `subscriptionRemoved`, `reauthorizationRequired`) go to
the same address. A subscription is renewed by PATCHing its expiry; one Graph no longer
knows fails to renew (the caller opens a new one) and is already stopped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from typing import Final

from slotgraph.providers.base import Watch
from slotgraph.providers.microsoft.wire import is_mailbox
from slotgraph.providers.microsoft.wire import iso_z
from slotgraph.providers.microsoft.wire import parse_z

# Graph's maximum subscription lifetime for Outlook resources is 10,080 minutes; stay a
# little below it so clock skew cannot make Graph refuse the expiry.
MAX_SUBSCRIPTION_TTL: Final = dt.timedelta(minutes=10_080) - dt.timedelta(hours=1)


def expiry(ttl: dt.timedelta) -> dt.datetime:
    """The expiry to ask for: `ttl` from now, clipped to Graph's maximum."""
    return dt.datetime.now(dt.UTC) + min(ttl, MAX_SUBSCRIPTION_TTL)


def events_resource(calendar_id: str, mailbox: str) -> str:
    """The subscription `resource`, relative to the Graph root."""
    if not is_mailbox(calendar_id):
        return f"me/calendars/{calendar_id}/events"
    if calendar_id.lower() == mailbox.lower():
        return "me/events"
    return f"users/{calendar_id}/events"


def subscription_body(
    *, resource: str, address: str, token: str, expires: dt.datetime
) -> dict[str, Any]:
    return {
        "changeType": "created,updated,deleted",
        "notificationUrl": address,
        "lifecycleNotificationUrl": address,
        "resource": resource,
        "expirationDateTime": iso_z(expires),
        "clientState": token,
    }


def renewal_body(expires: dt.datetime) -> dict[str, Any]:
    return {"expirationDateTime": iso_z(expires)}


def watch_answer(body: Mapping[str, Any], asked: dt.datetime) -> Watch:
    """A subscription as Graph answered it (its expiry, or the one we asked for)."""
    expires = body.get("expirationDateTime")
    expires_at = parse_z(str(expires)) if expires else asked
    return Watch(id=str(body["id"]), resource_id=None, expires_at=expires_at)
