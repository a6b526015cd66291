"""The Google adapter (S1, S12, S13, C4) against the protocol-level Google fake: httpx and
authlib's OAuth helpers send real requests over loopback; the fake answers as Google's OAuth
endpoints and Calendar API v3 do. No database is involved: a token source like the
credential store's keeps the secret in memory.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import httpx
import pytest

from slotgraph.providers.base import Access
from slotgraph.providers.base import AccessRevoked
from slotgraph.providers.base import CalendarClient
from slotgraph.providers.base import CalendarGone
from slotgraph.providers.base import ChangeSet
from slotgraph.providers.base import CursorExpired
from slotgraph.providers.base import Interval
from slotgraph.providers.base import OAuthDenied
from slotgraph.providers.base import ProviderError
from slotgraph.providers.base import TransientError
from slotgraph.providers.google import CALENDAR_SCOPE
from slotgraph.providers.google import event_id_for
from tests.fakes.google import BOSS_CALENDAR
from tests.fakes.google import CLIENT_ID
from tests.fakes.google import CLIENT_SECRET
from tests.fakes.google import EMAIL_SCOPE
from tests.fakes.google import HOLIDAYS_CALENDAR
from tests.fakes.google import TEAM_CALENDAR
from tests.fakes.google import FakeGoogle
from tests.fakes.scenario import EXPECTED_BUSY
from tests.fakes.scenario import TIME_ZONE
from tests.fakes.scenario import WINDOW_END
from tests.fakes.scenario import WINDOW_START
from tests.fakes.scenario import ScriptedEvent
from tests.fakes.scenario import utc
from tests.helpers.events import as_pairs
from tests.helpers.events import busy_of
from tests.helpers.events import changes_since
from tests.helpers.events import draft
from tests.helpers.google import Tokens
from tests.helpers.google import oauth_for
from tests.helpers.google import stored_secret

REDIRECT_URI = "https://app.slotgraph.test/oauth/google/callback"


@pytest.fixture
def tokens(google: FakeGoogle, http: httpx.AsyncClient) -> Tokens:
    return Tokens(oauth_for(google, http), stored_secret(google))


@pytest.fixture
def client(google: FakeGoogle, http: httpx.AsyncClient, tokens: Tokens) -> CalendarClient:
    """A client as built from a stored connection (the static type checks the protocol)."""
    return oauth_for(google, http).client(tokens, google.email)


def rfc3339(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def assert_no_secret(google: FakeGoogle, *texts: str) -> None:
    for text in texts:
        for secret in (*google.issued_secrets(), CLIENT_SECRET):
            assert secret not in text


async def consent(http: httpx.AsyncClient, url: str) -> dict[str, str]:
    """Follow the consent URL as the user's browser would; the query of the redirect."""
    answer = await http.get(url)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


# -- OAuth consent (S1) ------------------------------------------------------------------


async def test_consent_url_asks_for_offline_calendar_access_with_state_and_pkce(
    google: FakeGoogle, http: httpx.AsyncClient
) -> None:
    url, flow = await oauth_for(google, http).start(REDIRECT_URI, "state-123")

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == google.auth_url
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == REDIRECT_URI
    assert query["response_type"] == "code"
    assert query["state"] == "state-123"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43  # base64url of a SHA-256 digest
    assert query["access_type"] == "offline"
    assert set(query["scope"].split()) == {"openid", "email", CALENDAR_SCOPE}
    assert flow["state"] == "state-123"
    assert flow["code_verifier"] not in url


async def test_finished_consent_yields_the_account_and_a_refreshable_grant(
    google: FakeGoogle, http: httpx.AsyncClient
) -> None:
    oauth = oauth_for(google, http)
    url, flow = await oauth.start(REDIRECT_URI, "state-1")
    params = await consent(http, url)

    grant = await oauth.finish(flow, params, REDIRECT_URI)

    assert grant.account_email == google.email
    assert set(grant.secret) == {"access_token", "refresh_token", "expires_at", "scope"}
    assert "<hidden>" in repr(grant)
    assert_no_secret(google, repr(grant), repr(oauth))
    (exchange,) = google.calls("token")
    assert exchange.body["grant_type"] == "authorization_code"
    assert exchange.body["code_verifier"] == flow["code_verifier"]
    token, renewed = await oauth.access_token(grant.secret, force=True)
    assert renewed is not None
    assert token != grant.secret["access_token"]
    assert renewed["refresh_token"] == grant.secret["refresh_token"]  # kept across refreshes


async def test_a_wrong_pkce_verifier_is_refused_by_google(
    google: FakeGoogle, http: httpx.AsyncClient
) -> None:
    oauth = oauth_for(google, http)
    url, flow = await oauth.start(REDIRECT_URI, "state-1")
    params = await consent(http, url)
    with pytest.raises(OAuthDenied):
        await oauth.finish({**flow, "code_verifier": "x" * 64}, params, REDIRECT_URI)
    assert [call.status for call in google.calls("token")] == [400]


async def test_a_code_used_twice_or_after_ten_minutes_is_refused(
    google: FakeGoogle, http: httpx.AsyncClient
) -> None:
    oauth = oauth_for(google, http)
    url, flow = await oauth.start(REDIRECT_URI, "state-1")
    params = await consent(http, url)
    await oauth.finish(flow, params, REDIRECT_URI)
    with pytest.raises(OAuthDenied):
        await oauth.finish(flow, params, REDIRECT_URI)

    url, flow = await oauth.start(REDIRECT_URI, "state-2")
    params = await consent(http, url)
    google.advance(601)
    with pytest.raises(OAuthDenied):
        await oauth.finish(flow, params, REDIRECT_URI)
    assert [c.status for c in google.calls("token")] == [200, 400, 400]


async def test_denied_consent_and_unticked_calendar_scope_are_oauth_denied(
    google: FakeGoogle, http: httpx.AsyncClient
) -> None:
    oauth = oauth_for(google, http)
    google.consent = "deny"
    url, flow = await oauth.start(REDIRECT_URI, "state-1")
    params = await consent(http, url)
    assert params == {"error": "access_denied", "state": "state-1"}
    with pytest.raises(OAuthDenied):
        await oauth.finish(flow, params, REDIRECT_URI)
    assert google.calls("token") == []

    google.consent = "allow"
    google.granted_scopes = ("openid", "https://www.googleapis.com/auth/userinfo.email")
    url, flow = await oauth.start(REDIRECT_URI, "state-2")
    with pytest.raises(OAuthDenied, match="Calendar access"):
        await oauth.finish(flow, await consent(http, url), REDIRECT_URI)


async def test_revoking_ends_the_grant_and_a_second_revoke_is_fine(
    google: FakeGoogle, http: httpx.AsyncClient, tokens: Tokens
) -> None:
    oauth = oauth_for(google, http)
    await oauth.revoke(tokens.secret)
    assert google.grant_revoked(tokens.secret["refresh_token"])
    (call,) = google.calls("revoke")
    assert call.body == {"token": tokens.secret["refresh_token"]}
    await oauth.revoke(tokens.secret)  # Google: 400 invalid_token, already revoked
    assert [c.status for c in google.calls("revoke")] == [200, 400]


# -- calendars and free/busy (S12) -------------------------------------------------------


async def test_list_calendars_pages_through_the_list_and_puts_the_primary_first(
    google: FakeGoogle, client: CalendarClient
) -> None:
    calendars = await client.list_calendars()

    assert [
        (c.remote_id, c.name, c.access, c.is_primary, c.can_see_all_details) for c in calendars
    ] == [
        (google.email, google.email, Access.OWNER, True, True),
        (TEAM_CALENDAR, "Team", Access.WRITER, False, True),
        (HOLIDAYS_CALENDAR, "US holidays", Access.READER, False, True),  # summaryOverride
        # Free/busy only: listed, but not offerable for availability (S12).
        (BOSS_CALENDAR, BOSS_CALENDAR, Access.FREE_BUSY_READER, False, False),
    ]
    assert {c.time_zone for c in calendars} == {TIME_ZONE}
    pages = google.calls("calendarList.list")
    assert len(pages) == 2  # two entries a page
    assert "pageToken" not in pages[0].query
    assert pages[1].query["pageToken"]


async def test_hidden_calendars_the_user_can_read_are_listed(
    google: FakeGoogle, client: CalendarClient
) -> None:
    # Hidden in Google Calendar's list, still readable: offered, and its loss noticed (S12).
    google.calendars[TEAM_CALENDAR].hidden = True
    calendars = await client.list_calendars()
    assert TEAM_CALENDAR in [c.remote_id for c in calendars]
    assert all(call.query.get("showHidden") == "true" for call in google.calls("calendarList.list"))


async def test_free_busy_asks_for_each_calendar_by_id(
    google: FakeGoogle, client: CalendarClient
) -> None:
    # The busy time itself (C4) is the contract's (tests/providers/contract).
    await client.free_busy([google.email], WINDOW_START, WINDOW_END)
    (request,) = google.calls("freeBusy.query")
    assert request.body["items"] == [{"id": google.email}]


async def test_free_busy_splits_at_50_calendars_and_the_window_limit(
    google: FakeGoogle, client: CalendarClient
) -> None:
    others = google.add_calendars(119)
    start = WINDOW_START
    end = start + dt.timedelta(days=150)

    result = await client.free_busy([google.email, *others], start, end)

    requests = google.calls("freeBusy.query", status=200)
    shapes = sorted((len(r.body["items"]), r.body["timeMin"], r.body["timeMax"]) for r in requests)
    edges = [start, start + dt.timedelta(days=60), start + dt.timedelta(days=120), end]
    assert shapes == sorted(
        (count, rfc3339(low), rfc3339(high))
        for count in (50, 50, 20)
        for low, high in itertools.pairwise(edges)
    )
    assert len(google.calls("freeBusy.query")) == 9  # none refused
    assert result.errors == {}
    assert len(result.busy) == 120
    # Spans cut at the 60-day seams are joined again.
    assert as_pairs(result.busy[google.email]) == list(EXPECTED_BUSY)


async def test_a_deleted_calendar_is_calendar_gone_and_never_free_time(
    google: FakeGoogle, client: CalendarClient
) -> None:
    google.delete_calendar(TEAM_CALENDAR)
    ids = [google.email, TEAM_CALENDAR, "nobody@group.calendar.google.com"]

    result = await client.free_busy(ids, WINDOW_START, WINDOW_END)

    assert set(result.busy) == {google.email}
    assert set(result.errors) == {TEAM_CALENDAR, "nobody@group.calendar.google.com"}
    for calendar_id, error in result.errors.items():
        assert isinstance(error, CalendarGone)
        assert error.calendar_id == calendar_id


async def test_free_busy_reader_calendars_still_answer_free_busy(
    google: FakeGoogle, client: CalendarClient
) -> None:
    google.add_event(
        ScriptedEvent("boss", "Board", utc(5, 15), utc(5, 16)), calendar_id=BOSS_CALENDAR
    )
    result = await client.free_busy([BOSS_CALENDAR], WINDOW_START, WINDOW_END)
    assert as_pairs(result.busy[BOSS_CALENDAR]) == [(utc(5, 15), utc(5, 16))]


# -- writing (S12: bookings land on the default calendar) --------------------------------


async def test_a_retried_insert_lands_once(
    google: FakeGoogle, http: httpx.AsyncClient, tokens: Tokens
) -> None:
    client = oauth_for(google, http, timeout=0.3).client(tokens, google.email)
    # Google stores the event but the answer comes too late; the retry gets 409.
    google.fail("slow", operation="events.insert", delay=1.0)

    event_id = await client.create_event(google.email, draft("booking-1"))

    assert event_id == event_id_for("booking-1")
    assert [c.status for c in google.calls("events.insert")] == [200, 409]
    event = google.event(event_id)
    assert (event["summary"], event["start"]["timeZone"]) == ("Intro call", TIME_ZONE)
    assert event["start"]["dateTime"] == "2030-03-12T11:00:00-04:00"
    assert [a["email"] for a in event["attendees"]] == ["contact@client.test"]
    assert google.notifications == [("events.insert", event_id, "all")]
    again = await client.create_event(google.email, draft("booking-1"))
    assert again == event_id
    assert len(google.notifications) == 1


async def test_an_insert_without_a_key_gets_googles_id(
    google: FakeGoogle, client: CalendarClient
) -> None:
    event_id = await client.create_event(google.email, draft(None, send_invitations=False))
    assert google.event(event_id)["status"] == "confirmed"
    assert google.notifications == [("events.insert", event_id, "none")]


async def test_reschedule_and_cancel(google: FakeGoogle, client: CalendarClient) -> None:
    event_id = await client.create_event(google.email, draft("booking-2"))

    moved = draft("booking-2", start=utc(12, 18), end=utc(12, 18, 45), title="Moved call")
    await client.update_event(google.email, event_id, moved)
    event = google.event(event_id)
    assert (event["summary"], event["start"]["dateTime"], event["end"]["dateTime"]) == (
        "Moved call",
        "2030-03-12T14:00:00-04:00",
        "2030-03-12T14:45:00-04:00",
    )

    await client.delete_event(google.email, event_id)
    assert google.event(event_id)["status"] == "cancelled"
    await client.delete_event(google.email, event_id)  # already gone (410): fine
    await client.delete_event(google.email, "neverexisted")  # unknown (404): fine
    assert [n[0] for n in google.notifications] == [
        "events.insert",
        "events.patch",
        "events.delete",
    ]
    with pytest.raises(ProviderError, match="no longer exists") as gone:
        await client.update_event(google.email, event_id, moved)
    assert not isinstance(gone.value, CalendarGone)


async def test_a_retried_create_calendar_asks_google_once(
    google: FakeGoogle, client: CalendarClient
) -> None:
    # That the second create yields the first calendar is the contract's.
    created = await client.create_calendar("Slotgraph tasks")
    await client.create_calendar("Slotgraph tasks")
    assert created.remote_id.endswith("@group.calendar.google.com")
    assert len(google.calls("calendars.insert")) == 1


# -- sync --------------------------------------------------------------------------------


async def full_listing(client: CalendarClient, calendar_id: str) -> ChangeSet:
    return await changes_since(client, calendar_id, None)


async def test_full_listing_reports_cancelled_items_as_removed_and_expands_series(
    google: FakeGoogle, client: CalendarClient
) -> None:
    # Busy time, cursor and private events of the full listing are the contract's.
    outside = google.add_event(ScriptedEvent("later", "Next month", utc(28, 15), utc(28, 16)))
    listing = await full_listing(client, google.email)

    assert outside not in {e.remote_id for e in listing.changed} | set(listing.removed)
    # Cancelled items come as removals: the cancelled event and the series' instance.
    assert sorted(listing.removed) == sorted(
        [google.event_id("gone"), google.event_id("one-on-one_6")]
    )
    (request,) = google.calls("events.list")
    assert request.query["singleEvents"] == "true"


async def test_incremental_sync_reports_new_events_outside_the_window_as_removed(
    google: FakeGoogle, client: CalendarClient
) -> None:
    # What changed inside the window is the contract's.
    listing = await full_listing(client, google.email)
    later = google.add_event(ScriptedEvent("later", "Next month", utc(28, 15), utc(28, 16)))

    changes = await changes_since(client, google.email, listing.next_cursor)

    assert later in changes.removed  # Google filters nothing by time with a sync token
    assert later not in {e.remote_id for e in changes.changed}
    incremental = google.calls("events.list")[-1]
    assert "timeMin" not in incremental.query  # Google refuses filters with a sync token


async def test_large_listings_come_in_pages_and_the_cursor_on_the_last(
    google: FakeGoogle, client: CalendarClient
) -> None:
    google.events_page_size = 5
    pages: list[ChangeSet] = [await full_listing(client, google.email)]
    while pages[-1].next_page is not None:
        assert pages[-1].next_cursor is None
        pages.append(
            await client.list_changes(
                google.email,
                None,
                Interval(WINDOW_START, WINDOW_END),
                page=pages[-1].next_page,
            )
        )
    assert len(pages) == 4  # 17 items, 5 a page
    assert pages[-1].next_cursor is not None
    assert busy_of([event for page in pages for event in page.changed]) == list(EXPECTED_BUSY)


async def test_an_expired_sync_token_is_googles_410(
    google: FakeGoogle, client: CalendarClient
) -> None:
    listing = await full_listing(client, google.email)
    google.expire_sync_tokens()
    with pytest.raises(CursorExpired):
        await changes_since(client, google.email, listing.next_cursor)
    assert google.calls("events.list")[-1].status == 410  # fullSyncRequired


# -- throttling, failures and tokens -----------------------------------------------------


async def test_403_rate_limit_is_retried_too(google: FakeGoogle, client: CalendarClient) -> None:
    google.fail("403-rate", operation="calendarList.list")
    calendars = await client.list_calendars()
    assert calendars[0].is_primary
    assert [c.status for c in google.calls("calendarList.list")][:2] == [403, 200]


async def test_persistent_503_names_the_status_in_its_message(
    google: FakeGoogle, client: CalendarClient
) -> None:
    # The typed error after bounded attempts is the contract's.
    google.fail("503", operation="freeBusy.query", times=None)
    with pytest.raises(TransientError) as failed:
        await client.free_busy([google.email], WINDOW_START, WINDOW_END)
    assert "503" in failed.value.message


async def test_a_server_that_never_answers_is_said_not_to_answer_in_time(
    google: FakeGoogle, http: httpx.AsyncClient, tokens: Tokens
) -> None:
    # The typed error within the timeout is the contract's.
    client = oauth_for(google, http, timeout=0.2).client(tokens, google.email)
    google.hang(operation="calendarList.list", seconds=1.0)
    with pytest.raises(TransientError, match="in time"):
        await client.list_calendars()


async def test_a_401_forces_one_refresh_then_succeeds(
    google: FakeGoogle, client: CalendarClient, tokens: Tokens
) -> None:
    old = tokens.secret["access_token"]
    google.expire_access_tokens()

    calendars = await client.list_calendars()

    assert calendars[0].is_primary
    assert tokens.forced == 1
    assert tokens.secret["access_token"] != old
    statuses = [(c.operation, c.status) for c in google.calls()]
    assert statuses[:3] == [("calendarList.list", 401), ("token", 200), ("calendarList.list", 200)]
    (refresh,) = google.calls("token")
    assert refresh.body["grant_type"] == "refresh_token"


async def test_an_access_token_near_expiry_is_refreshed_before_the_call(
    google: FakeGoogle, client: CalendarClient, tokens: Tokens
) -> None:
    tokens.secret = {**tokens.secret, "expires_at": time.time() + 10}
    await client.list_calendars()
    assert next(c.operation for c in google.calls()) == "token"
    assert google.calls(status=401) == []


async def test_a_revoked_grant_is_access_revoked_and_no_token_shows(
    google: FakeGoogle, client: CalendarClient, tokens: Tokens
) -> None:
    google.revoke_grants()
    with pytest.raises(AccessRevoked) as revoked:
        await client.free_busy([google.email], WINDOW_START, WINDOW_END)
    assert "reconnect" in revoked.value.message
    (refresh,) = google.calls("token")
    assert refresh.status == 400  # invalid_grant
    assert_no_secret(google, str(revoked.value), repr(revoked.value), repr(client))


async def test_a_grant_without_the_calendar_scope_is_access_revoked(
    google: FakeGoogle, http: httpx.AsyncClient
) -> None:
    refresh = google.grant(scope=("openid", EMAIL_SCOPE))
    secret = {
        "access_token": google.access_token_for(refresh),
        "refresh_token": refresh,
        "expires_at": time.time() + 3_000,
    }
    client = oauth_for(google, http).client(Tokens(oauth_for(google, http), secret), google.email)
    with pytest.raises(AccessRevoked):
        await client.list_calendars()
    assert [c.status for c in google.calls("calendarList.list")] == [403]


async def test_a_wrong_client_secret_is_an_operator_error_that_names_no_secret(
    google: FakeGoogle, http: httpx.AsyncClient, tokens: Tokens
) -> None:
    oauth = oauth_for(google, http, client_secret="GOCSPX-wrong-secret")
    with pytest.raises(ProviderError, match="operator") as refused:
        await oauth.access_token(tokens.secret, force=True)
    assert not isinstance(refused.value, AccessRevoked)
    assert "GOCSPX" not in str(refused.value)
    assert [c.status for c in google.calls("token")] == [401]


async def test_no_error_message_carries_a_token(
    google: FakeGoogle, http: httpx.AsyncClient, tokens: Tokens
) -> None:
    client = oauth_for(google, http, timeout=0.2).client(tokens, google.email)
    messages: list[str] = []
    for kind in ("503", "429", "slow"):
        google.fail(kind, times=None, retry_after="600", delay=1.0)
        with pytest.raises(ProviderError) as failed:
            await client.free_busy([google.email], WINDOW_START, WINDOW_END)
        messages += [failed.value.message, str(failed.value), repr(failed.value)]
        google.clear_faults()
    google.delete_calendar(TEAM_CALENDAR)
    with pytest.raises(CalendarGone) as gone:
        await client.list_changes(TEAM_CALENDAR, None, Interval(WINDOW_START, WINDOW_END))
    messages.append(str(gone.value))
    oauth = oauth_for(google, http)
    with pytest.raises(ProviderError) as bad_code:
        await oauth.finish(
            {"state": "s", "code_verifier": "v" * 64},
            {"state": "s", "code": "4/0Aforged"},
            REDIRECT_URI,
        )
    messages.append(str(bad_code.value))
    assert all(messages)
    assert_no_secret(google, *messages)
