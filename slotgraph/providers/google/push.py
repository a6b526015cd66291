"""Google push channels (push-driven sync, C16): `events.watch` opens a `web_hook` channel
with our id and token; Google answers with the watched resource's id and the channel's
expiry (milliseconds since the epoch), which may be sooner than asked. Channels cannot be
extended: a new one is opened and the old one stopped with `channels.stop`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from slotgraph.providers.base import Watch

STOP_PATH = "/channels/stop"


def watch_path(calendar_segment: str) -> str:
    return f"/calendars/{calendar_segment}/events/watch"


def watch_body(*, channel_id: str, address: str, token: str, ttl: dt.timedelta) -> dict[str, Any]:
    return {
        "id": channel_id,
        "type": "web_hook",
        "address": address,
        "token": token,
        "params": {"ttl": str(int(ttl.total_seconds()))},
    }


def watch_answer(body: Mapping[str, Any], ttl: dt.timedelta) -> Watch:
    """The channel as Google answered it (its expiry, else `ttl` from now)."""
    expiration = body.get("expiration")
    expires_at = (
        dt.datetime.fromtimestamp(int(expiration) / 1000, dt.UTC)
        if expiration
        else dt.datetime.now(dt.UTC) + ttl
    )
    return Watch(id=str(body["id"]), resource_id=str(body["resourceId"]), expires_at=expires_at)


def stop_body(watch: Watch) -> dict[str, Any]:
    return {"id": watch.id, "resourceId": watch.resource_id}
