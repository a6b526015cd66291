"""The booking page under the limits on public operations (C25, C33, C34), on an app with low
limits and a fake bot-check verifier: past a limit the contact gets a translated 429 page
with `Retry-After` (never a 500); a host's bot check puts the verifier's widget on the page,
admits its origin in the CSP, says without JavaScript that booking needs it, and the widget's
token books."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from collections.abc import Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.applications import Starlette

from tests.fakes.botcheck import SITE_KEY
from tests.fakes.botcheck import FakeVerifier
from tests.helpers.accounts import Factory
from tests.helpers.bookings import book_with_token
from tests.helpers.bookings import host_bookings
from tests.helpers.limits import bot_check_settings
from tests.helpers.limits import client_at
from tests.helpers.limits import limited_settings
from tests.helpers.limits import running
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday
from tests.helpers.web import APP_HOST
from tests.helpers.web import browse
from tests.helpers.web import post_form

READS = 12  # a page view reads twice (the page, its slots)
WRITES = 3  # per address; a manage page view is one (its token is a secret, C33)


@pytest.fixture(scope="module")
def verifier() -> Iterator[FakeVerifier]:
    with FakeVerifier() as fake:
        yield fake


@pytest.fixture(scope="module")
async def app(database_url: str, engine: Any, verifier: FakeVerifier) -> AsyncIterator[Starlette]:
    settings = limited_settings(
        database_url,
        public_reads_per_address=READS,
        public_writes_per_address=WRITES,
        **bot_check_settings(verifier.verify_url),
    )
    async with running(settings) as app:
        yield app


@asynccontextmanager
async def browser_at(app: Starlette, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40_000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def test_past_the_read_limit_the_page_is_a_translated_429_with_retry_after(
    app: Starlette, factory: Factory
) -> None:
    ada = await factory.person(name="Ada", url_prefix="ada-limited")
    async with client_at(app, "127.0.0.1") as gql:
        slug = await make_page(gql, ada)
    async with browser_at(app, "127.0.0.9") as http:
        answers = [
            await browse(http, f"/meetings/{slug}", headers={"Accept-Language": "ja"})
            for _ in range(READS)
        ]
    assert {answer.status_code for answer in answers[:1]} == {200}
    limited = answers[-1]
    assert limited.status_code == 429, [a.status_code for a in answers]
    assert int(limited.headers["retry-after"]) > 0
    assert '<html lang="ja">' in limited.text
    assert "リクエストが多すぎます" in limited.text
    assert limited.headers["cache-control"] == "private, no-store"


async def test_a_hosts_bot_check_is_on_the_page_and_its_token_books(
    app: Starlette, factory: Factory, verifier: FakeVerifier
) -> None:
    ada = await factory.person(name="Ada", url_prefix="ada-bots")
    async with client_at(app, "127.0.0.1") as gql:
        slug = await make_page(
            gql, ada, weeklyHours=[{"weekday": "MONDAY", "start": "09:00", "end": "12:00"}]
        )
        turned_on = await gql(
            "mutation { updateCalendarSettings(input: {botCheckRequired: true}) { __typename } }",
            token=ada.token,
        )
        assert turned_on["data"]["updateCalendarSettings"]["__typename"].endswith("Success")
    nine = dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)
    query = urlencode({"month": f"{nine:%Y-%m}", "start": nine.isoformat(), "lang": "en"})
    async with browser_at(app, "127.0.0.20") as http:
        page = await browse(http, f"/meetings/{slug}?{query}")
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "script-src 'nonce-" in policy
        assert "https://challenges.cloudflare.com" in policy
        assert f'data-sitekey="{SITE_KEY}"' in page.text
        assert "<noscript>" in page.text
        assert "Booking on this page needs JavaScript" in page.text
        sent = {**post_form(page.text).fields, "name": "Cy", "email": "cy@example.test"}
        refused = await http.post(f"/meetings/{slug}", data=sent, headers={"Host": APP_HOST})
        assert refused.status_code == 422
        assert "bot check" in refused.text
        booked = await http.post(
            f"/meetings/{slug}",
            data={**sent, "cf-turnstile-response": verifier.issue()},
            headers={"Host": APP_HOST},
        )
        assert booked.status_code == 303
        async with client_at(app, "127.0.0.1") as gql:
            (booking,) = await host_bookings(gql, ada)
        assert booking["status"] == "REQUESTED"
    bob = await factory.person(name="Bob", url_prefix="bob-bots")
    async with client_at(app, "127.0.0.1") as gql:
        other = await make_page(gql, bob)
    async with browser_at(app, "127.0.0.21") as http:
        plain = await browse(http, f"/meetings/{other}")
    assert plain.status_code == 200
    assert "challenges.cloudflare.com" not in plain.headers["content-security-policy"]
    assert "<noscript>" not in plain.text


async def test_past_the_write_limit_the_manage_page_is_a_429_too(
    app: Starlette, factory: Factory
) -> None:
    ada = await factory.person(name="Ada", url_prefix="ada-manage")
    async with client_at(app, "127.0.0.1") as gql:
        slug = await make_page(gql, ada)
        nine = dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)
        token = (await book_with_token(gql, slug, nine))["manageToken"]
    async with browser_at(app, "127.0.0.30") as http:
        answers = [
            await browse(http, f"/meetings/manage?token={token}&lang=en") for _ in range(WRITES + 1)
        ]
    assert [answer.status_code for answer in answers] == [200] * WRITES + [429]
    assert int(answers[-1].headers["retry-after"]) > 0
    assert "Too many requests" in answers[-1].text
