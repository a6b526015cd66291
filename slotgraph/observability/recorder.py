"""The `Recorder` protocol: what the request path, the provider wrapper and the websocket
route report, and `NO_RECORDER`, which drops everything (metrics turned off, tools and
tests that build their own `Services`).

Labels are bounded by the code, never by what a client sends (C48): operation type and root
field name from the schema, results named after the schema's error types or codes, provider
keys and method names from the registry.
"""

from __future__ import annotations

from typing import Final
from typing import Protocol


class Recorder(Protocol):
    def graphql_request(
        self, operation: str, field: str, result: str, seconds: float | None
    ) -> None:
        """One root field of one operation: `operation` query, mutation or subscription (or
        "unknown" when the document did not parse), `field` the root field's schema name
        ("" for an invalid operation), `result` "success", a typed error's name or code,
        "unexpected" or "invalid"; `seconds` the operation's duration (None: not timed, as
        for a subscription, which lasts as long as its client wants)."""
        ...

    def provider_call(self, provider: str, operation: str, outcome: str, seconds: float) -> None:
        """One call into a provider adapter (its retries included): `outcome` "ok", the
        `ProviderError` subclass it raised, or "unexpected"."""
        ...

    def websockets_open(self, change: int) -> None:
        """An accepted `/graphql` websocket opened (+1) or closed (-1)."""
        ...

    def subscriptions_open(self, change: int) -> None:
        """A subscription started (+1) or ended (-1)."""
        ...


class _NoRecorder:
    """Records nothing."""

    def graphql_request(
        self, operation: str, field: str, result: str, seconds: float | None
    ) -> None:
        return None

    def provider_call(self, provider: str, operation: str, outcome: str, seconds: float) -> None:
        return None

    def websockets_open(self, change: int) -> None:
        return None

    def subscriptions_open(self, change: int) -> None:
        return None


NO_RECORDER: Final[Recorder] = _NoRecorder()
