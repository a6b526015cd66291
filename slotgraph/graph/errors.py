"""Typed GraphQL errors and the one place domain exceptions become them.

Mutations return unions of a success type and these error types (docs/conventions.md, convention 1).
Every error implements `Error { message, field, code }`; the message says what the caller
can do. `map_error` is the one mapping from domain exceptions; the field extension
`slotgraph.graph.extensions.DomainErrors` applies it for every field that raises them.
Anything unexpected is masked by `slotgraph.graph.extensions.MaskUnexpectedErrors`.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Annotated
from typing import Any
from typing import TypeVar
from typing import dataclass_transform
from typing import get_args
from typing import get_origin

import strawberry
from strawberry.types.base import StrawberryOptional
from strawberry.types.union import StrawberryUnion

from slotgraph.graph.types.pages import PageUnavailableReason
from slotgraph.usecases import errors as domain


@strawberry.enum
class ErrorCode(enum.Enum):
    """What failed, for a client that branches on it: every typed error carries one, and a
    query field's top-level error repeats it as `extensions.code`."""

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
    CALDAV_AUTH_FAILED = "CALDAV_AUTH_FAILED"
    NOT_A_CALDAV_SERVER = "NOT_A_CALDAV_SERVER"
    CALDAV_UNREACHABLE = "CALDAV_UNREACHABLE"
    OAUTH_DENIED = "OAUTH_DENIED"
    OAUTH_STATE_INVALID = "OAUTH_STATE_INVALID"
    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"
    AVAILABILITY_UNKNOWN = "AVAILABILITY_UNKNOWN"
    SLOT_UNAVAILABLE = "SLOT_UNAVAILABLE"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    BOOKING_NOT_CHANGEABLE = "BOOKING_NOT_CHANGEABLE"
    LAST_ADMIN = "LAST_ADMIN"
    # Outbound trust (C46).
    TLS_CERTIFICATE_UNTRUSTED = "TLS_CERTIFICATE_UNTRUSTED"
    # Limits on public operations (C25, C34).
    RATE_LIMITED = "RATE_LIMITED"
    BOT_CHECK_FAILED = "BOT_CHECK_FAILED"
    BOT_CHECK_UNAVAILABLE = "BOT_CHECK_UNAVAILABLE"
    # Connected domains (C40).
    DOMAIN_NOT_VERIFIED = "DOMAIN_NOT_VERIFIED"
    DOMAIN_CHECK_UNAVAILABLE = "DOMAIN_CHECK_UNAVAILABLE"
    DOMAIN_TAKEN = "DOMAIN_TAKEN"


# The errors that carry nothing but message, field and code, keyed by the exception they
# answer: each names that exception in its class line (`class NotFound(Error,
# answers=...)`) and registers itself here (`Error.__init_subclass__`), so the pairing of
# exception, type and code is written once; `map_error` builds the others.
_PLAIN: dict[type[domain.DomainError], type[Error]] = {}


@strawberry.interface(description="An expected failure, with what the caller can do about it.")
class Error:
    message: str
    field: str | None = strawberry.field(description="The input field at fault, if one is.")
    code: ErrorCode

    def __init_subclass__(
        cls, *, answers: type[domain.DomainError] | None = None, **kwargs: Any
    ) -> None:
        """`answers=`: `map_error` answers that exception with this type, and the code the
        class declares as its default."""
        super().__init_subclass__(**kwargs)
        if answers is None:
            return
        if not isinstance(cls.__dict__.get("code"), ErrorCode):
            raise TypeError(f"{cls.__name__}: a plain error declares its code")
        if answers in _PLAIN:
            raise TypeError(f"{cls.__name__}: {answers.__name__} is answered already")
        _PLAIN[answers] = cls


_ErrorType = TypeVar("_ErrorType", bound=type[Error])


@dataclass_transform(kw_only_default=True, field_specifiers=(strawberry.field,))
def described(cls: _ErrorType) -> _ErrorType:
    """`strawberry.type` with the class's docstring as its description: an error type's
    description is what a client reads to learn what to do, so it stands as prose where
    the class is declared."""
    if not cls.__doc__:
        raise TypeError(f"{cls.__name__}: an error type says in its docstring what to do")
    return strawberry.type(cls, description=" ".join(cls.__doc__.split()))


@strawberry.type(description="One input field at fault and what would be accepted there.")
class FieldProblem:
    field: str | None = strawberry.field(
        description="The input field, as a path of the names sent (`contact.email`, "
        "`answers.topic`); null when no one field is at fault."
    )
    message: str


@dataclasses.dataclass(kw_only=True)
class Retryable(Error):
    """An error after which the same call may succeed later: its GraphQL type has the field
    `retryable: Boolean!`, always true. Not a GraphQL interface of its own."""

    retryable: bool = True


@described
class ValidationError(Error):
    """Input values break rules: `problems` lists every invalid field at once, so a form can mark
    them all; `field` and `message` repeat the first of them."""

    code: ErrorCode = ErrorCode.VALIDATION
    found: strawberry.Private[tuple[tuple[str | None, str], ...]] = ()

    @strawberry.field(description="Every invalid field with what it would accept, in order.")
    def problems(self) -> list[FieldProblem]:
        pairs = self.found or ((self.field, self.message),)
        return [FieldProblem(field=field, message=message) for field, message in pairs]


@described
class NotFound(Error, answers=domain.NotFoundError):
    """No such object in your account (C9)."""

    code: ErrorCode = ErrorCode.NOT_FOUND


@described
class PermissionDenied(Error):
    """Not signed in, or the token lacks a scope."""

    code: ErrorCode = ErrorCode.PERMISSION_DENIED
    required_scope: str | None


@described
class SlugTaken(Error):
    """The meeting link is used by another page on some domain (S15)."""

    code: ErrorCode = ErrorCode.SLUG_TAKEN
    suggestion: str


@described
class SeatRequired(Error, answers=domain.SeatRequiredError):
    """Needs a paid Sales or Service seat (S10, S14)."""

    code: ErrorCode = ErrorCode.SEAT_REQUIRED


@described
class CalendarRequired(Error, answers=domain.CalendarRequiredError):
    """Managed only once a calendar is connected (C6)."""

    code: ErrorCode = ErrorCode.CALENDAR_REQUIRED


@described
class PlanFeatureRequired(Error, answers=domain.PlanFeatureRequiredError):
    """The account's plan does not include this feature."""

    code: ErrorCode = ErrorCode.PLAN_FEATURE_REQUIRED


@described
class LastAdmin(Error, answers=domain.LastAdminError):
    """The account would have no active admin left: make another user admin first."""

    code: ErrorCode = ErrorCode.LAST_ADMIN


@described
class ProviderLimitation(Error, answers=domain.ProviderLimitationError):
    """The calendar provider does not offer this (C11)."""

    code: ErrorCode = ErrorCode.PROVIDER_LIMITATION


@described
class PermissionRequired(Error, answers=domain.PermissionRequiredError):
    """Needs the 'personal email access' permission (S3)."""

    code: ErrorCode = ErrorCode.PERMISSION_REQUIRED


@described
class SharedInboxNotAllowed(Error, answers=domain.SharedInboxNotAllowedError):
    """Your own inbox is connected as a shared inbox (S4)."""

    code: ErrorCode = ErrorCode.SHARED_INBOX_NOT_ALLOWED


@described
class ConnectionLimitReached(Error, answers=domain.ConnectionLimitReachedError):
    """One calendar connection per user (S6)."""

    code: ErrorCode = ErrorCode.CONNECTION_LIMIT_REACHED


@described
class ExchangeAuthFailed(Error, answers=domain.ExchangeAuthFailedError):
    """Exchange refused the login; with 2FA use an app password (S2)."""

    code: ErrorCode = ErrorCode.EXCHANGE_AUTH_FAILED


@described
class ExchangeVersionUnsupported(Error, answers=domain.ExchangeVersionUnsupportedError):
    """The Exchange server is older than 2010 SP2 (S2)."""

    code: ErrorCode = ErrorCode.EXCHANGE_VERSION_UNSUPPORTED


@described
class ExchangeUnreachable(Error, answers=domain.ExchangeUnreachableError):
    """The Exchange URL did not answer (S2)."""

    code: ErrorCode = ErrorCode.EXCHANGE_UNREACHABLE


@described
class CalDavAuthFailed(Error, answers=domain.CalDavAuthFailedError):
    """The CalDAV server refused the login; iCloud and Fastmail need an app-specific password
    (C28)."""

    code: ErrorCode = ErrorCode.CALDAV_AUTH_FAILED


@described
class NotACalDavServer(Error, answers=domain.NotACalDavServerError):
    """The address leads to no CalDAV calendars; check the URL (C28)."""

    code: ErrorCode = ErrorCode.NOT_A_CALDAV_SERVER


@described
class CalDavUnreachable(Error, answers=domain.CalDavUnreachableError):
    """The CalDAV server could not be reached (C28)."""

    code: ErrorCode = ErrorCode.CALDAV_UNREACHABLE


@described
class TlsCertificateUntrusted(Error, answers=domain.TlsCertificateUntrustedError):
    """The server's TLS certificate is signed by no trusted CA; the operator adds an internal CA
    with SLOTGRAPH_CA_BUNDLE (C46)."""

    code: ErrorCode = ErrorCode.TLS_CERTIFICATE_UNTRUSTED


@described
class AutodiscoverFailed(Error, answers=domain.AutodiscoverFailedError):
    """No Exchange server found for the address; give the URL (S2)."""

    code: ErrorCode = ErrorCode.AUTODISCOVER_FAILED


@described
class OAuthDenied(Error, answers=domain.OAuthDeniedError):
    """Consent was declined at the provider (S1)."""

    code: ErrorCode = ErrorCode.OAUTH_DENIED


@described
class OAuthStateInvalid(Error, answers=domain.OAuthStateInvalidError):
    """The sign-in link is unknown, used or expired (S1)."""

    code: ErrorCode = ErrorCode.OAUTH_STATE_INVALID


@described
class ProviderUnavailable(Retryable, answers=domain.ProviderUnavailableError):
    """The provider failed for now; retrying later may work."""

    code: ErrorCode = ErrorCode.PROVIDER_UNAVAILABLE


@described
class AvailabilityUnknown(Retryable, answers=domain.AvailabilityUnknownError):
    """A calendar of the host did not answer, so no time can be offered safely; retry shortly."""

    code: ErrorCode = ErrorCode.AVAILABILITY_UNKNOWN


@strawberry.enum(description="Why a start is not offered; each reason has its own fix.")
class SlotUnavailableReason(enum.Enum):
    IN_THE_PAST = strawberry.enum_value("IN_THE_PAST", description="The time has passed.")
    MINIMUM_NOTICE = strawberry.enum_value(
        "MINIMUM_NOTICE", description="Sooner than the page's minimum notice: pick later."
    )
    BEYOND_BOOKING_WINDOW = strawberry.enum_value(
        "BEYOND_BOOKING_WINDOW",
        description="Further ahead than the page's booking window: pick earlier.",
    )
    OUTSIDE_HOURS = strawberry.enum_value(
        "OUTSIDE_HOURS",
        description="Starts outside the page's hours, or the meeting would run past them.",
    )
    OFF_GRID = strawberry.enum_value(
        "OFF_GRID",
        description="Within the hours but not on the page's slot interval (e.g. 09:10 on a "
        "15-minute page): pick a listed start.",
    )
    DAY_FULL = strawberry.enum_value(
        "DAY_FULL", description="The date already holds the page's maximum meetings per day."
    )
    TAKEN = strawberry.enum_value(
        "TAKEN",
        description="The host is busy then (a calendar event or another booking, buffers "
        "included), or someone booked it first: pick another slot.",
    )


@described
class SlotUnavailable(Error):
    """The time is not, or no longer, available; `reason` says why."""

    code: ErrorCode = ErrorCode.SLOT_UNAVAILABLE
    reason: SlotUnavailableReason = SlotUnavailableReason.TAKEN


@described
class IdempotencyKeyReused(Error, answers=domain.IdempotencyKeyReusedError):
    """The idempotency key was used for a different request (C12)."""

    code: ErrorCode = ErrorCode.IDEMPOTENCY_KEY_REUSED


@strawberry.enum
class BookingNotChangeableReason(enum.Enum):
    """The state that stops the change; the use cases raise it by value
    (`BookingNotChangeableError.reason`)."""

    CANCELLED = "CANCELLED"
    STARTED = "STARTED"
    ENDED = "ENDED"
    PAGE_DELETED = "PAGE_DELETED"
    CONFIRMED = "CONFIRMED"  # confirmBooking / declineBooking: only requests are answered
    DECLINED = "DECLINED"


@described
class BookingNotChangeable(Error):
    """The booking cannot be changed so; `reason` says why."""

    code: ErrorCode = ErrorCode.BOOKING_NOT_CHANGEABLE
    reason: BookingNotChangeableReason


@described
class PageUnavailable(Error):
    """The page exists but cannot be booked now; `reason` says why."""

    code: ErrorCode = ErrorCode.PAGE_UNAVAILABLE
    reason: PageUnavailableReason


@described
class RateLimited(Error):
    """Too many calls from your address, for this page or with this email (C25); retry after
    `retryAfterSeconds`."""

    code: ErrorCode = ErrorCode.RATE_LIMITED
    retry_after_seconds: int


@described
class BotCheckFailed(Error, answers=domain.BotCheckFailedError):
    """The host asks for a bot check (C34): complete the challenge and send its token as
    `botCheckToken`; a token is good once."""

    code: ErrorCode = ErrorCode.BOT_CHECK_FAILED


@described
class BotCheckUnavailable(Retryable, answers=domain.BotCheckUnavailableError):
    """The bot check could not be verified right now (C34); retry."""

    code: ErrorCode = ErrorCode.BOT_CHECK_UNAVAILABLE


@described
class DomainNotVerified(Error, answers=domain.DomainNotVerifiedError):
    """DNS does not hold the domain's TXT record yet (C40): publish the record
    `verificationRecord` names, wait for DNS to show it, and verify again."""

    code: ErrorCode = ErrorCode.DOMAIN_NOT_VERIFIED


@described
class DomainCheckUnavailable(Retryable, answers=domain.DomainCheckUnavailableError):
    """No name server answered the domain check (C40); retry."""

    code: ErrorCode = ErrorCode.DOMAIN_CHECK_UNAVAILABLE


@described
class DomainTaken(Error, answers=domain.DomainTakenError):
    """The domain is already connected in this account, or proven by another (C40)."""

    code: ErrorCode = ErrorCode.DOMAIN_TAKEN


# The exceptions that say why a page cannot be booked now (C23 for a deactivated host).
_PAGE_UNAVAILABLE: dict[type[domain.DomainError], PageUnavailableReason] = {
    domain.PagesTurnedOffError: PageUnavailableReason.PAGES_TURNED_OFF,
    domain.HostAccessLostError: PageUnavailableReason.HOST_ACCESS_LOST,
    domain.HostDeactivatedError: PageUnavailableReason.HOST_DEACTIVATED,
}


def map_error(exc: domain.DomainError) -> Error:
    """The typed GraphQL error for a domain exception: the one place they are matched.

    A domain exception with no case here is a programming error (TypeError), which the
    masking extension answers as INTERNAL and logs. (`assert_never` cannot prove the match
    complete: `DomainError` is open to subclasses.)
    """
    message, field = exc.message, exc.field
    match exc:
        case domain.PermissionDeniedError():
            return PermissionDenied(message=message, field=field, required_scope=exc.required_scope)
        case domain.SlugTakenError():
            return SlugTaken(message=message, field=field, suggestion=exc.suggestion)
        case domain.BookingNotChangeableError():
            reason = BookingNotChangeableReason(exc.reason)
            return BookingNotChangeable(message=message, field=field, reason=reason)
        case domain.RateLimitedError():
            wait = exc.retry_after_seconds
            return RateLimited(message=message, field=field, retry_after_seconds=wait)
        case domain.InvalidInput():
            return ValidationError(message=message, field=field, found=exc.problems)
        case domain.SlotUnavailableError():
            slot_reason = SlotUnavailableReason(exc.reason)
            return SlotUnavailable(message=message, field=field, reason=slot_reason)
        case _ if type(exc) in _PAGE_UNAVAILABLE:
            # Raised deep in the availability check, which knows no input names; every
            # field that declares PageUnavailable takes the page as `pageSlug`.
            page_reason = _PAGE_UNAVAILABLE[type(exc)]
            return PageUnavailable(message=message, field="pageSlug", reason=page_reason)
        case _ if type(exc) in _PLAIN:
            error_type = _PLAIN[type(exc)]
            return error_type(message=message, field=field, code=error_type.code)
        case _:
            raise TypeError(f"no GraphQL error for {type(exc).__name__}") from exc


def error_code(exc: domain.DomainError) -> str:
    """The code of a domain error outside a typed result (a query field's
    `extensions.code`, the OAuth callback's redirect)."""
    return map_error(exc).code.value


def declared_errors(result_type: object) -> frozenset[type]:
    """The error types a field's result union declares: `result_type` is the union's
    annotation or strawberry's resolved type of the field. Empty when it is no union."""
    if isinstance(result_type, StrawberryOptional):
        result_type = result_type.of_type
    if isinstance(result_type, StrawberryUnion):
        members: tuple[object, ...] = result_type.types
    elif get_origin(result_type) is Annotated:
        members = get_args(get_args(result_type)[0])
    else:
        return frozenset()
    return frozenset(m for m in members if isinstance(m, type) and issubclass(m, Error))


def declared_error(exc: domain.DomainError, declared: frozenset[type]) -> Error:
    """`map_error`, checked against the errors the field declares: one it does not list is a
    programming error (TypeError: masked as INTERNAL and logged), never data."""
    error = map_error(exc)
    if type(error) not in declared:
        raise TypeError(f"{type(error).__name__} is not declared by the field") from exc
    return error


def error_result(exc: domain.DomainError, result_union: object) -> Any:
    """`declared_error` for a subscription stream, which yields its errors as items: a field
    extension wraps the resolver, not the items of its stream. `Any`, since the yielded item
    is checked against `result_union` at run time, not by mypy."""
    return declared_error(exc, declared_errors(result_union))


# C30: the database away. Not a typed result (no mutation can declare it: any field may
# meet it), but a top-level error with this `extensions.code`, answered with HTTP 503 and
# `Retry-After` (`slotgraph.graph.extensions.MaskUnexpectedErrors` over HTTP and
# websockets, `slotgraph.server.unavailable` for what fails before GraphQL runs).
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
RETRY_AFTER_SECONDS = 5
SERVICE_UNAVAILABLE_MESSAGE = (
    f"The service cannot reach its database right now; retry in {RETRY_AFTER_SECONDS} seconds."
)


def service_unavailable_extensions(request_id: str | None) -> dict[str, Any]:
    """The `extensions` of a C30 error: its code, when to retry, the request id to quote."""
    return {
        "code": SERVICE_UNAVAILABLE,
        "retryAfterSeconds": RETRY_AFTER_SECONDS,
        "requestId": request_id,
    }
