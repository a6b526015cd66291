"""Expected failures of use cases. `slotgraph.graph.errors` maps each to a typed GraphQL error.

Every message says what the caller can do about it; none reveals whether an id exists in
another account (C9).
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every expected failure; `field` names the offending input, if one does."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """An input value breaks a rule."""


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
    """S8: the time is not (or no longer) offered."""


class IdempotencyKeyReusedError(DomainError):
    """C12: the key was used for a different request."""


class BookingNotChangeableError(DomainError):
    """The booking's state forbids the change: cancelled, already started or over, or its
    page is gone (a contact reschedules only against the page's slots)."""

    def __init__(self, message: str, *, reason: str, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.reason = reason
