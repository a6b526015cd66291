"""Reading the contact pages as a browser without JavaScript would: the links, the forms and
their fields (stdlib `html.parser`, so a test sees only what the HTML really says)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from dataclasses import field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.models import CalendarSettings
from tests.helpers.accounts import Person

APP_HOST = "app.slotgraph.test"


@dataclass
class Form:
    method: str
    action: str
    fields: dict[str, str] = field(default_factory=dict)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []  # (href, text)
        self.forms: list[Form] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "a":
            self._href, self._text = values.get("href", ""), []
        elif tag == "form":
            self.forms.append(Form(values.get("method", "get"), values.get("action", "")))
        elif tag == "input" and self.forms and values.get("type") == "hidden":
            self.forms[-1].fields[values["name"]] = values.get("value", "")

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append(
                (html.unescape(self._href), "".join(self._text).replace("\u202f", " ").strip())
            )
            self._href = None


def read(page: str) -> _Reader:
    reader = _Reader()
    reader.feed(page)
    return reader


def link_to(page: str, text: str) -> str:
    """The href of the first link whose text is `text`."""
    for href, shown in read(page).links:
        if shown == text:
            return href
    raise AssertionError(f"no link {text!r} among {[t for _, t in read(page).links]}")


def follow(path: str, href: str) -> str:
    """`href` as the browser resolves it on `path`."""
    return urljoin(f"https://{APP_HOST}{path}", href).removeprefix(f"https://{APP_HOST}")


def post_form(page: str) -> Form:
    return next(form for form in read(page).forms if form.method == "post")


async def browse(
    client: httpx.AsyncClient, url: str, *, host: str = APP_HOST, **kwargs: object
) -> httpx.Response:
    """GET `url` on `host`, as the address bar would."""
    headers = {"Host": host, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    return await client.get(url, headers=headers, **kwargs)  # type: ignore[arg-type]


async def set_calendar_settings(
    sessionmaker: async_sessionmaker[AsyncSession], person: Person, **values: Any
) -> None:
    """Write `person`'s calendar settings directly (e.g. a meeting domain, which the API
    saves only once a calendar is connected)."""
    async with sessionmaker.begin() as session:
        await session.execute(
            update(CalendarSettings)
            .where(CalendarSettings.user_id == person.user.id)
            .values(**values)
        )
