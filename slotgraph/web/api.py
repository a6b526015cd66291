"""The pages' one way into the product: the public GraphQL operations a third-party page
would send, executed in-process on the app's own schema with an anonymous context, so every
rule, limit (C25) and typed error is the API's (no private shortcut)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from slotgraph.graph.context import Context

if TYPE_CHECKING:
    from starlette.requests import Request
    from strawberry.schema.base import BaseSchema

    from slotgraph.usecases.services import Services


class ApiFailed(RuntimeError):
    """The operation answered GraphQL errors (a bug or an outage, never a typed result)."""


class Limited(RuntimeError):
    """A limit on public operations refused the call (C25): typed `RateLimited` on the
    mutations, a RATE_LIMITED error on the queries; the page answers 429."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"rate limited; retry after {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


# What several operations ask of their results, named once as GraphQL fragments.
_FRAGMENTS = {
    "Failure": "fragment Failure on Error { message field code }",
    "Unavailable": "fragment Unavailable on PageUnavailable { reason }",
    "Limit": "fragment Limit on RateLimited { retryAfterSeconds }",
    "Meeting": "fragment Meeting on BookedMeeting { id title start end timeZone status }",
}
_SPREAD = re.compile(r"\.\.\.(\w+)")  # `...Name`; an inline fragment is `... on Type`


def _document(operation: str) -> str:
    """The operation and the fragments it spreads, only those: GraphQL refuses a document
    with an unused fragment."""
    spread = set(_SPREAD.findall(operation))
    used = [text for name, text in _FRAGMENTS.items() if name in spread]
    return "\n".join([operation, *used, ""])


PAGE = _document(
    """
query Page($slug: String!, $domain: String, $embedding: Boolean!) {
  schedulingPage(slug: $slug, domain: $domain) {
    __typename
    ... on PublicSchedulingPage {
      title description slug url durations hostName hostLocale timeZone offline
      formFields { key label kind required options }
      botCheck { verifier siteKey }
      embedding @include(if: $embedding) { frameAncestors indexable }
    }
    ...Failure ...Unavailable
  }
}"""
)

SLOTS = _document(
    """
query Slots($slug: String!, $start: DateTime!, $end: DateTime!, $tz: String!, $duration: Int,
            $domain: String) {
  availableSlots(pageSlug: $slug, start: $start, end: $end, timeZone: $tz,
                 duration: $duration, domain: $domain) {
    __typename
    ... on AvailableSlots { duration timeZone offline days { date starts } }
    ...Failure ...Unavailable
  }
}"""
)

BOOK = _document(
    """
mutation Book($input: BookMeetingInput!) {
  bookMeeting(input: $input) {
    __typename
    ... on BookMeetingSuccess { offline manageToken booking { ...Meeting } }
    ...Failure
    ... on ValidationError { problems { field message } }
    ...Unavailable ...Limit
  }
}"""
)

PREFILL = _document(
    """
query Prefill($slug: String!, $domain: String!, $token: String!) {
  bookingFormPrefill(pageSlug: $slug, domain: $domain, manageToken: $token) {
    __typename
    ... on BookingFormPrefill { name email answers { question answer } }
    ...Failure
  }
}"""
)

MANAGED = _document(
    """
query Managed($token: String!) {
  managedBooking(manageToken: $token) {
    __typename
    ... on ManagedBooking {
      hostName hostTimeZone contactName pageSlug pageUrl ics booking { ...Meeting }
    }
    ...Failure ...Limit
  }
}"""
)

RESCHEDULE = _document(
    """
mutation Move($input: RescheduleBookingAsContactInput!) {
  rescheduleBookingAsContact(input: $input) { __typename ...Failure ...Unavailable ...Limit }
}"""
)

CANCEL = _document(
    """
mutation Cancel($input: CancelBookingAsContactInput!) {
  cancelBookingAsContact(input: $input) { __typename ...Failure ...Limit }
}"""
)


@dataclass(frozen=True)
class Api:
    """Runs an operation as an anonymous caller from the page's request (its client address
    counts for the limits, like any other caller's)."""

    schema: BaseSchema
    services: Services

    async def run(self, request: Request, query: str, variables: dict[str, Any]) -> Any:
        context = Context(
            sessionmaker=self.services.sessionmaker,
            public_base_url=self.services.public_base_url,
            viewer=None,
            request_id=request.scope.get("state", {}).get("request_id", ""),
            services=self.services,
            request=request,
            client_address=self.services.limits.client_address(
                request.client.host if request.client else None,
                request.headers.getlist("x-forwarded-for"),
            ),
        )
        result = await self.schema.execute(query, variables, context_value=context)
        for error in result.errors or ():
            extensions = error.extensions or {}
            if extensions.get("code") == "RATE_LIMITED":
                raise Limited(int(extensions.get("retryAfterSeconds", 60)))
        if result.errors:
            raise ApiFailed("; ".join(error.message for error in result.errors))
        assert result.data is not None
        (answer,) = result.data.values()
        if isinstance(answer, dict) and answer.get("__typename") == "RateLimited":
            raise Limited(int(answer.get("retryAfterSeconds") or 60))
        return answer
