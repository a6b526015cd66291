"""Typed GraphQL errors and the one place domain exceptions become them.

Mutations return unions of a success type and these error types (DESIGN convention 1).
Every error implements `Error { message, field, code }`; the message says what the caller
can do. Anything unexpected is masked by `slotgraph.graph.extensions.MaskUnexpectedErrors`.
"""

from __future__ import annotations

import enum
from typing import Any, get_args

import strawberry

from slotgraph.graph.types.pages import PageUnavailableReason
from slotgraph.usecases import errors as domain


@strawberry.enum
class ErrorCode(enum.Enum):
    VALIDATION = "VALIDATION"
    NOT_FOUND = "NOT_FOUND"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    SLUG_TAKEN = "SLUG_TAKEN"
    SEAT_REQUIRED = "SEAT_REQUIRED"
    CALENDAR_REQUIRED = "CALENDAR_REQUIRED"
    PLAN_FEATURE_REQUIRED = "PLAN_FEATURE_REQUIRED"
    PROVIDER_LIMITATION = "PROVIDER_LIMITATION"
    PAGE_UNAVAILABLE = "PAGE_UNAVAILABLE"
    PERMISSION_REQUIRED = "PERMISSION_REQUIRED"
    SHARED_INBOX_NOT_ALLOWED = "SHARED_INBOX_NOT_ALLOWED"
    CONNECTION_LIMIT_REACHED = "CONNECTION_LIMIT_REACHED"
    EXCHANGE_AUTH_FAILED = "EXCHANGE_AUTH_FAILED"
    EXCHANGE_VERSION_UNSUPPORTED = "EXCHANGE_VERSION_UNSUPPORTED"
    EXCHANGE_UNREACHABLE = "EXCHANGE_UNREACHABLE"
    AUTODISCOVER_FAILED = "AUTODISCOVER_FAILED"
    OAUTH_DENIED = "OAUTH_DENIED"
    OAUTH_STATE_INVALID = "OAUTH_STATE_INVALID"
    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"
    AVAILABILITY_UNKNOWN = "AVAILABILITY_UNKNOWN"
    SLOT_UNAVAILABLE = "SLOT_UNAVAILABLE"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    BOOKING_NOT_CHANGEABLE = "BOOKING_NOT_CHANGEABLE"


@strawberry.interface(description="An expected failure, with what the caller can do about it.")
class Error:
    message: str
    field: str | None = strawberry.field(description="The input field at fault, if one is.")
    code: ErrorCode


@strawberry.type(description="An input value breaks a rule; `field` names it.")
class ValidationError(Error):
    pass


@strawberry.type(description="No such object in your account (C9).")
class NotFound(Error):
    pass


@strawberry.type(description="Not signed in, or the token lacks a scope.")
class PermissionDenied(Error):
    required_scope: str | None


@strawberry.type(description="The meeting link is used by another page on some domain (S15).")
class SlugTaken(Error):
    suggestion: str


@strawberry.type(description="Needs a paid Sales or Service seat (S10, S14).")
class SeatRequired(Error):
    pass


@strawberry.type(description="Managed only once a calendar is connected (C6).")
class CalendarRequired(Error):
    pass


@strawberry.type(description="The account's plan does not include this feature.")
class PlanFeatureRequired(Error):
    pass


@strawberry.type(description="The calendar provider does not offer this (C11).")
class ProviderLimitation(Error):
    pass


@strawberry.type(description="Needs the 'personal email access' permission (S3).")
class PermissionRequired(Error):
    pass


@strawberry.type(description="Your own inbox is connected as a shared inbox (S4).")
class SharedInboxNotAllowed(Error):
    pass


@strawberry.type(description="One calendar connection per user (S6).")
class ConnectionLimitReached(Error):
    pass


@strawberry.type(description="Exchange refused the login; with 2FA use an app password (S2).")
class ExchangeAuthFailed(Error):
    pass


@strawberry.type(description="The Exchange server is older than 2010 SP2 (S2).")
class ExchangeVersionUnsupported(Error):
    pass


@strawberry.type(description="The Exchange URL did not answer (S2).")
class ExchangeUnreachable(Error):
    pass


@strawberry.type(description="No Exchange server found for the address; give the URL (S2).")
class AutodiscoverFailed(Error):
    pass


@strawberry.type(description="Consent was declined at the provider (S1).")
class OAuthDenied(Error):
    pass


@strawberry.type(description="The sign-in link is unknown, used or expired (S1).")
class OAuthStateInvalid(Error):
    pass


@strawberry.type(description="The provider failed for now; retrying later may work.")
class ProviderUnavailable(Error):
    retryable: bool = True


@strawberry.type(
    description="A calendar of the host did not answer, so no time can be offered safely; "
    "retry shortly."
)
class AvailabilityUnknown(Error):
    retryable: bool = True


@strawberry.type(description="The time is not, or no longer, available; pick another slot.")
class SlotUnavailable(Error):
    pass


@strawberry.type(description="The idempotency key was used for a different request (C12).")
class IdempotencyKeyReused(Error):
    pass


@strawberry.enum
class BookingNotChangeableReason(enum.Enum):
    CANCELLED = "CANCELLED"
    STARTED = "STARTED"
    ENDED = "ENDED"
    PAGE_DELETED = "PAGE_DELETED"


@strawberry.type(description="The booking cannot be changed so; `reason` says why.")
class BookingNotChangeable(Error):
    reason: BookingNotChangeableReason


@strawberry.type(description="The page exists but cannot be booked now; `reason` says why.")
class PageUnavailable(Error):
    reason: PageUnavailableReason


def page_unavailable(exc: domain.DomainError, reason: PageUnavailableReason) -> PageUnavailable:
    return PageUnavailable(
        message=exc.message, field="pageSlug", code=ErrorCode.PAGE_UNAVAILABLE, reason=reason
    )


AnyError = (
    ValidationError
    | NotFound
    | PermissionDenied
    | SlugTaken
    | SeatRequired
    | CalendarRequired
    | PlanFeatureRequired
    | ProviderLimitation
    | PermissionRequired
    | SharedInboxNotAllowed
    | ConnectionLimitReached
    | ExchangeAuthFailed
    | ExchangeVersionUnsupported
    | ExchangeUnreachable
    | AutodiscoverFailed
    | OAuthDenied
    | OAuthStateInvalid
    | ProviderUnavailable
    | AvailabilityUnknown
    | SlotUnavailable
    | IdempotencyKeyReused
    | BookingNotChangeable
)

_SIMPLE: dict[type[domain.DomainError], tuple[type[Any], ErrorCode]] = {}


def map_error(exc: domain.DomainError) -> AnyError:
    """The typed GraphQL error for a domain exception."""
    message, field = exc.message, exc.field
    match exc:
        case domain.InvalidInput():
            return ValidationError(message=message, field=field, code=ErrorCode.VALIDATION)
        case domain.NotFoundError():
            return NotFound(message=message, field=field, code=ErrorCode.NOT_FOUND)
        case domain.PermissionDeniedError():
            return PermissionDenied(
                message=message,
                field=field,
                code=ErrorCode.PERMISSION_DENIED,
                required_scope=exc.required_scope,
            )
        case domain.SlugTakenError():
            return SlugTaken(
                message=message, field=field, code=ErrorCode.SLUG_TAKEN, suggestion=exc.suggestion
            )
        case domain.SeatRequiredError():
            return SeatRequired(message=message, field=field, code=ErrorCode.SEAT_REQUIRED)
        case domain.CalendarRequiredError():
            return CalendarRequired(message=message, field=field, code=ErrorCode.CALENDAR_REQUIRED)
        case domain.PlanFeatureRequiredError():
            return PlanFeatureRequired(
                message=message, field=field, code=ErrorCode.PLAN_FEATURE_REQUIRED
            )
        case domain.ProviderLimitationError():
            return ProviderLimitation(
                message=message, field=field, code=ErrorCode.PROVIDER_LIMITATION
            )
        case domain.BookingNotChangeableError():
            return BookingNotChangeable(
                message=message,
                field=field,
                code=ErrorCode.BOOKING_NOT_CHANGEABLE,
                reason=BookingNotChangeableReason(exc.reason),
            )
        case _:
            simple = _SIMPLE.get(type(exc))
            if simple is None:
                raise TypeError(f"no GraphQL error for {type(exc).__name__}") from exc
            error_type, code = simple
            error: AnyError = error_type(message=message, field=field, code=code)
            return error


_SIMPLE.update(
    {
        domain.PermissionRequiredError: (PermissionRequired, ErrorCode.PERMISSION_REQUIRED),
        domain.SharedInboxNotAllowedError: (
            SharedInboxNotAllowed,
            ErrorCode.SHARED_INBOX_NOT_ALLOWED,
        ),
        domain.ConnectionLimitReachedError: (
            ConnectionLimitReached,
            ErrorCode.CONNECTION_LIMIT_REACHED,
        ),
        domain.ExchangeAuthFailedError: (ExchangeAuthFailed, ErrorCode.EXCHANGE_AUTH_FAILED),
        domain.ExchangeVersionUnsupportedError: (
            ExchangeVersionUnsupported,
            ErrorCode.EXCHANGE_VERSION_UNSUPPORTED,
        ),
        domain.ExchangeUnreachableError: (ExchangeUnreachable, ErrorCode.EXCHANGE_UNREACHABLE),
        domain.AutodiscoverFailedError: (AutodiscoverFailed, ErrorCode.AUTODISCOVER_FAILED),
        domain.OAuthDeniedError: (OAuthDenied, ErrorCode.OAUTH_DENIED),
        domain.OAuthStateInvalidError: (OAuthStateInvalid, ErrorCode.OAUTH_STATE_INVALID),
        domain.ProviderUnavailableError: (ProviderUnavailable, ErrorCode.PROVIDER_UNAVAILABLE),
        domain.AvailabilityUnknownError: (AvailabilityUnknown, ErrorCode.AVAILABILITY_UNKNOWN),
        domain.SlotUnavailableError: (SlotUnavailable, ErrorCode.SLOT_UNAVAILABLE),
        domain.IdempotencyKeyReusedError: (IdempotencyKeyReused, ErrorCode.IDEMPOTENCY_KEY_REUSED),
    }
)


def error_code(exc: domain.DomainError) -> str:
    """The `extensions.code` for a domain error raised by a query field."""
    return map_error(exc).code.value


def error_result(exc: domain.DomainError, result_union: Any) -> Any:
    """`map_error`, checked against the mutation's declared result union: a domain error the
    union does not list is a programming error and must not reach the client as data."""
    error = map_error(exc)
    members = get_args(get_args(result_union)[0])
    if type(error) not in members:
        raise TypeError(f"{type(error).__name__} is not in {result_union}") from exc
    return error
