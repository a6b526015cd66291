"""One bookMeeting reads its page once and decrypts the host's credential once.

The page the booking read is handed to the live re-check (`availability.page_slots`)
instead of its slug, and the secret decrypted to build the host's calendar client is the
one that client's token source starts with (`CredentialStore.token_source`'s `loaded`).
Counted on a Google host, whose client takes its tokens from the token source.
"""

from __future__ import annotations

import datetime as dt

import pytest
from starlette.applications import Starlette

from tests.helpers import google_app
from tests.helpers.accounts import Factory
from tests.helpers.bookings import book
from tests.helpers.database import count_decrypts
from tests.helpers.database import counting
from tests.helpers.google_app import GoogleFlow
from tests.helpers.google_app import connected_host
from tests.helpers.google_app import window
from tests.helpers.pages import SLOTS

PAGE_BY_SLUG = "lower(scheduling_pages.slug)"  # get_public_page's lookup
# The app configured against the Google fake (tests/conftest.py) and the consent flow.
app, browser, flow = google_app.app, google_app.browser, google_app.flow


async def test_one_booking_reads_the_page_once_and_decrypts_the_credential_once(
    flow: GoogleFlow, factory: Factory, app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, slug = await connected_host(flow, factory)
    listed = await flow.gql(SLOTS, {"slug": slug, **window()})
    first = listed["data"]["availableSlots"]["days"][0]["slots"][0]["start"]
    decrypts = count_decrypts(monkeypatch)
    freebusy_before = len(flow.google.calls("freeBusy.query"))

    with counting(app) as statements:
        booked = await book(flow.gql, slug, dt.datetime.fromisoformat(first))

    assert booked["__typename"] == "BookMeetingSuccess", booked
    assert len(flow.google.calls("freeBusy.query")) == freebusy_before + 1  # read live
    page_reads = [s for s in statements if s.startswith("SELECT") and PAGE_BY_SLUG in s]
    assert len(page_reads) == 1, page_reads
    assert len(decrypts) == 1
