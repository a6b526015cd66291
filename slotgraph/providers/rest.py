"""What the REST adapters (Google Calendar, Microsoft Graph) share: turning HTTP answers and
transport failures into the provider error tree, and reading `Retry-After`.

`mapped` is the one place an adapter's httpx failures become `ProviderError`s, in the style
of httpx's own `_transports/default.py` (`map_httpcore_exceptions`): a call inside it raises
`httpx.TransportError` or, through `Response.raise_for_status`, `httpx.HTTPStatusError`, and
leaves it as the adapter's error for that status or a transient transport failure.

Both providers say "slow down" the same ways: 429 with `Retry-After` (seconds or an HTTP
date), 503/504 bursts, and, for Google, 403 with a rate-limit reason. Everything here is
about status codes and headers only: a response body can echo request data, so it never
reaches a message.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import httpx

from slotgraph.providers.base import ProviderError
from slotgraph.providers.base import RateLimited
from slotgraph.providers.base import TlsCertificateUntrusted
from slotgraph.providers.base import TransientError
from slotgraph.providers.outbound import is_certificate_failure

MAX_RETRY_AFTER: Final = 3_600.0


def retry_after(response: httpx.Response) -> float | None:
    """The server's `Retry-After` in seconds (delta-seconds or an HTTP date), if any."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def throttled(provider: str, response: httpx.Response) -> RateLimited:
    return RateLimited(
        f"{provider} asked us to slow down; try again shortly.", retry_after(response)
    )


def server_failure(provider: str, response: httpx.Response) -> TransientError:
    return TransientError(
        f"{provider} had a temporary problem (HTTP {response.status_code}); try again shortly.",
        retry_after(response),
    )


def transport_failure(provider: str, exc: httpx.TransportError) -> ProviderError:
    """Timeouts and connection failures: worth retrying, and said without the URL; a
    certificate no trusted CA vouches for is not a passing failure (C46)."""
    if is_certificate_failure(exc):
        return TlsCertificateUntrusted()
    if isinstance(exc, httpx.TimeoutException):
        return TransientError(f"{provider} did not answer in time; try again shortly.")
    return TransientError(f"{provider} could not be reached; try again shortly.")


@contextmanager
def mapped(
    provider: str, status_error: Callable[[httpx.Response], ProviderError]
) -> Iterator[None]:
    """Translate httpx failures raised inside into the provider error tree: transport
    failures by `transport_failure`, refused statuses (`raise_for_status`) by
    `status_error`. ProviderErrors (a token refresh that failed) pass unchanged."""
    try:
        yield
    except httpx.TransportError as exc:
        raise transport_failure(provider, exc) from None
    except httpx.HTTPStatusError as exc:
        raise status_error(exc.response) from None
