"""Exchange failures as the provider error tree, mapped once at the boundary: every
exchangelib call runs through `run_in_thread`, which turns whatever the worker thread raises
(exchangelib, requests and lxml raise many unrelated types) into a `ProviderError` with a
message safe to show, by the translation the caller names (`client_error` for calendar
calls, `connect_error` and `discovery_error` while connecting, S2), and a call outliving its
deadline into the caller's error. Error messages are ours, never exchangelib's (which may
quote a response body).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import Final
from typing import TypeVar

import anyio
import requests
from exchangelib.errors import AutoDiscoverError
from exchangelib.errors import CASError
from exchangelib.errors import ErrorAccessDenied
from exchangelib.errors import ErrorExceededConnectionCount
from exchangelib.errors import ErrorFolderNotFound
from exchangelib.errors import ErrorInternalServerError
from exchangelib.errors import ErrorInternalServerTransientError
from exchangelib.errors import ErrorInvalidIdMalformed
from exchangelib.errors import ErrorInvalidSchemaVersionForMailboxVersion
from exchangelib.errors import ErrorInvalidServerVersion
from exchangelib.errors import ErrorInvalidSyncStateData
from exchangelib.errors import ErrorItemNotFound
from exchangelib.errors import ErrorMailboxMoveInProgress
from exchangelib.errors import ErrorMailboxStoreUnavailable
from exchangelib.errors import ErrorMailRecipientNotFound
from exchangelib.errors import ErrorNoFreeBusyAccess
from exchangelib.errors import ErrorNonExistentMailbox
from exchangelib.errors import ErrorServerBusy
from exchangelib.errors import ErrorTimeoutExpired
from exchangelib.errors import ErrorTooManyObjectsOpened
from exchangelib.errors import EWSError
from exchangelib.errors import MalformedResponseError
from exchangelib.errors import RedirectError
from exchangelib.errors import ResponseMessageError
from exchangelib.errors import TransportError
from exchangelib.errors import UnauthorizedError

from slotgraph.providers.base import AccessRevoked
from slotgraph.providers.base import AuthenticationFailed
from slotgraph.providers.base import CalendarGone
from slotgraph.providers.base import CursorExpired
from slotgraph.providers.base import DiscoveryFailed
from slotgraph.providers.base import ProviderError
from slotgraph.providers.base import RateLimited
from slotgraph.providers.base import ServerUnreachable
from slotgraph.providers.base import ServerUnsupported
from slotgraph.providers.base import TlsCertificateUntrusted
from slotgraph.providers.base import TransientError
from slotgraph.providers.outbound import exception_chain
from slotgraph.providers.outbound import find_refusal
from slotgraph.providers.outbound import is_certificate_failure

T = TypeVar("T")

MIN_BUILD_TEXT: Final = "Exchange 2010 SP2"
AUTH_FAILED_MESSAGE: Final = (
    "Exchange refused the email, username or password. Accounts with two-factor "
    "authentication must use an app password instead of the usual password."
)


async def run_in_thread(
    work: Callable[[], T],
    *,
    limiter: anyio.CapacityLimiter,
    deadline: float,
    on_deadline: Callable[[], ProviderError],
    translate: Callable[[Exception], ProviderError],
) -> T:
    """`work()` in a worker thread under `limiter`; any failure becomes a ProviderError and a
    call outliving `deadline` is abandoned (its thread finishes on its own)."""

    def run() -> T:
        try:
            return work()
        except ProviderError:
            raise
        except Exception as error:  # exchangelib, requests and lxml raise many unrelated types
            raise translate(error) from error

    try:
        with anyio.fail_after(deadline):
            return await anyio.to_thread.run_sync(run, limiter=limiter, abandon_on_cancel=True)
    except TimeoutError:
        raise on_deadline() from None


_GONE = (
    ErrorFolderNotFound,
    ErrorItemNotFound,
    ErrorAccessDenied,
    ErrorNonExistentMailbox,
    ErrorMailRecipientNotFound,
    ErrorNoFreeBusyAccess,
    ErrorInvalidIdMalformed,
)
_TRANSIENT = (
    ErrorTimeoutExpired,
    ErrorInternalServerTransientError,
    ErrorInternalServerError,
    ErrorMailboxStoreUnavailable,
    ErrorMailboxMoveInProgress,
    ErrorTooManyObjectsOpened,
    ErrorExceededConnectionCount,
    MalformedResponseError,
    CASError,
)


def _busy_error(error: Any) -> TransientError:
    """ErrorServerBusy: Exchange's own back-off hint, or exchangelib's relabelled connection
    and 5xx failures ("Reraised from ...", "Caused by ..."), which carry no hint."""
    text = str(error)
    if text.startswith(("Reraised from", "Caused by")):
        if _network_failure(error):
            return TransientError("Exchange could not be reached; try again later.")
        return TransientError(
            f"Exchange had a temporary problem ({_root_cause(error)}); try again later."
        )
    back_off = error.back_off or None
    return RateLimited("Exchange is busy and asked to slow down.", retry_after=back_off)


def _network_failure(error: BaseException) -> bool:
    """Whether the failure is the network's (no connection, no answer in time), as opposed
    to an answer Exchange gave: only then is "could not be reached" the real cause."""
    return any(
        isinstance(e, (requests.ConnectionError, requests.Timeout, OSError))
        for e in exception_chain(error)
    )


def _root_cause(error: BaseException) -> str:
    """The innermost failure's name (exchangelib relabels an HTTP 503 as ErrorServerBusy,
    a failed version probe as TransportError: the first cause is the telling one)."""
    *_, innermost = exception_chain(error)
    text = str(innermost)
    if text.startswith("Caused by HTTP "):
        return text.removeprefix("Caused by ").split(" response")[0]
    return type(innermost).__name__


def outbound_error(error: Exception) -> ProviderError | None:
    """C46's refusals, wherever exchangelib and requests wrapped them: an address the
    operator does not allow, or a certificate no trusted CA vouches for."""
    if isinstance(error, ProviderError):
        return error
    refusal = find_refusal(error)
    if refusal is not None:
        return refusal
    if is_certificate_failure(error):
        return TlsCertificateUntrusted()
    return None


def client_error(error: Exception, *, calendar_id: str | None) -> ProviderError:
    """A calendar call's failure as a ProviderError with a message safe to show."""
    outbound = outbound_error(error)
    if outbound is not None:
        return outbound
    if isinstance(error, UnauthorizedError):
        return AccessRevoked(
            "Exchange no longer accepts the stored password; reconnect the calendar. "
            "Accounts with two-factor authentication need an app password."
        )
    if isinstance(error, ErrorServerBusy):
        return _busy_error(error)
    if isinstance(error, ErrorInvalidSyncStateData):
        return CursorExpired("Exchange no longer accepts the sync state; run a full sync.")
    if isinstance(error, _GONE):
        if calendar_id is not None:
            return CalendarGone("The calendar is gone or no longer shared.", calendar_id)
        return ProviderError("Exchange could not find the mailbox or folder.")
    if isinstance(error, (ErrorInvalidServerVersion, ErrorInvalidSchemaVersionForMailboxVersion)):
        return ServerUnsupported(f"Slotgraph needs {MIN_BUILD_TEXT} or newer.")
    if _network_failure(error):
        return TransientError("Exchange could not be reached; try again later.")
    if isinstance(error, _TRANSIENT):
        return TransientError(
            f"Exchange had a temporary problem ({type(error).__name__}); try again later."
        )
    if isinstance(error, (TransportError, requests.RequestException)):
        return TransientError(
            f"Exchange answered in a way that could not be used ({_root_cause(error)}); "
            "try again later."
        )
    if isinstance(error, EWSError):
        return ProviderError(f"Exchange refused the request ({type(error).__name__}).")
    return ProviderError(f"The Exchange call failed ({type(error).__name__}).")


def _login_refused(error: Exception) -> ProviderError | None:
    """What validating a login and autodiscovery answer alike, before their own cases: our
    outbound guard's refusal of the address, or the server refusing the credentials."""
    outbound = outbound_error(error)
    if outbound is not None:
        return outbound
    if isinstance(error, UnauthorizedError):
        return AuthenticationFailed(AUTH_FAILED_MESSAGE)
    return None


def connect_error(error: Exception) -> ProviderError:
    """A failure while validating a login, as the distinct errors S2 asks for."""
    if (refused := _login_refused(error)) is not None:
        return refused
    if isinstance(error, (ErrorInvalidServerVersion, ErrorInvalidSchemaVersionForMailboxVersion)):
        return ServerUnsupported(f"Slotgraph needs {MIN_BUILD_TEXT} or newer.")
    if isinstance(error, TransportError) and isinstance(
        error.__context__, (ErrorInvalidServerVersion, ErrorInvalidSchemaVersionForMailboxVersion)
    ):  # every API version refused: older than anything exchangelib speaks
        return ServerUnsupported(f"Slotgraph needs {MIN_BUILD_TEXT} or newer.")
    if isinstance(error, ErrorServerBusy):
        return _busy_error(error)
    if isinstance(error, _GONE):
        return AuthenticationFailed(
            "The server accepted the login, but it cannot open a calendar for this email address."
        )
    if isinstance(error, ResponseMessageError) and not isinstance(error, ErrorTimeoutExpired):
        return client_error(error, calendar_id=None)  # the endpoint works: an EWS-level refusal
    if isinstance(error, RedirectError):
        return ServerUnreachable("The EWS URL redirects elsewhere; enter the final EWS URL.")
    if isinstance(error, (TransportError, requests.RequestException, OSError)):
        cause = error.__cause__ or error.__context__
        if _network_failure(error):
            return ServerUnreachable(
                "Could not reach the Exchange server (name not found, connection refused or "
                "timed out); check the EWS URL."
            )
        if str(error).startswith("Failed to get auth type") or (
            cause is None and not isinstance(error, ErrorTimeoutExpired)
        ):
            return ServerUnreachable(
                "No Exchange Web Services endpoint answered at that URL; check the EWS URL."
            )
        if any(isinstance(e, (ErrorServerBusy, *_TRANSIENT)) for e in exception_chain(error)):
            return TransientError(
                f"The Exchange server had a temporary problem ({_root_cause(error)}); "
                "try again shortly."
            )
        return ServerUnreachable(
            "The server at that URL did not answer as Exchange Web Services "
            f"({_root_cause(error)}); check the EWS URL."
        )
    return client_error(error, calendar_id=None)


def discovery_error(error: Exception) -> ProviderError:
    """A failure while autodiscovering the EWS URL."""
    if (refused := _login_refused(error)) is not None:
        return refused
    if isinstance(error, ErrorNonExistentMailbox):
        return DiscoveryFailed(
            "Autodiscover knows no mailbox for this email address; check it or enter the EWS URL."
        )
    if isinstance(error, (AutoDiscoverError, TransportError, requests.RequestException, OSError)):
        return DiscoveryFailed(
            "Autodiscover could not find the Exchange server for this email address; "
            "enter the EWS URL."
        )
    return DiscoveryFailed(f"Autodiscover failed ({type(error).__name__}); enter the EWS URL.")
