"""Global ids (`Type:pk`, base64url), written once: the API's `Node` ids
(`slotgraph.graph.relay`) and the webhook payloads (`slotgraph.jobs.webhooks`), which must
show a booking or connection with the id the API gives it (C22)."""

from __future__ import annotations

import base64
import binascii


def to_global_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode()


def from_global_id(global_id: str) -> tuple[str, int] | None:
    """(type name, primary key), or None for anything that is not one of our ids."""
    try:
        decoded = base64.urlsafe_b64decode(global_id.encode()).decode()
        type_name, pk_text = decoded.split(":", 1)
        pk = int(pk_text)
    except (binascii.Error, UnicodeError, ValueError):
        return None
    if not type_name.isidentifier() or pk <= 0 or pk >= 2**63:
        return None
    return type_name, pk
