"""The contact pages in a real Chromium against `slotgraph serve`, with JavaScript on: booked
by clicking (duration, day, slot, form) and by keyboard alone, moved and cancelled through the
manage page, served on a custom domain (Chromium's resolver maps it to loopback) while the
app domain redirects there, a page turned off, usable 360 px wide, and the embed inside an
iframe on an allowed origin (and refused on another). One browser and one server for the
module; each test its own context."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import AsyncIterator
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page
from playwright.async_api import Route
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.models import ConnectedDomain
from tests.helpers.accounts import PROVEN
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.bookings import book_with_token
from tests.helpers.browser import chromium
from tests.helpers.graphql import GraphQLClient
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday
from tests.helpers.serving import serve
from tests.helpers.web import set_calendar_settings

CUSTOM = "meet.ada.test"
ALLOWED_PARENT = f"https://{CUSTOM}"  # a connected domain of Ada's account
OTHER_PARENT = "https://elsewhere.test"
BOOKINGS = """
query { viewer { bookings(first: 10) { edges { node {
  status startsAt endsAt contact { name email } answers { question answer } } } } } }
"""
CONSENT = {"key": "consent", "label": "I agree", "kind": "CHECKBOX", "required": True}


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(database_url, tmp_path_factory.mktemp("pages"), workers=1) as base:
        yield base


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium(f"--host-resolver-rules=MAP {CUSTOM} 127.0.0.1") as browser:
        yield browser


async def bookings(gql: GraphQLClient, host: Person) -> list[dict[str, Any]]:
    result = await gql(BOOKINGS, token=host.token)
    return [edge["node"] for edge in result["data"]["viewer"]["bookings"]["edges"]]


async def host_page(gql: GraphQLClient, factory: Factory, **fields: Any) -> tuple[Person, str]:
    ada = await factory.person(name="Ada Host", url_prefix="ada")
    hours = [{"weekday": "MONDAY", "start": "09:00", "end": "12:00"}]
    return ada, await make_page(gql, ada, title="Intro", weeklyHours=hours, **fields)


def slot_name(hour: int) -> re.Pattern[str]:
    return re.compile(rf"^{hour}:00\W+AM$")


async def focused(page: Page) -> str:
    """What the focused element says (its accessible text, roughly)."""
    text: str = await page.evaluate(
        "() => { const e = document.activeElement;"
        " return (e.getAttribute('aria-label') || e.innerText || e.value || e.id || '').trim() }"
    )
    return text


async def test_a_contact_books_by_clicking_with_javascript_on(
    browser: Browser, server: str, gql: GraphQLClient, factory: Factory
) -> None:
    ada, slug = await host_page(gql, factory)
    monday = next_monday()
    context = await browser.new_context(locale="en-US", timezone_id="UTC")
    page = await context.new_page()
    await page.goto(f"{server}/meetings/{slug}?month={monday:%Y-%m}")
    assert "the host will confirm it" in await page.inner_text("main")  # offline (S7)
    await page.evaluate("window.sameDocument = true")  # gone if a step reloads the page
    await page.get_by_label("Duration").select_option("60")
    await page.get_by_role("button", name="Show times").click()
    await page.wait_for_url(re.compile("duration=60"))
    await page.get_by_role("link", name=re.compile(rf"\b{monday.day}\b")).first.click()
    await page.wait_for_url(re.compile("date="))
    assert await focused(page) == await page.inner_text("#day-heading")  # the next step
    await page.get_by_role("link", name=slot_name(10)).click()
    await page.wait_for_url(re.compile("start="))
    assert await focused(page) == "Your details"
    assert await page.evaluate("window.sameDocument === true")  # the steps swapped <main>
    await page.get_by_label("Name").fill("Cy Contact")
    await page.get_by_label("Email").fill("cy@example.test")
    await page.get_by_role("button", name="Request this time").click()
    await page.get_by_role("heading", name="Request sent").wait_for()
    assert await focused(page) == "Request sent"
    assert await page.get_by_role("link", name="Add to calendar (.ics)").count() == 1
    await context.close()
    (booking,) = await bookings(gql, ada)
    ten = dt.datetime.combine(monday, dt.time(10), dt.UTC)
    assert dt.datetime.fromisoformat(booking["startsAt"]) == ten
    assert dt.datetime.fromisoformat(booking["endsAt"]) == ten + dt.timedelta(hours=1)
    assert booking["contact"] == {"name": "Cy Contact", "email": "cy@example.test"}
    assert booking["status"] == "REQUESTED"


async def press_until(page: Page, wanted: str | re.Pattern[str], limit: int = 80) -> None:
    """Tab until the focused element says `wanted` (as a keyboard user would)."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        text = await focused(page)
        if (wanted.search(text) if isinstance(wanted, re.Pattern) else text == wanted) is not None:
            if isinstance(wanted, str) and text != wanted:
                continue
            return
    raise AssertionError(f"no focusable {wanted!r} within {limit} tabs")


async def test_a_contact_books_with_the_keyboard_alone(
    browser: Browser, server: str, gql: GraphQLClient, factory: Factory
) -> None:
    ada, slug = await host_page(gql, factory, formFields=[CONSENT])
    monday = next_monday()
    context = await browser.new_context(locale="en-US", timezone_id="UTC")
    page = await context.new_page()
    await page.goto(f"{server}/meetings/{slug}?month={monday:%Y-%m}&duration=30")
    day = await page.get_by_role("link", name=re.compile(rf"\b{monday.day}\b")).first.get_attribute(
        "aria-label"
    )
    assert day
    await press_until(page, day)
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile("date="))
    await press_until(page, re.compile(r"^9:30\W+AM$"))
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile("start="))
    await press_until(page, "name")
    await page.keyboard.type("Kay Board")
    await page.keyboard.press("Tab")
    await page.keyboard.type("kay@example.test")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Space")  # the required checkbox
    assert await page.get_by_label("I agree").is_checked()
    await press_until(page, "Request this time")
    await page.keyboard.press("Enter")
    await page.get_by_role("heading", name="Request sent").wait_for()
    await context.close()
    (booking,) = await bookings(gql, ada)
    assert booking["contact"]["name"] == "Kay Board"
    assert booking["answers"] == [{"question": "consent", "answer": "true"}]
    nine_thirty = dt.datetime.combine(monday, dt.time(9, 30), dt.UTC)
    assert dt.datetime.fromisoformat(booking["startsAt"]) == nine_thirty


async def test_a_contact_moves_then_cancels_through_the_manage_page(
    browser: Browser, server: str, gql: GraphQLClient, factory: Factory
) -> None:
    ada, slug = await host_page(gql, factory)
    nine = dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)
    token = (await book_with_token(gql, slug, nine, duration=30))["manageToken"]
    context = await browser.new_context(locale="en-US", timezone_id="UTC")
    page = await context.new_page()
    query = urlencode({"token": token, "tz": "UTC", "month": f"{nine:%Y-%m}"})
    await page.goto(f"{server}/meetings/manage?{query}")
    await page.get_by_role("link", name=re.compile(rf"\b{nine.day}\b")).first.click()
    await page.get_by_role("link", name=slot_name(11)).click()
    await page.wait_for_url(re.compile("start="))
    assert await focused(page) == "Move to this time?"
    await page.get_by_role("button", name="Move to this time").click()
    await page.get_by_text("Your meeting was moved.").wait_for()
    (moved,) = await bookings(gql, ada)
    assert dt.datetime.fromisoformat(moved["startsAt"]) == nine + dt.timedelta(hours=2)
    await page.get_by_role("button", name="Cancel this meeting").click()
    await page.get_by_text("This meeting is cancelled.").wait_for()
    await context.close()
    (cancelled,) = await bookings(gql, ada)
    assert cancelled["status"] == "CANCELLED"


async def test_a_custom_domain_serves_the_page_and_the_app_domain_redirects_there(
    browser: Browser,
    server: str,
    gql: GraphQLClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ada, slug = await host_page(gql, factory)
    domain = ConnectedDomain(verified_at=PROVEN, account_id=ada.account.id, domain=CUSTOM)
    await factory.add(domain)
    await set_calendar_settings(sessionmaker, ada, meeting_domain_id=domain.id)
    port = urlsplit(server).port
    context = await browser.new_context(locale="en-US", timezone_id="UTC")
    page = await context.new_page()
    served = await page.goto(f"http://{CUSTOM}:{port}/meetings/{slug}")
    assert served is not None
    assert served.status == 200
    await page.get_by_role("heading", name="Intro").wait_for()

    # The app domain sends the browser to the canonical https URL. Nothing serves TLS for the
    # domain here (and Playwright's routes never see a redirect's target), so the browser's
    # own requests are what is checked.
    seen: list[tuple[str, int]] = []
    page.on("response", lambda response: seen.append((response.url, response.status)))
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    with contextlib.suppress(PlaywrightError):
        await page.goto(f"{server}/meetings/{slug}?lang=en")
    assert (f"{server}/meetings/{slug}?lang=en", 307) in seen  # temporary (C36)
    assert f"https://{CUSTOM}/meetings/{slug}?lang=en" in asked
    await context.close()


async def test_a_page_turned_off_says_so(
    browser: Browser,
    server: str,
    gql: GraphQLClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ada, slug = await host_page(gql, factory)
    await set_calendar_settings(sessionmaker, ada, pages_enabled=False)
    context = await browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo")
    page = await context.new_page()
    answer = await page.goto(f"{server}/meetings/{slug}")
    assert answer is not None
    assert answer.status == 403
    assert await page.get_attribute("html", "lang") == "ja"
    assert await page.get_by_role("heading").count() == 1
    assert "予約" in await page.inner_text("h1")
    await context.close()


@pytest.mark.parametrize("locale", ["en-US", "ja-JP"])
async def test_every_step_fits_a_360_pixel_wide_screen(
    browser: Browser, server: str, gql: GraphQLClient, factory: Factory, locale: str
) -> None:
    ada, slug = await host_page(gql, factory, formFields=[CONSENT])
    nine = dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)
    consent = [{"question": "consent", "answer": "true"}]
    token = (await book_with_token(gql, slug, nine, answers=consent))["manageToken"]
    context = await browser.new_context(
        locale=locale, timezone_id="UTC", viewport={"width": 360, "height": 740}
    )
    page = await context.new_page()
    ten = urlencode({"start": (nine + dt.timedelta(hours=1)).isoformat(), "tz": "UTC"})
    for path in (
        f"/meetings/{slug}?month={nine:%Y-%m}&tz=UTC",
        f"/meetings/{slug}?month={nine:%Y-%m}&{ten}",
        f"/meetings/manage?token={token}&tz=UTC&date={nine.date()}",
    ):
        await page.goto(server + path)
        widths = await page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], (path, widths)
    await context.close()
    assert ada


EMBEDDER = """<!doctype html><html><head><title>Our site</title></head><body>
<h1>Book with us</h1>
<iframe data-slotgraph-embed src="{src}" title="Booking" style="width:100%;border:0"></iframe>
<script src="{script}" async></script>
</body></html>"""


async def test_the_embed_shows_and_books_on_an_allowed_origin_and_is_refused_elsewhere(
    browser: Browser, server: str, gql: GraphQLClient, factory: Factory
) -> None:
    ada, slug = await host_page(gql, factory)
    await factory.add(ConnectedDomain(verified_at=PROVEN, account_id=ada.account.id, domain=CUSTOM))
    nine = dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)
    src = f"{server}/meetings/embed/{slug}?month={nine:%Y-%m}&tz=UTC&lang=en"
    body = EMBEDDER.format(src=src, script=f"{server}/meetings/static/embed.js")

    async def embedder(route: Route) -> None:  # the embedding site, served by the test
        await route.fulfill(status=200, content_type="text/html", body=body)

    context = await browser.new_context(locale="en-US", timezone_id="UTC")
    # Here the app is on loopback and the embedding sites are not: Chromium asks the user
    # before a public site reaches the local network (Local Network Access); grant it, as in
    # production no such prompt arises. frame-ancestors is enforced either way.
    await context.grant_permissions(["local-network-access"])
    await context.route(f"{ALLOWED_PARENT}/**", embedder)
    await context.route(f"{OTHER_PARENT}/**", embedder)
    page = await context.new_page()
    await page.goto(f"{ALLOWED_PARENT}/book.html")
    frame = page.frame_locator("iframe[data-slotgraph-embed]")
    await frame.get_by_role("heading", name="Intro").wait_for()
    await page.wait_for_function(
        "() => parseInt(document.querySelector('iframe').style.height || '0') > 300"
    )  # sized by embed.js from the page's height message
    await frame.get_by_role("link", name=re.compile(rf"\b{nine.day}\b")).first.click()
    await frame.get_by_role("link", name=slot_name(9)).click()
    await frame.get_by_label("Name").fill("Em Bed")
    await frame.get_by_label("Email").fill("em@example.test")
    await frame.get_by_role("button", name="Request this time").click()
    await frame.get_by_role("heading", name="Request sent").wait_for()
    (booking,) = await bookings(gql, ada)
    assert booking["contact"]["name"] == "Em Bed"

    refused = await context.new_page()
    messages: list[str] = []
    refused.on("console", lambda message: messages.append(message.text))
    await refused.goto(f"{OTHER_PARENT}/book.html")
    await refused.wait_for_function(
        "() => document.querySelector('iframe') !== null", timeout=5_000
    )
    blocked = refused.frame_locator("iframe[data-slotgraph-embed]")
    for _ in range(50):
        if any("frame-ancestors" in text for text in messages):
            break
        await refused.wait_for_timeout(100)
    assert any("frame-ancestors" in text for text in messages), messages
    assert await blocked.get_by_role("heading", name="Intro").count() == 0
    await context.close()
