"""CalDAV failures as the provider error tree, mapped once here: an HTTP status on a
request (401 → the password no longer works, S13/C44; 403/404 on a calendar → that calendar
is lost, C2/C27; 429/503 with Retry-After → back off), a transport failure (timeout,
refused connection, an untrusted certificate: C46) or an answer that is not WebDAV.
Messages are ours and safe to show: never a password, URL credential or response body.
"""

from __future__ import annotations

from typing import Final

import httpx

from slotgraph.providers.base import AccessRevoked
from slotgraph.providers.base import AuthenticationFailed
from slotgraph.providers.base import CalendarGone
from slotgraph.providers.base import NotACalDavServer
from slotgraph.providers.base import ProviderError
from slotgraph.providers.base import RateLimited
from slotgraph.providers.base import ServerUnreachable
from slotgraph.providers.base import TlsCertificateUntrusted
from slotgraph.providers.base import TransientError
from slotgraph.providers.outbound import is_certificate_failure
from slotgraph.providers.rest import retry_after

PROVIDER: Final = "The CalDAV server"

AUTH_FAILED_MESSAGE: Final = (
    "The CalDAV server refused the username or password. iCloud and Fastmail need an "
    "app-specific password, not the account password: make one for iCloud at "
    "https://account.apple.com (Sign-In and Security → App-Specific Passwords) and for "
    "Fastmail at Settings → Privacy & Security → Connected apps & API tokens → "
    "App passwords (access: CalDAV)."
)


def status_error(
    response: httpx.Response, *, calendar_id: str | None, connecting: bool
) -> ProviderError:
    """The error for a refused status. 401 while connecting is a refused login; later it
    means the stored password stopped working (changed or revoked app password: C44)."""
    status = response.status_code
    if status == 401:
        if connecting:
            return AuthenticationFailed(AUTH_FAILED_MESSAGE)
        return AccessRevoked(
            "The CalDAV server no longer accepts the stored password; connect the calendar "
            "again with a new app-specific password."
        )
    if status in (403, 404, 410) and calendar_id is not None:
        return CalendarGone(
            "This calendar was deleted or is no longer shared with the account.", calendar_id
        )
    if status == 429:
        return RateLimited(
            f"{PROVIDER} asked us to slow down; try again shortly.", retry_after(response)
        )
    if status >= 500 or status == 408:
        return TransientError(
            f"{PROVIDER} had a temporary problem (HTTP {status}); try again shortly.",
            retry_after(response),
        )
    if connecting and status in (403, 404, 405, 501):
        return NotACalDavServer(
            "This address does not answer as a CalDAV server; check the server URL."
        )
    return ProviderError(f"{PROVIDER} refused the request (HTTP {status}).")


def transport_error(exc: httpx.TransportError, *, connecting: bool) -> ProviderError:
    """Timeouts and connection failures: passing while in use, "unreachable" while
    connecting (a person checks the URL); an untrusted certificate is never passing (C46)."""
    if is_certificate_failure(exc):
        return TlsCertificateUntrusted()
    if connecting and not isinstance(exc, httpx.TimeoutException):
        return ServerUnreachable(
            "The CalDAV server could not be reached; check the server URL and that it is "
            "reachable from the internet."
        )
    if isinstance(exc, httpx.TimeoutException):
        if connecting:
            return ServerUnreachable("The CalDAV server did not answer in time; check the URL.")
        return TransientError(f"{PROVIDER} did not answer in time; try again shortly.")
    return TransientError(f"{PROVIDER} could not be reached; try again shortly.")


def not_dav(*, connecting: bool) -> ProviderError:
    """An answer we cannot read as WebDAV."""
    if connecting:
        return NotACalDavServer(
            "This address does not answer as a CalDAV server; check the server URL."
        )
    return TransientError(f"{PROVIDER} sent an answer that is not WebDAV; try again shortly.")
