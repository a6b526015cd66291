"""Limits on public operations over HTTP (C25, C33, C34), on an app with low limits:
anonymous writes per client address (strict, in PostgreSQL), bookings per page and per
contact email per page per day, anonymous reads per address and per page, the
trusted-proxy rule for forwarded addresses, and the host's bot check against a fake
verifier shaped like the real siteverify API."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from slotgraph.models import Booking
from tests.fakes.botcheck import SECRET
from tests.fakes.botcheck import SITE_KEY
from tests.fakes.botcheck import FakeVerifier
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.limits import BOOK
from tests.helpers.limits import PREFILL
from tests.helpers.limits import booking
from tests.helpers.limits import bot_check_settings
from tests.helpers.limits import client_at
from tests.helpers.limits import limited_settings
from tests.helpers.limits import running
from tests.helpers.pages import SLOTS
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday

WRITES, PER_PAGE, PER_EMAIL, READS, READS_PER_PAGE = 3, 5, 2, 6, 10
PROXY = "10.0.0.7"


@pytest.fixture(scope="module")
def verifier() -> Iterator[FakeVerifier]:
    with FakeVerifier() as fake:
        yield fake


@pytest.fixture(scope="module")
async def app(database_url: str, engine: Any, verifier: FakeVerifier) -> AsyncIterator[Starlette]:
    settings = limited_settings(
        database_url,
        public_writes_per_address=WRITES,
        public_bookings_per_page=PER_PAGE,
        public_bookings_per_email_per_page_per_day=PER_EMAIL,
        public_reads_per_address=READS,
        public_reads_per_page=READS_PER_PAGE,
        trusted_proxies=("10.0.0.0/8",),
        **bot_check_settings(verifier.verify_url),
    )
    async with running(settings) as app:
        yield app


async def host_page(app: Starlette, factory: Factory, prefix: str = "ada") -> tuple[Person, str]:
    """A host and a Monday 08:00-18:00 page of 30-minute slots. Its slug comes from
    `prefix`: the per-process read counts of a slug outlive the test that read it."""
    ada = await factory.person(url_prefix=prefix, name="Ada")
    async with client_at(app, "127.0.0.1") as gql:
        slug = await make_page(
            gql, ada, weeklyHours=[{"weekday": "MONDAY", "start": "08:00", "end": "18:00"}]
        )
    return ada, slug


def slot(n: int) -> dt.datetime:
    return dt.datetime.combine(next_monday(), dt.time(8), dt.UTC) + dt.timedelta(minutes=30 * n)


async def book_from(
    app: Starlette, address: str, slug: str, n: int, email: str, **extra: Any
) -> dict[str, Any]:
    async with client_at(app, address) as gql:
        result = await gql(BOOK, booking(slug, slot(n), email, **extra))
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["bookMeeting"]
    return payload


def rate_limited(payload: dict[str, Any], message: str, field: str | None = None) -> None:
    """The whole RateLimited answer, whatever the seconds left (within the window)."""
    seconds = payload.get("retryAfterSeconds")
    assert isinstance(seconds, int)
    assert seconds >= 1
    assert payload == {
        "__typename": "RateLimited",
        "code": "RATE_LIMITED",
        "field": field,
        "message": f"{message}; retry in {seconds} seconds.",
        "retryAfterSeconds": seconds,
    }


async def count_bookings(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return (await session.execute(select(func.count()).select_from(Booking))).scalar_one()


async def test_anonymous_writes_are_limited_per_client_address_and_others_are_not(
    app: Starlette, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, slug = await host_page(app, factory)
    answers = [
        await book_from(app, "192.0.2.1", slug, n, f"c{n}@example.test") for n in range(WRITES + 1)
    ]
    assert [a["__typename"] for a in answers[:WRITES]] == ["BookMeetingSuccess"] * WRITES
    rate_limited(answers[WRITES], "Too many requests from your address")
    assert answers[WRITES]["retryAfterSeconds"] <= 600

    # Every anonymous write shares the address's count: a prefill look-up (a query) is
    # answered with a GraphQL error carrying the code and the seconds.
    async with client_at(app, "192.0.2.1") as gql:
        refused = await gql(PREFILL)
    seconds = refused["errors"][0]["extensions"]["retryAfterSeconds"]
    assert refused["data"] is None
    assert [(e["message"], e["path"], e["extensions"]) for e in refused["errors"]] == [
        (
            f"Too many requests from your address; retry in {seconds} seconds.",
            ["bookingFormPrefill"],
            {"code": "RATE_LIMITED", "retryAfterSeconds": seconds},
        )
    ]

    other = await book_from(app, "192.0.2.2", slug, 9, "other@example.test")
    assert other["__typename"] == "BookMeetingSuccess"
    assert await count_bookings(sessionmaker) == WRITES + 1


MANAGED = """
query { managedBooking(manageToken: "sgm_guess") {
  __typename ... on Error { message field code } ... on RateLimited { retryAfterSeconds } } }
"""
NOT_FOUND = {
    "__typename": "NotFound",
    "code": "NOT_FOUND",
    "field": "manageToken",
    "message": "No booking for this link; use the manage link from your booking confirmation, "
    "or contact the host.",
}


async def test_manage_token_look_ups_share_the_strict_write_limit(app: Starlette) -> None:
    async with client_at(app, "192.0.2.70") as gql:
        answers = [(await gql(MANAGED))["data"]["managedBooking"] for _ in range(WRITES + 1)]
    assert answers[:WRITES] == [NOT_FOUND] * WRITES
    rate_limited(answers[WRITES], "Too many requests from your address")
    async with client_at(app, "192.0.2.71") as gql:
        assert (await gql(MANAGED))["data"]["managedBooking"] == NOT_FOUND


async def test_a_token_is_not_limited_as_an_anonymous_caller(
    app: Starlette, factory: Factory
) -> None:
    ada, _ = await host_page(app, factory)
    async with client_at(app, "192.0.2.3") as gql:
        answers = [await gql(PREFILL, token=ada.token) for _ in range(WRITES + 2)]
    assert all("RATE_LIMITED" not in str(answer) for answer in answers), answers[-1]


async def test_anonymous_bookings_are_limited_per_page_across_addresses(
    app: Starlette, factory: Factory
) -> None:
    _, slug = await host_page(app, factory)
    _, other_slug = await host_page(app, factory, prefix="bea")
    answers = [
        await book_from(app, f"198.51.100.{n}", slug, n, f"c{n}@example.test")
        for n in range(PER_PAGE + 1)
    ]
    assert [a["__typename"] for a in answers[:PER_PAGE]] == ["BookMeetingSuccess"] * PER_PAGE
    rate_limited(answers[PER_PAGE], "This page is taking too many bookings right now")
    elsewhere = await book_from(app, "198.51.100.200", other_slug, 0, "x@example.test")
    assert elsewhere["__typename"] == "BookMeetingSuccess"


async def test_bookings_are_limited_per_contact_email_per_page_per_day(
    app: Starlette, factory: Factory
) -> None:
    ada, slug = await host_page(app, factory)
    async with client_at(app, "127.0.0.1") as gql:
        second = await make_page(
            gql,
            ada,
            title="Second",
            weeklyHours=[{"weekday": "MONDAY", "start": "08:00", "end": "18:00"}],
        )
    emails = ["same@example.test", "SAME@Example.TEST", "Same@example.test"]  # one address
    answers = [
        await book_from(app, f"203.0.113.{n}", slug, n, email) for n, email in enumerate(emails)
    ]
    assert [a["__typename"] for a in answers[:PER_EMAIL]] == ["BookMeetingSuccess"] * PER_EMAIL
    rate_limited(
        answers[PER_EMAIL],
        f"This email address booked this page {PER_EMAIL} times today",
        "contact.email",
    )
    assert answers[PER_EMAIL]["retryAfterSeconds"] <= 86_400
    other_page = await book_from(app, "203.0.113.50", second, 5, "same@example.test")
    assert other_page["__typename"] == "BookMeetingSuccess"
    other_email = await book_from(app, "203.0.113.51", slug, 7, "new@example.test")
    assert other_email["__typename"] == "BookMeetingSuccess"


def slots_of(slug: str) -> dict[str, Any]:
    start = dt.datetime.combine(next_monday(), dt.time(0), dt.UTC)
    return {
        "slug": slug,
        "start": start.isoformat(),
        "end": (start + dt.timedelta(days=1)).isoformat(),
        "tz": "UTC",
    }


async def test_anonymous_reads_are_limited_per_address_and_per_page(
    app: Starlette, factory: Factory
) -> None:
    _, slug = await host_page(app, factory, prefix="reads")
    async with client_at(app, "192.0.2.10") as gql:
        reads = [await gql(SLOTS, slots_of(slug)) for _ in range(READS + 1)]
    assert [r["data"]["availableSlots"]["__typename"] for r in reads[:READS]] == [
        "AvailableSlots"
    ] * READS
    refused = reads[READS]
    seconds = refused["errors"][0]["extensions"]["retryAfterSeconds"]
    assert 1 <= seconds <= 60
    assert refused["errors"][0]["extensions"] == {
        "code": "RATE_LIMITED",
        "retryAfterSeconds": seconds,
    }
    assert refused["errors"][0]["message"] == (
        f"Too many requests from your address; retry in {seconds} seconds."
    )

    # The page's own count: READS + 1 asked already; other addresses fill it up.
    others = []
    for n in range(READS_PER_PAGE - READS + 1):
        async with client_at(app, f"192.0.2.{20 + n}") as gql:
            others.append(await gql(SLOTS, slots_of(slug)))
    assert "errors" not in others[-2]
    assert others[-1]["errors"][0]["message"].startswith(
        "This page is asked for too often right now; retry in"
    )


async def test_forwarded_address_is_believed_only_from_a_trusted_proxy(
    app: Starlette, factory: Factory
) -> None:
    async def prefill(peer: str, forwarded: str) -> dict[str, Any]:
        async with client_at(app, peer, {"X-Forwarded-For": forwarded}) as gql:
            return await gql(PREFILL)

    # Through the trusted proxy, each forwarded client has its own count.
    first = [await prefill(PROXY, "198.51.100.77") for _ in range(WRITES + 1)]
    assert ["errors" in answer for answer in first] == [False] * WRITES + [True]
    assert "errors" not in await prefill(PROXY, "198.51.100.78")
    # A spoofed header from an untrusted peer changes nothing: the peer is counted.
    spoofed = [await prefill("192.0.2.99", f"198.51.100.{n}") for n in range(WRITES + 1)]
    assert ["errors" in answer for answer in spoofed] == [False] * WRITES + [True]


async def challenge(app: Starlette, slug: str) -> Any:
    """What the public page tells a booking page about its bot check."""
    async with client_at(app, "192.0.2.60") as gql:
        result = await gql(
            "query($s: String!) { schedulingPage(slug: $s) { "
            "... on PublicSchedulingPage { botCheck { verifier siteKey } } } }",
            {"s": slug},
        )
    return result["data"]["schedulingPage"]["botCheck"]


async def test_bot_check_required_by_the_host_is_verified_server_side(
    app: Starlette, factory: Factory, verifier: FakeVerifier
) -> None:
    ada, slug = await host_page(app, factory, prefix="cleo")
    async with client_at(app, "127.0.0.1") as gql:
        turned_on = await gql(
            "mutation { updateCalendarSettings(input: {botCheckRequired: true}) { __typename "
            "... on UpdateCalendarSettingsSuccess { settings { botCheckRequired } } } }",
            token=ada.token,
        )
    assert turned_on["data"]["updateCalendarSettings"] == {
        "__typename": "UpdateCalendarSettingsSuccess",
        "settings": {"botCheckRequired": True},
    }

    assert await challenge(app, slug) == {"verifier": "TURNSTILE", "siteKey": SITE_KEY}

    missing = await book_from(app, "192.0.2.40", slug, 0, "a@example.test")
    assert missing == {
        "__typename": "BotCheckFailed",
        "code": "BOT_CHECK_FAILED",
        "field": "botCheckToken",
        "message": "This page asks for a bot check: complete the challenge on the booking "
        "page and send its token as botCheckToken.",
    }
    token = verifier.issue()
    passed = await book_from(app, "192.0.2.41", slug, 1, "b@example.test", botCheckToken=token)
    assert passed["__typename"] == "BookMeetingSuccess"
    assert verifier.calls[-1] == {"secret": SECRET, "response": token, "remoteip": "192.0.2.41"}

    reused = await book_from(app, "192.0.2.42", slug, 2, "c@example.test", botCheckToken=token)
    assert (reused["__typename"], reused["field"]) == ("BotCheckFailed", "botCheckToken")
    assert "already used" in reused["message"]

    verifier.down = True
    try:
        down = await book_from(
            app, "192.0.2.43", slug, 3, "d@example.test", botCheckToken=verifier.issue()
        )
    finally:
        verifier.down = False
    assert down == {
        "__typename": "BotCheckUnavailable",
        "code": "BOT_CHECK_UNAVAILABLE",
        "field": None,
        "message": "The bot check could not be verified right now; retry in a moment.",
        "retryable": True,
    }
    # Pages of hosts who did not ask for it take bookings without a token.
    _, plain = await host_page(app, factory, prefix="dora")
    assert await challenge(app, plain) is None
    calls = len(verifier.calls)
    assert (await book_from(app, "192.0.2.44", plain, 0, "e@example.test"))["__typename"] == (
        "BookMeetingSuccess"
    )
    assert len(verifier.calls) == calls


async def test_bot_check_cannot_be_required_without_a_configured_verifier(
    database_url: str, factory: Factory
) -> None:
    ada = await factory.person(name="Ada")
    async with (
        running(limited_settings(database_url)) as plain,
        client_at(plain, "127.0.0.1") as gql,
    ):
        result = await gql(
            "mutation { updateCalendarSettings(input: {botCheckRequired: true}) { __typename "
            "... on Error { field code } } }",
            token=ada.token,
        )
    assert result["data"]["updateCalendarSettings"] == {
        "__typename": "ValidationError",
        "field": "botCheckRequired",
        "code": "VALIDATION",
    }


async def test_failed_bookings_use_up_neither_the_page_nor_the_email(
    app: Starlette, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, slug = await host_page(app, factory, prefix="fay")
    victim = "victim@example.test"
    assert (await book_from(app, "192.0.2.150", slug, 0, victim))["__typename"] == (
        "BookMeetingSuccess"
    )
    # Attempts that fail, from many addresses, more than the page and the email allow: the
    # slot just taken, and a time outside the page's hours (slot 40 is Tuesday 04:00).
    failing = [
        await book_from(app, f"192.0.2.{160 + n}", slug, 0 if n % 2 else 40, victim)
        for n in range(PER_PAGE + PER_EMAIL)
    ]
    assert [a["__typename"] for a in failing] == ["SlotUnavailable"] * (PER_PAGE + PER_EMAIL)
    # The contact's second booking and the page's others still go through, up to the limits.
    again = await book_from(app, "192.0.2.190", slug, 1, victim)
    assert again["__typename"] == "BookMeetingSuccess"
    rate_limited(
        await book_from(app, "192.0.2.191", slug, 2, victim),
        f"This email address booked this page {PER_EMAIL} times today",
        "contact.email",
    )
    others = [
        await book_from(app, f"192.0.2.{200 + n}", slug, 3 + n, f"o{n}@example.test")
        for n in range(PER_PAGE - PER_EMAIL + 1)
    ]
    assert [a["__typename"] for a in others[:-1]] == ["BookMeetingSuccess"] * (PER_PAGE - PER_EMAIL)
    rate_limited(others[-1], "This page is taking too many bookings right now")
    assert await count_bookings(sessionmaker) == PER_PAGE
