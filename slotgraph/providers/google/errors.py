"""Google's failures as the provider error tree, mapped once at the boundary: every Calendar
API or OAuth call runs inside `mapped`, which turns transport failures and refused statuses
into `ProviderError`s (429 and rate-limit 403s are `RateLimited` with any `Retry-After`, 5xx
and timeouts transient, 401 and a missing calendar scope `AccessRevoked`, 403/404/410 on a
calendar `CalendarGone`). Messages never quote a response body.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import AbstractContextManager
from functools import partial
from typing import Any
from typing import Final

import httpx

from slotgraph.providers import rest
from slotgraph.providers.base import AccessRevoked
from slotgraph.providers.base import CalendarGone
from slotgraph.providers.base import ProviderError
from slotgraph.providers.base import TransientError
from slotgraph.providers.rest import server_failure
from slotgraph.providers.rest import throttled

PROVIDER: Final = "Google"
REVOKED_MESSAGE: Final = "Google access was revoked or has expired; reconnect the calendar."
GONE_MESSAGE: Final = "This Google calendar was deleted or is no longer shared with the account."
_RATE_LIMIT_REASONS: Final = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})


def mapped(calendar_id: str | None = None) -> AbstractContextManager[None]:
    """The boundary: httpx failures inside become Google's `ProviderError`s, a refused
    status as `status_error` says (a missing calendar as `CalendarGone(calendar_id)`)."""
    return rest.mapped(PROVIDER, partial(status_error, calendar_id=calendar_id))


def _error_member(response: httpx.Response) -> object:
    """The `error` member of a JSON error answer (None when there is none)."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None


def oauth_error_code(response: httpx.Response) -> str | None:
    """The `error` of an OAuth error answer (RFC 6749 section 5.2), if any."""
    error = _error_member(response)
    return error if isinstance(error, str) else None


def _error_reason(response: httpx.Response) -> str | None:
    """The first `errors[].reason` of a Google API error answer."""
    error = _error_member(response)
    if not isinstance(error, dict):
        return None
    for item in error.get("errors") or ():
        if isinstance(item, dict) and isinstance(item.get("reason"), str):
            return str(item["reason"])
    return None


def status_error(response: httpx.Response, calendar_id: str | None = None) -> ProviderError:
    """The provider error for a refused (non-2xx) answer."""
    status = response.status_code
    if status == 429:
        return throttled(PROVIDER, response)
    if status == 403 and _error_reason(response) in _RATE_LIMIT_REASONS:
        return throttled(PROVIDER, response)
    if status >= 500:
        return server_failure(PROVIDER, response)
    if status == 401:
        return AccessRevoked(REVOKED_MESSAGE)
    if status == 403 and _error_reason(response) == "insufficientPermissions":
        # The grant lacks the calendar scope (unticked at granular consent): reconnecting
        # and allowing calendar access is the only fix.
        return AccessRevoked(REVOKED_MESSAGE)
    if calendar_id is not None and status in {403, 404, 410}:
        return CalendarGone(GONE_MESSAGE, calendar_id)
    return ProviderError(f"Google refused the request (HTTP {status}).")


def free_busy_error(calendar_id: str, errors: Sequence[Mapping[str, Any]]) -> ProviderError:
    """A calendar's `errors` in a freeBusy answer: that calendar's error, never free time."""
    reasons = {str(error.get("reason")) for error in errors}
    if reasons & {"notFound", "forbidden"}:
        return CalendarGone(GONE_MESSAGE, calendar_id)
    return TransientError("Google could not report this calendar's busy time; try again.")
