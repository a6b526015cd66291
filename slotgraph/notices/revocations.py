"""Tokens that stopped working, in the pub/sub's vocabulary (C23): the channel `token_revoked`
carries the ids of tokens revoked (or whose user was deactivated), published after commit.
Every process closes its open websockets of those tokens when the notice arrives, so a
revocation ends subscriptions everywhere without any socket polling the database.

Like `slotgraph.notices.changes`, publishing never raises: the revocation is committed, HTTP
refuses the token at once, and a lost notice leaves only sockets open until they reconnect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from slotgraph.notices.pubsub import PubSub

log = structlog.get_logger("slotgraph.revocations")

TOKEN_REVOKED = "token_revoked"  # noqa: S105 - a channel name
PUBLISH_TIMEOUT_SECONDS = 5.0


async def publish_tokens_revoked(pubsub: PubSub, token_ids: Iterable[int]) -> None:
    """These tokens no longer authenticate anyone."""
    ids = [str(token_id) for token_id in token_ids]
    if not ids:
        return
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
            await pubsub.publish(TOKEN_REVOKED, *ids)
    except Exception as exc:  # committed already; only the notice is lost
        log.warning("revocation notice not sent", error=type(exc).__name__)
