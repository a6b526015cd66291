"""What assistive technology needs from every contact page, read from the HTML itself: each
visible control has a label (a `<label for>`, `aria-label` or its own text), each error is
tied to its field (`aria-describedby`, `aria-invalid`), each page says its language and has
one `h1`; and a deactivated host's page is its own 503 with `Retry-After` (C47)."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.models import User
from tests.helpers.accounts import Factory
from tests.helpers.bookings import book_with_token
from tests.helpers.bookings import page_and_nine
from tests.helpers.graphql import GraphQLClient
from tests.helpers.web import APP_HOST
from tests.helpers.web import browse
from tests.helpers.web import post_form

FIELDS: list[dict[str, Any]] = [
    {"key": "topic", "label": "Topic", "kind": "SHORT_TEXT", "required": True},
    {"key": "notes", "label": "Notes", "kind": "LONG_TEXT"},
    {"key": "size", "label": "Team size", "kind": "SINGLE_CHOICE", "options": ["1", "2+"]},
    {"key": "phone", "label": "Phone", "kind": "PHONE"},
    {"key": "ok", "label": "I agree", "kind": "CHECKBOX", "required": True},
]


class _Controls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.labels: set[str] = set()
        self.controls: list[dict[str, str]] = []
        self.h1 = 0
        self._button: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "label" and values.get("for"):
            self.labels.add(values["for"])
        if tag == "h1":
            self.h1 += 1
        if tag in ("input", "select", "textarea") and values.get("type") != "hidden":
            self.controls.append({"tag": tag, **values})
        if tag == "button":
            self._button = {"tag": tag, **values, "text": ""}

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button["text"] += data.strip()

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None:
            self.controls.append(self._button)
            self._button = None


def unlabelled(page: str) -> list[dict[str, str]]:
    found = _Controls()
    found.feed(page)
    assert found.h1 == 1
    return [
        control
        for control in found.controls
        if not (
            control.get("id") in found.labels
            or control.get("aria-label")
            or control.get("aria-labelledby")
            or control.get("text")
        )
    ]


async def test_every_control_is_labelled_and_every_error_tied_to_its_field(
    client: httpx.AsyncClient, gql: GraphQLClient, factory: Factory
) -> None:
    _, slug, nine = await page_and_nine(gql, factory, form_fields=FIELDS)
    token = (
        await book_with_token(
            gql,
            slug,
            nine,
            answers=[{"question": "topic", "answer": "x"}, {"question": "ok", "answer": "true"}],
        )
    )["manageToken"]
    ten = (nine + dt.timedelta(hours=1)).isoformat()
    month = f"{nine:%Y-%m}"
    for path in (
        f"/meetings/{slug}?month={month}",
        f"/meetings/{slug}?" + urlencode({"month": month, "date": nine.date().isoformat()}),
        f"/meetings/{slug}?" + urlencode({"month": month, "start": ten, "lang": "ja"}),
        "/meetings/manage?" + urlencode({"token": token, "start": ten}),
        "/meetings/nobody/nothing",
    ):
        page = await browse(client, path)
        assert '<html lang="' in page.text
        assert unlabelled(page.text) == [], path

    form = await browse(client, f"/meetings/{slug}?" + urlencode({"month": month, "start": ten}))
    sent = {**post_form(form.text).fields, "name": "Cy", "email": "nope"}
    refused = await client.post(f"/meetings/{slug}", data=sent, headers={"Host": APP_HOST})
    assert refused.status_code == 422
    assert 'aria-invalid="true" aria-describedby="contact-email-error"' in refused.text
    assert 'id="contact-email-error"' in refused.text
    assert 'aria-describedby="answers-topic-error"' in refused.text
    assert 'id="form-errors" tabindex="-1" data-focus' in refused.text  # focus goes there
    assert unlabelled(refused.text) == []


async def test_a_deactivated_hosts_page_is_a_503_with_retry_after(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ada, slug, _ = await page_and_nine(gql, factory, form_fields=[])
    async with sessionmaker.begin() as session:
        await session.execute(
            update(User)
            .where(User.id == ada.user.id)
            .values(deactivated_at=dt.datetime.now(dt.UTC))
        )
    gone = await browse(client, f"/meetings/{slug}?lang=ja")
    assert gone.status_code == 503
    assert gone.headers["retry-after"].isdigit()
    assert '<html lang="ja">' in gone.text
    assert "予約" in gone.text
