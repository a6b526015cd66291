"""The manage page behind the confirmation's link (C41): it shows the meeting in the
contact's zone, moves it with the same slot picker and cancels it, as plain forms through the
API's contact mutations; its "add to calendar" download parses back with one UID and a
SEQUENCE each change raises (C43)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode
from urllib.parse import urlsplit

import httpx
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.models import Booking
from slotgraph.models import ConnectedDomain
from tests.helpers.accounts import PROVEN
from tests.helpers.accounts import Factory
from tests.helpers.bookings import book_with_token
from tests.helpers.bookings import host_bookings
from tests.helpers.bookings import page_and_nine
from tests.helpers.graphql import GraphQLClient
from tests.helpers.web import APP_HOST
from tests.helpers.web import browse
from tests.helpers.web import follow
from tests.helpers.web import link_to
from tests.helpers.web import post_form
from tests.helpers.web import read
from tests.helpers.web import set_calendar_settings


async def invite(client: httpx.AsyncClient, token: str) -> tuple[str, int, dt.datetime]:
    """UID, SEQUENCE and start of the download."""
    download = await browse(client, f"/meetings/manage/invite.ics?token={token}")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/calendar")
    assert download.headers["referrer-policy"] == "no-referrer"
    (event,) = Calendar.from_ical(download.content).walk("VEVENT")
    return str(event["uid"]), int(event.decoded("sequence")), event.decoded("dtstart")


async def test_a_contact_moves_then_cancels_their_meeting_through_the_manage_page(
    client: httpx.AsyncClient, gql: GraphQLClient, factory: Factory
) -> None:
    ada, slug, nine = await page_and_nine(gql, factory, form_fields=[])
    token = (await book_with_token(gql, slug, nine))["manageToken"]  # booked from Paris
    uid, sequence, start = await invite(client, token)
    assert (sequence, start) == (0, nine)

    manage = await browse(client, "/meetings/manage?" + urlencode({"token": token, "lang": "en"}))
    assert manage.status_code == 200
    assert manage.headers["referrer-policy"] == "no-referrer"
    assert "(Europe/Paris)" in manage.text  # the contact's zone
    assert "10:00" in manage.text  # 09:00 UTC in Paris (CET/CEST: 10:00 or 11:00)

    ten = nine + dt.timedelta(hours=1)
    day = nine.date().isoformat()
    picked = await browse(
        client,
        "/meetings/manage?"
        + urlencode({"token": token, "lang": "en", "tz": "UTC", "date": day, "start": ""}),
    )
    slot = await browse(client, follow(picked.url.path, link_to(picked.text, "10:00 AM")))
    move = next(f for f in read(slot.text).forms if f.fields.get("action") == "reschedule")
    assert move.fields["start"] == ten.isoformat()
    moved = await client.post(
        "/meetings/manage", data=move.fields, headers={"Host": APP_HOST}, follow_redirects=False
    )
    assert moved.status_code == 303
    shown = await browse(client, moved.headers["location"])
    assert "Your meeting was moved." in shown.text
    assert await invite(client, token) == (uid, 1, ten)

    cancel = next(f for f in read(shown.text).forms if f.fields.get("action") == "cancel")
    answer = await client.post("/meetings/manage", data=cancel.fields, headers={"Host": APP_HOST})
    assert answer.status_code == 303
    cancelled = await browse(client, answer.headers["location"])
    assert "This meeting is cancelled." in cancelled.text
    assert await invite(client, token) == (uid, 2, ten)
    (booking,) = await host_bookings(gql, ada)
    assert booking["status"] == "CANCELLED"


async def test_an_unknown_manage_token_is_not_found_and_forms_need_their_token(
    client: httpx.AsyncClient, gql: GraphQLClient, factory: Factory
) -> None:
    unknown = await browse(client, "/meetings/manage?token=nope")
    assert unknown.status_code == 404
    assert (await browse(client, "/meetings/manage/invite.ics?token=nope")).status_code == 404
    ada, slug, nine = await page_and_nine(gql, factory, form_fields=[])
    token = (await book_with_token(gql, slug, nine))["manageToken"]
    page = await browse(client, f"/meetings/manage?token={token}")
    cancel = {**post_form(page.text).fields, "csrf_token": "forged"}
    refused = await client.post("/meetings/manage", data=cancel, headers={"Host": APP_HOST})
    assert refused.status_code == 403
    (booking,) = await host_bookings(gql, ada)
    assert booking["status"] != "CANCELLED"


async def test_the_confirmation_links_to_the_download_and_the_manage_page(
    client: httpx.AsyncClient, gql: GraphQLClient, factory: Factory
) -> None:
    _, slug, nine = await page_and_nine(gql, factory, form_fields=[])
    page = await browse(
        client,
        f"/meetings/{slug}?"
        + urlencode({"month": f"{nine:%Y-%m}", "lang": "ja", "start": nine.isoformat()}),
    )
    sent = {**post_form(page.text).fields, "name": "Cy", "email": "cy@example.test"}
    answer = await client.post(f"/meetings/{slug}", data=sent, headers={"Host": APP_HOST})
    assert answer.status_code == 303
    confirmation = await browse(client, answer.headers["location"])
    links = [href for href, _ in read(confirmation.text).links]
    download = next(href for href in links if href.startswith("/meetings/manage/invite.ics"))
    assert (await browse(client, download)).status_code == 200
    manage = next(href for href in links if href.startswith("/meetings/manage?"))
    shown = await browse(client, manage)
    assert shown.status_code == 200
    assert "カレンダーに追加" in shown.text


async def test_the_download_is_the_bookings_own_invitation_identity(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """C43: the .ics carries the UID and SEQUENCE stored with the booking, the ones its
    emails and calendar writes use, so a calendar holding either keeps one event."""
    _, slug, nine = await page_and_nine(gql, factory, form_fields=[])
    token = (await book_with_token(gql, slug, nine))["manageToken"]
    async with sessionmaker() as session:
        row = (await session.execute(select(Booking))).scalar_one()
    assert await invite(client, token) == (row.ical_uid, row.sequence, nine)


async def test_another_booking_on_a_custom_domain_comes_prefilled_with_this_ones_answers(
    client: httpx.AsyncClient,
    gql: GraphQLClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """S16, C26: the manage page links to the page with its token; on the account's domain
    the form is filled with what this booking submitted, and nothing else fills it."""
    ada, slug, nine = await page_and_nine(gql, factory)
    domain = ConnectedDomain(verified_at=PROVEN, account_id=ada.account.id, domain="meet.ada.test")
    await factory.add(domain)
    await set_calendar_settings(sessionmaker, ada, meeting_domain_id=domain.id)
    answers = [{"question": "topic", "answer": "Pricing"}]
    token = (await book_with_token(gql, slug, nine, answers=answers))["manageToken"]
    manage = await browse(client, f"/meetings/manage?token={token}&lang=en")
    again = link_to(manage.text, "Book another meeting with Ada")
    assert again.startswith(f"https://meet.ada.test/meetings/{slug}?")
    ten = urlencode({"start": (nine + dt.timedelta(hours=1)).isoformat()})
    path = urlsplit(again).path + "?" + urlsplit(again).query
    prefilled = await browse(client, f"{path}&{ten}", host="meet.ada.test")
    assert prefilled.status_code == 200
    assert prefilled.headers["referrer-policy"] == "no-referrer"  # the token is in the URL
    assert 'value="Cleo Contact"' in prefilled.text
    assert 'value="cleo@example.test"' in prefilled.text
    assert 'value="Pricing"' in prefilled.text
    forged = await browse(client, f"/meetings/{slug}?prefill=sgm_nope&{ten}", host="meet.ada.test")
    assert forged.status_code == 200
    assert "Cleo" not in forged.text
    app_domain = await browse(client, f"/meetings/{slug}?prefill={token}&{ten}")
    assert app_domain.status_code == 307  # the canonical domain is the custom one now


async def test_a_declined_request_says_so_and_offers_no_changes(
    client: httpx.AsyncClient, gql: GraphQLClient, factory: Factory
) -> None:
    ada, slug, nine = await page_and_nine(gql, factory, form_fields=[])
    booked = await book_with_token(gql, slug, nine)
    declined = await gql(
        "mutation($id: ID!) { declineBooking(input: {bookingId: $id}) { __typename } }",
        {"id": booked["booking"]["id"]},
        token=ada.token,
    )
    assert declined["data"]["declineBooking"]["__typename"] == "DeclineBookingSuccess"

    for lang, said in (
        ("en", "The host declined this request."),
        ("ja", "このリクエストはホストにより辞退されました。"),
    ):
        manage = await browse(
            client, "/meetings/manage?" + urlencode({"token": booked["manageToken"], "lang": lang})
        )
        assert manage.status_code == 200
        assert said in manage.text
        assert read(manage.text).forms == []
