"""Where a page may show beyond its own tab: the embed at `/meetings/embed/<slug>` framed only
by the app and the account's connected domains (frame-ancestors), every other page framed by
no one; `noindex` where the domain keeps meeting pages out of search engines (S15); pages
never cached (`private, no-store`); the S18 chat link pointing at a page that answers."""

from __future__ import annotations

from urllib.parse import urlencode
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.graph.relay import from_global_id
from slotgraph.models import ConnectedDomain
from tests.helpers.accounts import PROVEN
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.bookings import book_with_token
from tests.helpers.bookings import host_bookings
from tests.helpers.bookings import page_and_nine
from tests.helpers.graphql import PUBLIC_BASE_URL
from tests.helpers.graphql import GraphQLClient
from tests.helpers.pages import make_page
from tests.helpers.web import APP_HOST
from tests.helpers.web import browse
from tests.helpers.web import post_form
from tests.helpers.web import set_calendar_settings

CHAT_LINK = "{ viewer { calendarSettings { chatLinkUrl } } }"
PAGE_ID = """
query { viewer { schedulingPages(first: 5) { edges { node { id slug url } } } } }
"""


def frame_ancestors(response: httpx.Response) -> list[str]:
    policy = response.headers["content-security-policy"]
    (directive,) = [p.strip() for p in policy.split(";") if "frame-ancestors" in p]
    return directive.split()[1:]


@pytest.fixture
async def ada(factory: Factory) -> Person:
    return await factory.person(name="Ada Host", url_prefix="ada")


async def test_the_embed_is_framed_only_by_the_app_and_the_accounts_domains(
    client: httpx.AsyncClient, gql: GraphQLClient, factory: Factory, ada: Person
) -> None:
    other = await factory.person(name="Other", url_prefix="other")
    await factory.add(
        ConnectedDomain(verified_at=PROVEN, account_id=ada.account.id, domain="Meet.Ada.test"),
        ConnectedDomain(account_id=ada.account.id, domain="pending.ada.test"),  # unproven
        ConnectedDomain(verified_at=PROVEN, account_id=other.account.id, domain="other.test"),
    )
    slug = await make_page(gql, ada)
    embed = await browse(client, f"/meetings/embed/{slug}?lang=en")
    assert embed.status_code == 200
    assert frame_ancestors(embed) == [PUBLIC_BASE_URL, "https://meet.ada.test"]
    assert 'data-embed="on"' in embed.text
    assert embed.headers["x-robots-tag"].startswith("noindex")  # the page itself is indexed
    page = await browse(client, f"/meetings/{slug}")
    assert frame_ancestors(page) == ["'none'"]  # only the embed may be framed
    assert "data-embed" not in page.text
    assert "x-robots-tag" not in page.headers  # the app domain lets pages be indexed
    unknown = await browse(client, "/meetings/embed/nobody/nothing")
    assert unknown.status_code == 404
    assert frame_ancestors(unknown) == ["'none'"]
    script = await browse(client, "/meetings/static/embed.js")
    assert script.status_code == 200
    assert "slotgraph:height" in script.text


async def test_an_embed_books_without_cookies_but_only_from_its_own_origin(
    client: httpx.AsyncClient, gql: GraphQLClient, factory: Factory
) -> None:
    """In another site's iframe the browser withholds this site's cookies; the embed's form
    token needs none, and a post whose Origin is another site is refused."""
    ada, slug, nine = await page_and_nine(gql, factory, form_fields=[])
    query = urlencode({"month": f"{nine:%Y-%m}", "start": nine.isoformat(), "lang": "en"})
    shown = await browse(client, f"/meetings/embed/{slug}?{query}")
    form = post_form(shown.text)
    assert form.action == ""  # posts back to the embed
    sent = {**form.fields, "name": "Cy", "email": "cy@example.test"}
    client.cookies.clear()
    for origin in ("https://evil.test", None):
        headers = {"Host": APP_HOST, **({"Origin": origin} if origin else {})}
        refused = await client.post(f"/meetings/embed/{slug}", data=sent, headers=headers)
        assert refused.status_code == 403, origin
    assert await host_bookings(gql, ada) == []
    booked = await client.post(
        f"/meetings/embed/{slug}",
        data=sent,
        headers={"Host": APP_HOST, "Origin": f"http://{APP_HOST}"},
    )
    assert booked.status_code == 303
    assert booked.headers["location"].startswith(f"/meetings/embed/{slug}?")
    confirmation = await browse(client, booked.headers["location"])
    assert "Request sent" in confirmation.text
    assert 'target="_blank"' in confirmation.text  # the manage page opens outside the frame
    assert frame_ancestors(confirmation)[0] == PUBLIC_BASE_URL
    (booking,) = await host_bookings(gql, ada)
    assert booking["status"] == "REQUESTED"


async def test_an_embed_on_another_domain_redirects_to_the_canonical_embed(
    client: httpx.AsyncClient, gql: GraphQLClient, factory: Factory, ada: Person
) -> None:
    await factory.add(
        ConnectedDomain(verified_at=PROVEN, account_id=ada.account.id, domain="meet.ada.test")
    )
    slug = await make_page(gql, ada)
    moved = await browse(client, f"/meetings/embed/{slug}?lang=ja", host="meet.ada.test")
    assert moved.status_code == 307
    assert moved.headers["location"] == f"https://{APP_HOST}/meetings/embed/{slug}?lang=ja"


async def test_noindex_follows_the_domains_indexing_choice_and_nothing_is_cached(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    factory: Factory,
    ada: Person,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    hidden = ConnectedDomain(
        verified_at=PROVEN,
        account_id=ada.account.id,
        domain="hidden.ada.test",
        robots_disallow_meetings=True,
    )
    open_domain = ConnectedDomain(
        verified_at=PROVEN, account_id=ada.account.id, domain="open.ada.test"
    )
    await factory.add(hidden, open_domain)
    slug = await make_page(gql, ada)
    for domain, indexed in ((hidden, False), (open_domain, True)):
        host = domain.domain
        await set_calendar_settings(
            sessionmaker, ada, meeting_domain_id=domain.id
        )  # choosing one needs a calendar
        page = await browse(client, f"/meetings/{slug}", host=host)
        assert page.status_code == 200, host
        assert page.headers["cache-control"] == "private, no-store"
        assert ('<meta name="robots" content="noindex' in page.text) is not indexed, host
        assert ("x-robots-tag" in page.headers) is not indexed, host


async def test_the_chat_link_targets_the_chosen_page(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    ada: Person,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """S18: the chat widget's profile shows `chatLinkUrl`, the chosen page's booking page.
    (Saving the choice needs a connected calendar; it is written directly here.)"""
    await make_page(gql, ada, title="Chat intro")
    node = (await gql(PAGE_ID, token=ada.token))["data"]["viewer"]["schedulingPages"]["edges"][0][
        "node"
    ]
    decoded = from_global_id(node["id"])
    assert decoded is not None

    async def chat_link(enabled: bool) -> str | None:
        await set_calendar_settings(
            sessionmaker, ada, chat_link_enabled=enabled, chat_page_id=decoded[1]
        )
        shown = await gql(CHAT_LINK, token=ada.token)
        link: str | None = shown["data"]["viewer"]["calendarSettings"]["chatLinkUrl"]
        return link

    assert await chat_link(False) is None
    link = await chat_link(True)
    assert link == node["url"]
    assert link is not None
    parts = urlsplit(link)
    page = await browse(client, parts.path, host=parts.hostname or "")
    assert page.status_code == 200
    assert "Chat intro" in page.text


async def test_the_manage_page_and_its_download_are_never_indexed_or_framed(
    client: httpx.AsyncClient, gql: GraphQLClient, factory: Factory
) -> None:
    _, slug, nine = await page_and_nine(gql, factory, form_fields=[])
    token = (await book_with_token(gql, slug, nine))["manageToken"]
    manage = await browse(client, f"/meetings/manage?token={token}")
    assert manage.headers["x-robots-tag"].startswith("noindex")
    assert manage.headers["cache-control"] == "private, no-store"
    assert frame_ancestors(manage) == ["'none'"]
    download = await browse(client, f"/meetings/manage/invite.ics?token={token}")
    assert download.headers["cache-control"] == "private, no-store"
