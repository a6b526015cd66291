"""Typed GraphQL errors and the one place domain exceptions become them.

Mutations return unions of a success type and these error types (docs/conventions.md, convention 1).
Every error implements `Error { message, field, code }`; the message says what the caller
can do. `map_error` is the one mapping from domain exceptions; the field extension
`slotgraph.graph.extensions.DomainErrors` applies it for every field that raises them.
Anything unexpected is masked by `slotgraph.graph.extensions.MaskUnexpectedErrors`.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, get_args, get_origin

import strawberry
from strawberry.types.base import StrawberryOptional
from strawberry.types.union import StrawberryUnion

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
# answer: each registers itself where it is declared (`Error.__init_subclass__`), so the
# pairing of exception, type and code is written once; `map_error` builds the others.
_PLAIN: dict[type[domain.DomainError], tuple[type[Error], ErrorCode]] = {}


@strawberry.interface(description="An expected failure, with what the caller can do about it.")
class Error:
    message: str
    field: str | None = strawberry.field(description="The input field at fault, if one is.")
    code: ErrorCode

    def __init_subclass__(
        cls,
        *,
        answers: type[domain.DomainError] | None = None,
        code: ErrorCode | None = None,
        **kwargs: Any,
    ) -> None:
        """`class NotFound(Error, answers=domain.NotFoundError, code=ErrorCode.NOT_FOUND)`:
        `map_error` answers that exception with this type and code."""
        super().__init_subclass__(**kwargs)
        if answers is None:
            return
        if code is None or answers in _PLAIN:
            raise TypeError(f"{cls.__name__}: each exception is answered once, with a code")
        _PLAIN[answers] = (cls, code)


@strawberry.type(description="One input field at fault and what would be accepted there.")
class FieldProblem:
    field: str | None = strawberry.field(
        description="The input field, as a path of the names sent (`contact.email`, "
        "`answers.topic`); null when no one field is at fault."
    )
    message: str


@strawberry.type(
    description="Input values break rules: `problems` lists every invalid field at once, so a "
    "form can mark them all; `field` and `message` repeat the first of them."
)
class ValidationError(Error):
    found: strawberry.Private[tuple[tuple[str | None, str], ...]] = ()

    @strawberry.field(description="Every invalid field with what it would accept, in order.")
    def problems(self) -> list[FieldProblem]:
        pairs = self.found or ((self.field, self.message),)
        return [FieldProblem(field=field, message=message) for field, message in pairs]


@strawberry.type(description="No such object in your account (C9).")
class NotFound(Error, answers=domain.NotFoundError, code=ErrorCode.NOT_FOUND):
    pass


@strawberry.type(description="Not signed in, or the token lacks a scope.")
class PermissionDenied(Error):
    required_scope: str | None


@strawberry.type(description="The meeting link is used by another page on some domain (S15).")
class SlugTaken(Error):
    suggestion: str


@strawberry.type(description="Needs a paid Sales or Service seat (S10, S14).")
class SeatRequired(Error, answers=domain.SeatRequiredError, code=ErrorCode.SEAT_REQUIRED):
    pass


@strawberry.type(description="Managed only once a calendar is connected (C6).")
class CalendarRequired(
    Error, answers=domain.CalendarRequiredError, code=ErrorCode.CALENDAR_REQUIRED
):
    pass


@strawberry.type(description="The account's plan does not include this feature.")
class PlanFeatureRequired(
    Error, answers=domain.PlanFeatureRequiredError, code=ErrorCode.PLAN_FEATURE_REQUIRED
):
    pass


@strawberry.type(
    description="The account would have no active admin left: make another user admin first."
)
class LastAdmin(Error, answers=domain.LastAdminError, code=ErrorCode.LAST_ADMIN):
    pass


@strawberry.type(description="The calendar provider does not offer this (C11).")
class ProviderLimitation(
    Error, answers=domain.ProviderLimitationError, code=ErrorCode.PROVIDER_LIMITATION
):
    pass


@strawberry.type(description="Needs the 'personal email access' permission (S3).")
class PermissionRequired(
    Error, answers=domain.PermissionRequiredError, code=ErrorCode.PERMISSION_REQUIRED
):
    pass


@strawberry.type(description="Your own inbox is connected as a shared inbox (S4).")
class SharedInboxNotAllowed(
    Error, answers=domain.SharedInboxNotAllowedError, code=ErrorCode.SHARED_INBOX_NOT_ALLOWED
):
    pass


@strawberry.type(description="One calendar connection per user (S6).")
class ConnectionLimitReached(
    Error, answers=domain.ConnectionLimitReachedError, code=ErrorCode.CONNECTION_LIMIT_REACHED
):
    pass


@strawberry.type(description="Exchange refused the login; with 2FA use an app password (S2).")
class ExchangeAuthFailed(
    Error, answers=domain.ExchangeAuthFailedError, code=ErrorCode.EXCHANGE_AUTH_FAILED
):
    pass


@strawberry.type(description="The Exchange server is older than 2010 SP2 (S2).")
class ExchangeVersionUnsupported(
    Error,
    answers=domain.ExchangeVersionUnsupportedError,
    code=ErrorCode.EXCHANGE_VERSION_UNSUPPORTED,
):
    pass


@strawberry.type(description="The Exchange URL did not answer (S2).")
class ExchangeUnreachable(
    Error, answers=domain.ExchangeUnreachableError, code=ErrorCode.EXCHANGE_UNREACHABLE
):
    pass


@strawberry.type(
    description="The CalDAV server refused the login; iCloud and Fastmail need an "
    "app-specific password (C28)."
)
class CalDavAuthFailed(
    Error, answers=domain.CalDavAuthFailedError, code=ErrorCode.CALDAV_AUTH_FAILED
):
    pass


@strawberry.type(description="The address leads to no CalDAV calendars; check the URL (C28).")
class NotACalDavServer(
    Error, answers=domain.NotACalDavServerError, code=ErrorCode.NOT_A_CALDAV_SERVER
):
    pass


@strawberry.type(description="The CalDAV server could not be reached (C28).")
class CalDavUnreachable(
    Error, answers=domain.CalDavUnreachableError, code=ErrorCode.CALDAV_UNREACHABLE
):
    pass


@strawberry.type(
    description="The server's TLS certificate is signed by no trusted CA; the operator adds "
    "an internal CA with SLOTGRAPH_CA_BUNDLE (C46)."
)
class TlsCertificateUntrusted(
    Error, answers=domain.TlsCertificateUntrustedError, code=ErrorCode.TLS_CERTIFICATE_UNTRUSTED
):
    pass


@strawberry.type(description="No Exchange server found for the address; give the URL (S2).")
class AutodiscoverFailed(
    Error, answers=domain.AutodiscoverFailedError, code=ErrorCode.AUTODISCOVER_FAILED
):
    pass


@strawberry.type(description="Consent was declined at the provider (S1).")
class OAuthDenied(Error, answers=domain.OAuthDeniedError, code=ErrorCode.OAUTH_DENIED):
    pass


@strawberry.type(description="The sign-in link is unknown, used or expired (S1).")
class OAuthStateInvalid(
    Error, answers=domain.OAuthStateInvalidError, code=ErrorCode.OAUTH_STATE_INVALID
):
    pass


@strawberry.type(description="The provider failed for now; retrying later may work.")
class ProviderUnavailable(
    Error, answers=domain.ProviderUnavailableError, code=ErrorCode.PROVIDER_UNAVAILABLE
):
    retryable: bool = True


@strawberry.type(
    description="A calendar of the host did not answer, so no time can be offered safely; "
    "retry shortly."
)
class AvailabilityUnknown(
    Error, answers=domain.AvailabilityUnknownError, code=ErrorCode.AVAILABILITY_UNKNOWN
):
    retryable: bool = True


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


@strawberry.type(description="The time is not, or no longer, available; `reason` says why.")
class SlotUnavailable(Error):
    reason: SlotUnavailableReason = SlotUnavailableReason.TAKEN


@strawberry.type(description="The idempotency key was used for a different request (C12).")
class IdempotencyKeyReused(
    Error, answers=domain.IdempotencyKeyReusedError, code=ErrorCode.IDEMPOTENCY_KEY_REUSED
):
    pass


@strawberry.enum
class BookingNotChangeableReason(enum.Enum):
    CANCELLED = "CANCELLED"
    STARTED = "STARTED"
    ENDED = "ENDED"
    PAGE_DELETED = "PAGE_DELETED"
    CONFIRMED = "CONFIRMED"  # confirmBooking / declineBooking: only requests are answered
    DECLINED = "DECLINED"


@strawberry.type(description="The booking cannot be changed so; `reason` says why.")
class BookingNotChangeable(Error):
    reason: BookingNotChangeableReason


@strawberry.type(description="The page exists but cannot be booked now; `reason` says why.")
class PageUnavailable(Error):
    reason: PageUnavailableReason


@strawberry.type(
    description="Too many calls from your address, for this page or with this email (C25); "
    "retry after `retryAfterSeconds`."
)
class RateLimited(Error):
    retry_after_seconds: int


@strawberry.type(
    description="The host asks for a bot check (C34): complete the challenge and send its "
    "token as `botCheckToken`; a token is good once."
)
class BotCheckFailed(Error, answers=domain.BotCheckFailedError, code=ErrorCode.BOT_CHECK_FAILED):
    pass


@strawberry.type(description="The bot check could not be verified right now (C34); retry.")
class BotCheckUnavailable(
    Error, answers=domain.BotCheckUnavailableError, code=ErrorCode.BOT_CHECK_UNAVAILABLE
):
    retryable: bool = True


@strawberry.type(
    description="DNS does not hold the domain's TXT record yet (C40): publish the record "
    "`verificationRecord` names, wait for DNS to show it, and verify again."
)
class DomainNotVerified(
    Error, answers=domain.DomainNotVerifiedError, code=ErrorCode.DOMAIN_NOT_VERIFIED
):
    pass


@strawberry.type(description="No name server answered the domain check (C40); retry.")
class DomainCheckUnavailable(
    Error, answers=domain.DomainCheckUnavailableError, code=ErrorCode.DOMAIN_CHECK_UNAVAILABLE
):
    retryable: bool = True


@strawberry.type(
    description="The domain is already connected in this account, or proven by another (C40)."
)
class DomainTaken(Error, answers=domain.DomainTakenError, code=ErrorCode.DOMAIN_TAKEN):
    pass


def map_error(exc: domain.DomainError) -> Error:
    """The typed GraphQL error for a domain exception: the one place they are matched.

    A domain exception with no case here is a programming error (TypeError), which the
    masking extension answers as INTERNAL and logs. (`assert_never` cannot prove the match
    complete: `DomainError` is open to subclasses.)
    """
    message, field = exc.message, exc.field
    match exc:
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
        case domain.BookingNotChangeableError():
            return BookingNotChangeable(
                message=message,
                field=field,
                code=ErrorCode.BOOKING_NOT_CHANGEABLE,
                reason=BookingNotChangeableReason(exc.reason),
            )
        case domain.RateLimitedError():
            return RateLimited(
                message=message,
                field=field,
                code=ErrorCode.RATE_LIMITED,
                retry_after_seconds=exc.retry_after_seconds,
            )
        case domain.InvalidInput():
            return ValidationError(
                message=message, field=field, code=ErrorCode.VALIDATION, found=exc.problems
            )
        case domain.SlotUnavailableError():
            return SlotUnavailable(
                message=message,
                field=field,
                code=ErrorCode.SLOT_UNAVAILABLE,
                reason=SlotUnavailableReason(exc.reason),
            )
        # Both are raised deep in the availability check, which knows no input names; every
        # field that declares PageUnavailable takes the page as `pageSlug`.
        case domain.PagesTurnedOffError():
            return _page_unavailable(message, PageUnavailableReason.PAGES_TURNED_OFF)
        case domain.HostAccessLostError():
            return _page_unavailable(message, PageUnavailableReason.HOST_ACCESS_LOST)
        case domain.HostDeactivatedError():  # accounts (C23)
            return _page_unavailable(message, PageUnavailableReason.HOST_DEACTIVATED)
        case _ if type(exc) in _PLAIN:
            error_type, code = _PLAIN[type(exc)]
            return error_type(message=message, field=field, code=code)
        case _:
            raise TypeError(f"no GraphQL error for {type(exc).__name__}") from exc


def _page_unavailable(message: str, reason: PageUnavailableReason) -> PageUnavailable:
    return PageUnavailable(
        message=message, field="pageSlug", code=ErrorCode.PAGE_UNAVAILABLE, reason=reason
    )


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
