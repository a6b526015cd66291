"""Expected failures of use cases. `slotgraph.graph.errors` maps each to a typed GraphQL error.

Every message says what the caller can do about it; none reveals whether an id exists in
another account (C9).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping


class DomainError(Exception):
    """Base of every expected failure; `field` names the offending input, if one does."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def renamed(exc: DomainError, names: Mapping[str, str]) -> DomainError:
    """`exc` with its fields named as another operation's input names them: a mutation
    that is a slice of a larger one (a settings save) answers in its own names. `names`
    maps a field, or a prefix ending in '.', to the caller's name for it."""

    def rename(field: str | None) -> str | None:
        if field is None:
            return None
        if field in names:
            return names[field]
        for prefix, replacement in names.items():
            if prefix.endswith(".") and field.startswith(prefix):
                return replacement + field.removeprefix(prefix)
        return field

    exc.field = rename(exc.field)
    if isinstance(exc, InvalidInput):
        exc.problems = tuple((rename(field), message) for field, message in exc.problems)
    return exc


class InvalidInput(DomainError):
    """Input values break rules. `problems` holds every `(field, message)` found, so a form
    learns all its invalid fields at once; `field` and `message` are the first of them."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        problems: tuple[tuple[str | None, str], ...] = (),
    ) -> None:
        super().__init__(message, field=field)
        self.problems = problems or ((field, message),)

    @classmethod
    def of(
        cls, problems: Iterable[tuple[str | None, str]], *, sentences: bool = False
    ) -> InvalidInput:
        """All the problems of one form (at least one), the first as `field`/`message`:
        e.g. a `scheduling.rules.RuleError`'s `problems`. `sentences`: the messages are
        rule fragments ("at most 5 durations"), written as sentences for the caller."""
        found = tuple(
            (field, message[:1].upper() + message[1:] + "." if sentences else message)
            for field, message in problems
        )
        field, message = found[0]
        return cls(message, field=field, problems=found)


class NotFoundError(DomainError):
    """No such object in the viewer's account (foreign ids look exactly the same)."""

    def __init__(self, kind: str, *, field: str | None = "id", message: str | None = None) -> None:
        super().__init__(
            message
            or f"No {kind} with this id in your account; list yours with the `viewer` query.",
            field=field,
        )


class PermissionDeniedError(DomainError):
    """The caller is anonymous or the token lacks a scope."""

    def __init__(self, message: str, *, required_scope: str | None = None) -> None:
        super().__init__(message)
        self.required_scope = required_scope


class SlugTakenError(DomainError):
    def __init__(self, slug: str, suggestion: str, *, field: str = "name") -> None:
        super().__init__(
            f"The meeting link '/meetings/{slug}' is already in use on some domain "
            f"(links are unique across all domains); try '{suggestion}'.",
            field=field,
        )
        self.suggestion = suggestion


class SeatRequiredError(DomainError):
    """S10/S14: the feature needs a paid Sales or Service seat at some tier."""


class CalendarRequiredError(DomainError):
    """C6: the setting is managed only once a calendar is connected."""


class PlanFeatureRequiredError(DomainError):
    """C6: the account's plan lacks the feature (custom domains)."""


class ProviderLimitationError(DomainError):
    """The connection's provider does not offer this (C11)."""


class PermissionRequiredError(DomainError):
    """S3: connecting a calendar needs the "personal email access" permission."""


class SharedInboxNotAllowedError(DomainError):
    """S4: the user's own inbox is connected as a shared inbox."""


class ConnectionLimitReachedError(DomainError):
    """S6: one connection per user (two for legacy accounts until one is disconnected)."""


class ExchangeAuthFailedError(DomainError):
    """S2: the Exchange server refused the login."""


class ExchangeVersionUnsupportedError(DomainError):
    """S2: the server is older than Exchange 2010 SP2."""


class ExchangeUnreachableError(DomainError):
    """S2: the EWS URL did not answer."""


class CalDavAuthFailedError(DomainError):
    """C28: the CalDAV server refused the login (iCloud and Fastmail need an app password)."""


class NotACalDavServerError(DomainError):
    """C28: the URL (or the email's domain) leads to no CalDAV calendar home."""


class CalDavUnreachableError(DomainError):
    """C28: the CalDAV server could not be reached."""


class TlsCertificateUntrustedError(DomainError):
    """C46: the server's certificate chains to no trusted CA (SLOTGRAPH_CA_BUNDLE adds one)."""


class AutodiscoverFailedError(DomainError):
    """S2: no EWS URL could be discovered for the address."""


class OAuthDeniedError(DomainError):
    """S1: the user declined consent at the provider."""


class OAuthStateInvalidError(DomainError):
    """S1: the callback's state is unknown, used or expired."""


class ProviderUnavailableError(DomainError):
    """The provider failed transiently; the caller may retry later."""


class PagesTurnedOffError(DomainError):
    """S17: the host turned all scheduling pages off."""


class HostAccessLostError(DomainError):
    """S13: a calendar the page checks is no longer readable."""


class AvailabilityUnknownError(DomainError):
    """A provider failed transiently: times cannot be offered safely right now."""


class SlotUnavailableError(DomainError):
    """S8: the time is not (or no longer) offered; `reason` is a
    `slotgraph.scheduling.slots.Refusal` value (TAKEN when a race was lost at commit)."""

    def __init__(self, message: str, *, field: str | None = "start", reason: str = "TAKEN") -> None:
        super().__init__(message, field=field)
        self.reason = reason


class IdempotencyKeyReusedError(DomainError):
    """C12: the key was used for a different request."""


class BookingNotChangeableError(DomainError):
    """The booking's state forbids the change: cancelled, already started or over, or its
    page is gone (a contact reschedules only against the page's slots)."""

    def __init__(self, message: str, *, reason: str, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.reason = reason


class HostDeactivatedError(DomainError):
    """C23: the page's host was deactivated by an admin; their pages take no bookings."""


class LastAdminError(DomainError):
    """C37: the change would leave the account without an active admin."""


class RateLimitedError(DomainError):
    """C25: a limit on public operations is reached; retry after `retry_after_seconds`."""

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class BotCheckFailedError(DomainError):
    """C34: the page's host asks for a bot check and no valid, unused token came with it."""


class BotCheckUnavailableError(DomainError):
    """C34: the bot-check verifier could not be asked; the booking is refused (fail closed)."""


class DomainNotVerifiedError(DomainError):
    """C40: DNS does not (yet) hold the TXT record that proves the domain; the message names
    the record. Publishing it and asking again is the way out."""


class DomainCheckUnavailableError(DomainError):
    """C40: no name server answered, so the record could be neither found nor ruled out."""


class DomainTakenError(DomainError):
    """C40: the domain is already connected in this account, or proven by another one."""
