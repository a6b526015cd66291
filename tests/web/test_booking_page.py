"""The booking page at a page's `url` (C18), driven as a browser without JavaScript would:
links and plain form posts, then a redirect to the confirmation. Everything goes through the
public API, so what it books is what the API then shows."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.models import CalendarConnection
from slotgraph.models import CalendarSettings
from slotgraph.models import ConnectedDomain
from slotgraph.models import User
from slotgraph.models.enums import ConnectionStatus
from tests.helpers.accounts import PROVEN
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.graphql import GraphQLClient
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday
from tests.helpers.web import APP_HOST
from tests.helpers.web import browse
from tests.helpers.web import follow
from tests.helpers.web import link_to
from tests.helpers.web import post_form
from tests.helpers.web import read

BOOKINGS = """
query { viewer { bookings(first: 10) { edges { node {
  status startsAt timeZone contact { name email } answers { question answer } } } } } }
"""

TOPIC = {"key": "topic", "label": "Topic", "kind": "SHORT_TEXT", "required": True}


@pytest.fixture
async def ada(factory: Factory) -> Person:
    return await factory.person(name="Ada Host", url_prefix="ada")


def day_query(slug: str, day: dt.date, **more: str) -> str:
    query = urlencode({"month": f"{day:%Y-%m}", "date": day.isoformat(), **more})
    return f"/meetings/{slug}?{query}"


async def test_a_contact_books_through_plain_forms_and_the_api_shows_the_booking(
    client: httpx.AsyncClient, gql: GraphQLClient, ada: Person
) -> None:
    slug = await make_page(
        gql, ada, title="Intro call", description="Let's talk.", formFields=[TOPIC]
    )
    monday = next_monday()
    page = await browse(client, f"/meetings/{slug}?month={monday:%Y-%m}&lang=en")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "Ada Host" in text
    assert "Intro call" in text
    assert "Let&#39;s talk." in text
    assert '<html lang="en">' in text
    assert "the host will confirm it" in text  # offline: no calendar connected (S7)
    # The day, then a slot, then the form: links only.
    day = await browse(client, follow(page.url.path, link_to(text, str(monday.day))))
    slot = await browse(client, follow(day.url.path, link_to(day.text, "9:00 AM")))
    form = post_form(slot.text)
    assert form.fields["start"] == dt.datetime.combine(monday, dt.time(9), dt.UTC).isoformat()
    assert "Topic" in slot.text
    assert "(required)" in slot.text

    sent = {**form.fields, "name": "Cy Contact", "email": "cy@example.test", "answer_topic": "x"}
    booked = await client.post(
        f"/meetings/{slug}", data=sent, headers={"Host": APP_HOST}, follow_redirects=False
    )
    assert booked.status_code == 303
    confirmation = await browse(client, booked.headers["location"])
    assert confirmation.status_code == 200
    assert "Request sent" in confirmation.text
    assert "The host will confirm this request" in confirmation.text
    assert confirmation.headers["referrer-policy"] == "no-referrer"  # a manage token (C41)
    manage = next(href for href, _ in read(confirmation.text).links if "/manage/" in href)
    assert manage.startswith("/meetings/manage/")

    listed = await gql(BOOKINGS, token=ada.token)
    (edge,) = listed["data"]["viewer"]["bookings"]["edges"]
    assert edge["node"]["status"] == "REQUESTED"
    assert edge["node"]["contact"] == {"name": "Cy Contact", "email": "cy@example.test"}
    assert edge["node"]["answers"] == [{"question": "topic", "answer": "x"}]


async def test_the_apis_typed_errors_show_next_to_their_fields(
    client: httpx.AsyncClient, gql: GraphQLClient, ada: Person
) -> None:
    slug = await make_page(gql, ada, formFields=[TOPIC])
    start = dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)
    page = await browse(client, day_query(slug, start.date(), start=start.isoformat()))
    sent = {**post_form(page.text).fields, "name": "Cy", "email": "not-an-email"}
    answer = await client.post(f"/meetings/{slug}", data=sent, headers={"Host": APP_HOST})
    assert answer.status_code == 422
    assert 'id="contact-email-error"' in answer.text
    assert 'id="answers-topic-error"' in answer.text
    assert 'value="Cy"' in answer.text  # what was typed stays


async def test_a_form_post_without_its_token_is_refused(
    client: httpx.AsyncClient, gql: GraphQLClient, ada: Person
) -> None:
    slug = await make_page(gql, ada)
    start = dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)
    page = await browse(client, day_query(slug, start.date(), start=start.isoformat()))
    fields = {**post_form(page.text).fields, "name": "Cy", "email": "cy@example.test"}
    for forged in (
        {**fields, "csrf_token": "forged"},
        {k: v for k, v in fields.items() if k != "csrf_token"},
    ):
        refused = await client.post(f"/meetings/{slug}", data=forged, headers={"Host": APP_HOST})
        assert refused.status_code == 403
    client.cookies.clear()  # a cross-site page cannot send the cookie's value in the form
    refused = await client.post(f"/meetings/{slug}", data=fields, headers={"Host": APP_HOST})
    assert refused.status_code == 403
    listed = await gql(BOOKINGS, token=ada.token)
    assert listed["data"]["viewer"]["bookings"]["edges"] == []


async def test_pages_send_a_strict_policy_and_are_never_cached_by_shared_caches(
    client: httpx.AsyncClient, gql: GraphQLClient, ada: Person
) -> None:
    slug = await make_page(gql, ada)
    page = await browse(client, f"/meetings/{slug}")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'nonce-" in policy
    assert "frame-ancestors" in policy
    assert page.headers["cache-control"] == "private, no-store"
    assert page.headers["referrer-policy"] != "no-referrer"
    css = await browse(client, "/meetings/static/pages.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "public" in css.headers["cache-control"]
    assert "http" not in page.text.split("<main")[0]  # no CDN, no third-party asset


async def test_language_is_explicit_choice_then_accept_language_then_the_hosts(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    ada: Person,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    slug = await make_page(gql, ada)
    monday = next_monday()
    japanese = {"Accept-Language": "ja-JP,ja;q=0.9,en;q=0.5"}
    page = await browse(client, f"/meetings/{slug}?month={monday:%Y-%m}", headers=japanese)
    assert '<html lang="ja">' in page.text
    assert "あなたのタイムゾーン" in page.text
    assert f"{monday.year}年{monday.month}月" in page.text  # Babel's month title
    async with sessionmaker.begin() as session:
        await session.execute(update(User).where(User.id == ada.user.id).values(locale="ja-JP"))
    hosts_language = await browse(client, f"/meetings/{slug}")  # no Accept-Language
    assert '<html lang="ja">' in hosts_language.text
    english = await browse(client, f"/meetings/{slug}?lang=en", headers=japanese)
    assert '<html lang="en">' in english.text
    assert "Your time zone" in english.text


async def test_slots_show_in_the_contacts_zone_with_the_hosts_stated(
    client: httpx.AsyncClient, gql: GraphQLClient, ada: Person
) -> None:
    slug = await make_page(gql, ada)  # UTC, from 9:00
    monday = next_monday()
    page = await browse(client, day_query(slug, monday, tz="Asia/Tokyo", lang="en"))
    assert "The host&#39;s time zone is UTC." in page.text
    assert '<option value="Asia/Tokyo" selected>' in page.text
    slot = link_to(page.text, "6:00 PM")  # 9:00 UTC is 18:00 in Tokyo
    start = parse_qs(urlsplit(slot).query)["start"][0]
    assert dt.datetime.fromisoformat(start) == dt.datetime.combine(monday, dt.time(9), dt.UTC)
    assert start.endswith("+09:00")  # C31


async def test_each_unbookable_page_has_its_own_status(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    factory: Factory,
    ada: Person,
    sessionmaker: object,
) -> None:
    unknown = await browse(client, "/meetings/nobody/nothing")
    assert unknown.status_code == 404
    assert "Page not found" in unknown.text
    reserved = await browse(client, "/meetings/manage/intro")
    assert reserved.status_code == 404
    slug = await make_page(gql, ada)
    async with sessionmaker.begin() as session:  # type: ignore[attr-defined]
        await session.execute(
            update(CalendarSettings)
            .where(CalendarSettings.user_id == ada.user.id)
            .values(pages_enabled=False)
        )
    off = await browse(client, f"/meetings/{slug}")
    assert off.status_code == 403
    assert "Not taking bookings" in off.text
    async with sessionmaker.begin() as session:  # type: ignore[attr-defined]
        await session.execute(
            update(CalendarSettings)
            .where(CalendarSettings.user_id == ada.user.id)
            .values(pages_enabled=True)
        )
    connection, _ = await factory.connection(ada)
    async with sessionmaker.begin() as session:  # type: ignore[attr-defined]
        await session.execute(
            update(CalendarConnection)
            .where(CalendarConnection.id == connection.id)
            .values(status=ConnectionStatus.ACCESS_LOST)
        )
    lost = await browse(client, f"/meetings/{slug}")
    assert lost.status_code == 503
    assert lost.headers["retry-after"].isdigit()


async def test_a_page_asked_for_on_another_domain_redirects_temporarily(
    client: httpx.AsyncClient, gql: GraphQLClient, factory: Factory, ada: Person
) -> None:
    await factory.add(
        ConnectedDomain(verified_at=PROVEN, account_id=ada.account.id, domain="meet.ada.test")
    )
    slug = await make_page(gql, ada)
    moved = await browse(client, f"/meetings/{slug}?lang=ja", host="meet.ada.test")
    assert moved.status_code == 307  # C36: never a 301
    assert moved.headers["location"] == f"https://{APP_HOST}/meetings/{slug}?lang=ja"
    foreign = await browse(client, f"/meetings/{slug}", host="elsewhere.test")
    assert foreign.status_code == 404
