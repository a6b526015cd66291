"""A partner app's Slotgraph webhook receiver: Starlette verifying Standard Webhooks
signatures with the `standardwebhooks` library (README, "Emails and webhooks").

    SLOTGRAPH_WEBHOOK_SECRET=whsec_... uvicorn --factory examples.webhook_receiver:from_env

A delivery may arrive more than once (at least once): skip a `webhook-id` already handled.
"""

from __future__ import annotations

import os
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def create_app(secret: str) -> Starlette:
    """The receiver at POST /webhooks; `app.state.events` holds what it verified."""
    webhook = Webhook(secret)
    events: dict[str, dict[str, Any]] = {}

    async def receive(request: Request) -> Response:
        body = await request.body()
        try:
            event = webhook.verify(body, dict(request.headers))
        except WebhookVerificationError:
            return Response(status_code=400)
        events.setdefault(request.headers["webhook-id"], event)  # at least once: dedupe
        return Response(status_code=204)

    app = Starlette(routes=[Route("/webhooks", receive, methods=["POST"])])
    app.state.events = events
    return app


def from_env() -> Starlette:
    return create_app(os.environ["SLOTGRAPH_WEBHOOK_SECRET"])
