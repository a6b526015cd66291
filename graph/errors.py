"""Typed GraphQL errors and the one place domain exceptions become them.

Mutations return unions of a success type and these error types (DESIGN convention 1).
Every error implements `Error { message, field, code }`; the message says what the caller
can do. Anything unexpected is masked by `graph.extensions.MaskUnexpectedErrors`.
"""

from __future__ import annotations

import enum
from typing import Any, assert_never, get_args

import strawberry

from resolvers import errors as domain


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


AnyError = (
    ValidationError
    | NotFound
    | PermissionDenied
    | SlugTaken
    | SeatRequired
    | CalendarRequired
    | PlanFeatureRequired
    | ProviderLimitation
)


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
        case _:
            assert_never(exc)  # type: ignore[arg-type]


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
