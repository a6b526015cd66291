"""Microsoft's failures as the provider error tree, mapped once at each boundary: Graph calls
run inside `mapped` (transport failures and refused statuses), msal calls inside
`signin_mapped` (requests and msal exceptions), and msal's error answers go through
`refresh_error` / `code_error`.

`invalid_grant` / `interaction_required` (AADSTS50173 revoked, 700082 and 70008 expired, 50076
MFA now required, 65001 consent withdrawn ...) mean the grant is gone: `AccessRevoked`, which
the credential store turns into ACCESS_LOST (S13, C2). A refused client secret is the
operator's problem, never the user's: it is a plain `ProviderError`. 410 Gone (or a
sync-state error code) is `CursorExpired`; 429/5xx are transient; 404/403 on one calendar is
`CalendarGone`, on an event `EventGone`. Messages never quote a token or a response body;
error codes are quoted only when they look like codes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import AbstractContextManager
from contextlib import contextmanager
from functools import partial
from typing import Any
from typing import Final
from typing import Literal

import httpx
import msal
import requests
import structlog

from slotgraph.providers import rest
from slotgraph.providers.base import AccessRevoked
from slotgraph.providers.base import CalendarGone
from slotgraph.providers.base import CursorExpired
from slotgraph.providers.base import EventGone
from slotgraph.providers.base import OAuthDenied
from slotgraph.providers.base import OAuthStateInvalid
from slotgraph.providers.base import ProviderError
from slotgraph.providers.base import TransientError
from slotgraph.providers.rest import server_failure
from slotgraph.providers.rest import throttled

log = structlog.get_logger("slotgraph.microsoft")

PROVIDER: Final = "Microsoft 365"
REVOKED_MESSAGE: Final = (
    "Microsoft 365 no longer grants Slotgraph access to this calendar (the grant was revoked "
    "or expired); reconnect the calendar."
)
_SYNC_STATE_CODES: Final = frozenset(
    {"syncstatenotfound", "syncstateinvalid", "resyncrequired", "errorinvalidsyncstatedata"}
)
_GONE_SCHEDULE_CODES: Final = frozenset(
    {
        "errormailrecipientnotfound",
        "errorinvaliduserorgroup",
        "errornonexistentmailbox",
        "errornofreebusyaccess",
        "erroraccessdenied",
    }
)
_SAFE_CODE = re.compile(r"^[A-Za-z0-9_.]{1,80}$")

Missing = Literal["calendar", "event"]


def mapped(
    calendar_id: str | None = None, missing: Missing = "calendar"
) -> AbstractContextManager[None]:
    """The Graph boundary: httpx failures inside become `ProviderError`s (`status_error`)."""
    return rest.mapped(PROVIDER, partial(status_error, calendar_id=calendar_id, missing=missing))


def status_error(
    response: httpx.Response, *, calendar_id: str | None, missing: Missing
) -> ProviderError:
    status = response.status_code
    code = _graph_code(response)
    if status == 410 or (status == 400 and code.lower() in _SYNC_STATE_CODES):
        return CursorExpired("Microsoft 365 no longer accepts the sync cursor; run a full sync.")
    if status == 429:
        return throttled(PROVIDER, response)
    if status in (500, 502, 503, 504):
        return server_failure(PROVIDER, response)
    if status in (403, 404):
        if missing == "event":
            return EventGone("The event no longer exists on the Microsoft 365 calendar.")
        if calendar_id is not None:
            return CalendarGone("The calendar is gone or no longer shared.", calendar_id)
    return ProviderError(f"{PROVIDER} refused the request (HTTP {status}, {code}).")


def _graph_code(response: httpx.Response) -> str:
    try:
        code = str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "no code"
    return code if _SAFE_CODE.match(code) else "no code"


def schedule_error(error: Mapping[str, Any], mailbox: str) -> ProviderError:
    """A per-schedule `error` in a getSchedule answer: never free time."""
    code = str(error.get("responseCode") or "").lower()
    if code in _GONE_SCHEDULE_CODES:
        return CalendarGone("The calendar is gone or no longer shared.", mailbox)
    return ProviderError("Microsoft 365 has no free/busy information for it.")


@contextmanager
def signin_mapped() -> Iterator[None]:
    """The msal boundary (run in the worker thread): its failures as ProviderErrors."""
    try:
        yield
    except ProviderError:
        raise
    except requests.RequestException:
        raise TransientError("Microsoft sign-in could not be reached; try again shortly.") from None
    except msal.exceptions.MsalServiceError:  # 5xx from the token endpoint
        raise TransientError(
            "Microsoft sign-in had a temporary problem; try again shortly."
        ) from None
    except ValueError:  # msal: the authority's configuration could not be read
        raise ProviderError(
            "Microsoft sign-in is not configured correctly on this server."
        ) from None


def _oauth_code(result: Mapping[str, Any]) -> str:
    error = str(result.get("error") or "")
    return error if _SAFE_CODE.match(error) else "unknown"


def refresh_error(result: Mapping[str, Any]) -> ProviderError:
    """A failed refresh. Only an answer about the grant itself means the user lost access."""
    error = _oauth_code(result)
    log.info("microsoft token refresh refused", error=error, codes=result.get("error_codes"))
    if error in ("invalid_grant", "interaction_required", "consent_required"):
        return AccessRevoked(REVOKED_MESSAGE)
    if error in ("temporarily_unavailable", "server_error"):
        return TransientError("Microsoft sign-in had a temporary problem; try again shortly.")
    if error in ("invalid_client", "unauthorized_client"):
        return ProviderError(
            "Microsoft refused Slotgraph's app credentials; the operator must check the "
            "Microsoft client id and secret."
        )
    return ProviderError(f"Microsoft sign-in refused the token request ({error}).")


def code_error(result: Mapping[str, Any]) -> ProviderError:
    """A failed consent or code redemption at the callback."""
    error = _oauth_code(result)
    if error in ("access_denied", "consent_required", "interaction_required"):
        return OAuthDenied("Access was not granted at Microsoft's consent screen.")
    if error == "invalid_grant":  # the code expired, was used, or PKCE failed
        return OAuthStateInvalid("The sign-in code is no longer valid.")
    return refresh_error(result)
