"""The contact pages stay small and readable: each page with its stylesheet and scripts is at
most 60 KB uncompressed (the issue's budget: no framework, no build step), and the colours
the stylesheet pairs meet WCAG AA contrast (4.5:1 for text)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import httpx

import slotgraph.web
from tests.helpers.accounts import Factory
from tests.helpers.bookings import book_with_token
from tests.helpers.bookings import page_and_nine
from tests.helpers.graphql import GraphQLClient
from tests.helpers.web import browse

BUDGET = 60 * 1024
CSS = (Path(slotgraph.web.__file__).parent / "static" / "pages.css").read_text()


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.urls.append(values["src"] or "")
        if tag == "link" and values.get("rel") == "stylesheet":
            self.urls.append(values.get("href") or "")


async def weight(client: httpx.AsyncClient, path: str) -> int:
    page = await browse(client, path)
    assert page.status_code == 200, path
    assets = _Assets()
    assets.feed(page.text)
    assert assets.urls, "the page links its stylesheet and script"
    total = len(page.content)
    for url in assets.urls:
        assert url.startswith("/meetings/static/"), url  # every asset our own
        total += len((await browse(client, url)).content)
    return total


async def test_each_page_with_its_css_and_js_is_at_most_60_kb(
    client: httpx.AsyncClient, gql: GraphQLClient, factory: Factory
) -> None:
    _, slug, nine = await page_and_nine(gql, factory)
    token = (await book_with_token(gql, slug, nine))["manageToken"]
    month = f"{nine:%Y-%m}"
    paths = [
        f"/meetings/{slug}?month={month}",
        f"/meetings/{slug}?" + urlencode({"month": month, "start": nine.isoformat()}),
        f"/meetings/embed/{slug}?month={month}",
        "/meetings/manage?" + urlencode({"token": token, "date": nine.date().isoformat()}),
    ]
    for path in paths:
        size = await weight(client, path)
        assert size <= BUDGET, (path, size)
    assert await weight(client, paths[1]) > 10_000  # the measure counts the assets


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    high, low = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_text_colours_meet_wcag_aa_contrast() -> None:
    variables = dict(re.findall(r"--([a-z]+):\s*(#[0-9a-fA-F]{6})", CSS))
    closed = re.search(r"td\.closed \{ color: (#[0-9a-fA-F]{6})", CSS)
    error = re.search(r"\.error, \.errors \{ color: (#[0-9a-fA-F]{6})", CSS)
    assert closed
    assert error
    white, tint = "#ffffff", "#eef3fd"  # the page, and the notices' and open days' tint
    pairs = {
        "text": (variables["ink"], white),
        "muted text": (variables["muted"], white),
        "links": (variables["accent"], white),
        "links on the tint": (variables["accent"], tint),
        "buttons and chosen slots": (white, variables["accent"]),
        "days without slots": (closed.group(1), white),
        "errors": (error.group(1), white),
    }
    for name, (foreground, background) in pairs.items():
        assert contrast(foreground, background) >= 4.5, name
    assert contrast("#767676", white) > 4.5 > contrast("#8a929c", white)  # the measure works
