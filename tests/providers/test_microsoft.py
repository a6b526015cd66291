"""The Microsoft 365 adapter (S1, S12, S13, C4) against the protocol-level identity platform and
Graph fake over HTTPS: msal runs the real authorization-code flow and refreshes, httpx speaks
Graph. No database is involved: a small in-memory box stands in for the credential store."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import httpx
import pytest

import slotgraph.providers.microsoft.wire as microsoft_wire
from slotgraph.providers.base import Access
from slotgraph.providers.base import AccessRevoked
from slotgraph.providers.base import CalendarClient
from slotgraph.providers.base import CalendarGone
from slotgraph.providers.base import CursorExpired
from slotgraph.providers.base import OAuthDenied
from slotgraph.providers.base import OAuthStateInvalid
from slotgraph.providers.base import ProviderError
from slotgraph.providers.busy import busy_interval
from slotgraph.providers.microsoft import MicrosoftOAuth
from tests.fakes.microsoft import CLIENT_ID
from tests.fakes.microsoft import EMAIL
from tests.fakes.microsoft import FakeMicrosoft
from tests.fakes.microsoft import iter_secrets
from tests.fakes.microsoft import mailbox_addresses
from tests.fakes.scenario import EXPECTED_BUSY
from tests.fakes.scenario import TIME_ZONE
from tests.fakes.scenario import WINDOW_END
from tests.fakes.scenario import WINDOW_START
from tests.fakes.scenario import ScriptedEvent
from tests.fakes.scenario import utc
from tests.helpers.events import as_pairs
from tests.helpers.events import changes_since
from tests.helpers.events import draft
from tests.helpers.events import full_listing
from tests.helpers.microsoft import REDIRECT_URI
from tests.helpers.microsoft import SecretBox
from tests.helpers.microsoft import connect
from tests.helpers.microsoft import consent
from tests.helpers.microsoft import http_for
from tests.helpers.microsoft import oauth_for


@pytest.fixture
def fake() -> Iterator[FakeMicrosoft]:
    with FakeMicrosoft() as server:
        yield server


@pytest.fixture
def ca_file(fake: FakeMicrosoft, tmp_path: Path) -> Path:
    return fake.write_ca(tmp_path / "ca.pem")


@pytest.fixture
async def http(ca_file: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with http_for(ca_file) as client:
        yield client


@pytest.fixture
def oauth(fake: FakeMicrosoft, ca_file: Path, http: httpx.AsyncClient) -> MicrosoftOAuth:
    return oauth_for(fake, http, ca_file)


@pytest.fixture
async def box(oauth: MicrosoftOAuth, http: httpx.AsyncClient) -> SecretBox:
    grant = await connect(oauth, http)
    return SecretBox(oauth, grant.secret)


@pytest.fixture
def client(oauth: MicrosoftOAuth, box: SecretBox) -> CalendarClient:
    return oauth.client(box, EMAIL)


def assert_no_secret(secrets: list[str], *texts: str) -> None:
    assert secrets
    for secret in secrets:
        for text in texts:
            assert secret not in text


# -- sign-in (S1) ------------------------------------------------------------------------


async def test_consent_url_asks_for_calendar_scopes_with_state_pkce_and_account_choice(
    oauth: MicrosoftOAuth, fake: FakeMicrosoft
) -> None:
    url, flow = await oauth.start(REDIRECT_URI, "state-abc")
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}

    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        f"{fake.authority}/oauth2/v2.0/authorize"
    )
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == REDIRECT_URI
    assert query["state"] == "state-abc"
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert query["prompt"] == "select_account"
    assert query["response_mode"] == "form_post"
    assert set(query["scope"].split()) == {
        "Calendars.ReadWrite",
        "User.Read",
        "MailboxSettings.Read",
        "email",
        "openid",
        "profile",
        "offline_access",
    }
    assert flow["code_verifier"] not in url  # only its S256 challenge travels
    json.dumps(flow)  # the flow is stored (encrypted) as JSON


async def test_finished_consent_yields_the_mailbox_and_an_msal_token_cache(
    oauth: MicrosoftOAuth, http: httpx.AsyncClient, fake: FakeMicrosoft
) -> None:
    grant = await connect(oauth, http)

    assert grant.account_email == EMAIL
    assert set(grant.secret) == {"v", "home_account_id", "token_cache", "account_email"}
    cache = json.loads(grant.secret["token_cache"])
    assert set(cache) >= {"AccessToken", "RefreshToken", "IdToken", "Account"}
    (code_request,) = fake.token_requests
    assert code_request["grant_type"] == "authorization_code"
    assert code_request["code_verifier"]  # PKCE verified by the fake
    assert "secret=<hidden>" in repr(grant)


async def test_token_cache_round_trips_through_the_secret(
    oauth: MicrosoftOAuth, box: SecretBox, fake: FakeMicrosoft
) -> None:
    first = await box(False)
    assert (box.renewals, len(fake.token_requests)) == (0, 1)  # served from the cache

    refreshed = await box(True)
    assert refreshed != first
    assert box.renewals == 1
    assert fake.token_requests[-1]["grant_type"] == "refresh_token"

    # A fresh process reading the stored secret gets the refreshed token without a request.
    again, renewed = await oauth.access_token(json.loads(json.dumps(box.secret)), force=False)
    assert (again, renewed, len(fake.token_requests)) == (refreshed, None, 2)
    # msal read the openid-configuration once; later applications start from a copy of it.
    assert fake.discovery_requests == 1


async def test_access_token_close_to_expiry_is_refreshed_without_being_forced(
    oauth: MicrosoftOAuth, http: httpx.AsyncClient, fake: FakeMicrosoft
) -> None:
    fake.access_token_lifetime = 60  # msal refreshes tokens with under five minutes left
    box = SecretBox(oauth, (await connect(oauth, http)).secret)
    await box(False)
    assert box.renewals == 1
    assert fake.token_requests[-1]["grant_type"] == "refresh_token"


@pytest.mark.parametrize("answer", ["access_denied", "consent_required"])
async def test_declined_consent_is_oauth_denied(
    oauth: MicrosoftOAuth, http: httpx.AsyncClient, fake: FakeMicrosoft, answer: str
) -> None:
    fake.consent = answer
    flow, params = await consent(oauth, http)
    assert params["error"] == answer
    with pytest.raises(OAuthDenied):
        await oauth.finish(json.loads(flow), params, REDIRECT_URI)
    assert fake.token_requests == []


async def test_redirect_with_another_state_is_oauth_state_invalid(
    oauth: MicrosoftOAuth, http: httpx.AsyncClient, fake: FakeMicrosoft
) -> None:
    flow, params = await consent(oauth, http)
    with pytest.raises(OAuthStateInvalid):
        await oauth.finish(json.loads(flow), {**params, "state": "forged"}, REDIRECT_URI)
    assert fake.token_requests == []


async def test_a_code_redeemed_twice_is_oauth_state_invalid(
    oauth: MicrosoftOAuth, http: httpx.AsyncClient
) -> None:
    flow, params = await consent(oauth, http)
    await oauth.finish(json.loads(flow), params, REDIRECT_URI)
    with pytest.raises(OAuthStateInvalid):
        await oauth.finish(json.loads(flow), params, REDIRECT_URI)


async def test_revoked_grant_is_access_revoked_and_names_no_token(
    box: SecretBox, client: CalendarClient, fake: FakeMicrosoft
) -> None:
    fake.revoke_grants()
    with pytest.raises(AccessRevoked) as forced:
        await box(True)
    assert "reconnect" in forced.value.message

    fake.expire_access_tokens()
    with pytest.raises(AccessRevoked) as revoked:
        await client.list_calendars()
    assert_no_secret(list(iter_secrets(fake)), str(forced.value), str(revoked.value), repr(client))
    assert fake.token_requests[-1]["grant_type"] == "refresh_token"


async def test_revoke_calls_nothing_at_microsoft(box: SecretBox, fake: FakeMicrosoft) -> None:
    before = (len(fake.requests), len(fake.token_requests))
    await box.oauth.revoke(box.secret)
    assert (len(fake.requests), len(fake.token_requests)) == before


# -- calendars and free/busy (S12, C4) ---------------------------------------------------


async def test_list_calendars_pages_and_maps_primary_and_access(
    client: CalendarClient, fake: FakeMicrosoft
) -> None:
    calendars = await client.list_calendars()
    assert [(c.remote_id, c.name, c.is_primary, c.access) for c in calendars] == [
        (EMAIL, "Calendar", True, Access.OWNER),
        (fake.calendars[1].id, "Team offsite", False, Access.OWNER),
        (fake.calendars[2].id, "Birthdays", False, Access.OWNER),
        (fake.calendars[3].id, "Bob's calendar", False, Access.WRITER),
        (fake.calendars[4].id, "Carol's calendar", False, Access.READER),
    ]
    assert {c.time_zone for c in calendars} == {TIME_ZONE}  # from Eastern Standard Time
    pages = fake.graph_requests("/me/calendars", method="GET")
    assert len(pages) == 2  # four per page on the fake, then @odata.nextLink
    assert "$skip" in pages[1].query


async def test_the_default_calendar_is_found_when_the_list_does_not_flag_it(
    client: CalendarClient, fake: FakeMicrosoft
) -> None:
    # `isDefaultCalendar` is optional: GET /me/calendar names the default (C3), always.
    fake.omit_default_flag = True
    calendars = await client.list_calendars()
    assert [(c.remote_id, c.is_primary, c.access) for c in calendars][:2] == [
        (EMAIL, True, Access.OWNER),
        (fake.calendars[1].id, False, Access.OWNER),
    ]
    assert sum(c.is_primary for c in calendars) == 1
    assert len(fake.graph_requests("/me/calendar", method="GET")) >= 1


async def test_mailbox_zone_falls_back_to_utc_when_graph_will_not_tell(
    client: CalendarClient, fake: FakeMicrosoft
) -> None:
    fake.fail(403, path="mailboxSettings", code="ErrorAccessDenied")
    calendars = await client.list_calendars()
    assert {c.time_zone for c in calendars} == {"UTC"}


async def test_a_failing_mailbox_zone_look_up_falls_back_to_utc(
    oauth: MicrosoftOAuth, box: SecretBox, fake: FakeMicrosoft
) -> None:
    # Optional: a look-up that fails in any other way does not fail the listing either.
    fake.fail(400, path="mailboxSettings", code="ErrorInvalidRequest")
    calendars = await oauth.client(box, EMAIL).list_calendars()
    assert {c.time_zone for c in calendars} == {"UTC"}


async def test_free_busy_asks_get_schedule_for_the_mailbox_in_utc(
    client: CalendarClient, fake: FakeMicrosoft
) -> None:
    # The busy time itself (C4) is the contract's (tests/providers/contract).
    await client.free_busy([EMAIL], WINDOW_START, WINDOW_END)
    (request,) = fake.graph_requests("getSchedule")
    assert request.body["schedules"] == [EMAIL]
    assert 'outlook.timezone="UTC"' in request.prefer


async def test_free_busy_splits_at_20_schedules_and_62_days(
    client: CalendarClient, fake: FakeMicrosoft
) -> None:
    others = mailbox_addresses(24)
    fake.other_mailboxes.update(others)
    end = WINDOW_START + dt.timedelta(days=80)

    result = await client.free_busy([EMAIL, *others], WINDOW_START, end)

    shapes = sorted(
        (len(r.body["schedules"]), r.body["startTime"]["dateTime"], r.body["endTime"]["dateTime"])
        for r in fake.graph_requests("getSchedule")
    )
    split = WINDOW_START + dt.timedelta(days=62)
    stamps = [t.strftime("%Y-%m-%dT%H:%M:%S") for t in (WINDOW_START, split, end)]
    assert shapes == sorted(
        (count, first, last)
        for count in (20, 5)
        for first, last in ((stamps[0], stamps[1]), (stamps[1], stamps[2]))
    )
    assert {s for r in fake.graph_requests("getSchedule") for s in r.body["schedules"]} == {
        EMAIL,
        *others,
    }
    assert result.errors == {}
    assert as_pairs(result.busy[EMAIL]) == list(EXPECTED_BUSY)
    assert all(result.busy[o] == () for o in others)


async def test_unknown_mailbox_is_an_error_not_free_time(client: CalendarClient) -> None:
    result = await client.free_busy([EMAIL, "ghost@contoso.test"], WINDOW_START, WINDOW_END)
    assert set(result.busy) == {EMAIL}
    assert isinstance(result.errors["ghost@contoso.test"], CalendarGone)


async def test_other_calendars_get_busy_time_from_their_paged_calendar_view(
    client: CalendarClient, fake: FakeMicrosoft
) -> None:
    offsite = fake.calendars[1].id
    for day in (4, 5, 6, 7, 8):
        fake.add_event(
            ScriptedEvent(f"trip-{day}", "Trip", utc(day, 15), utc(day, 16)), calendar_id=offsite
        )
    fake.add_event(
        ScriptedEvent("idea", "Idea", utc(9, 15), utc(9, 16), show_as="FREE"), calendar_id=offsite
    )
    fake.add_event(
        ScriptedEvent("retreat", "Retreat", dt.date(2030, 3, 10), dt.date(2030, 3, 11)),
        calendar_id=offsite,
    )
    gone = "AAMkZ29uZQ=="

    result = await client.free_busy([offsite, gone], WINDOW_START, WINDOW_END)

    assert as_pairs(result.busy[offsite]) == [
        *((utc(day, 15), utc(day, 16)) for day in (4, 5, 6, 7, 8)),
        (utc(10, 5), utc(11, 4)),  # all-day in New York on the DST day
    ]
    assert isinstance(result.errors[gone], CalendarGone)
    assert len(fake.graph_requests(f"{offsite}/calendarView")) == 2  # paged
    assert fake.graph_requests("getSchedule") == []


# -- sync --------------------------------------------------------------------------------


async def test_a_full_listing_follows_the_delta_pages(
    client: CalendarClient, fake: FakeMicrosoft
) -> None:
    # Busy time, cursor and private events of the full listing are the contract's.
    await full_listing(client, EMAIL)
    assert len(fake.graph_requests("calendarView/delta")) > 1  # @odata.nextLink pages


async def test_a_cursor_pointing_elsewhere_is_never_followed(client: CalendarClient) -> None:
    # An expired delta token is the contract's.
    with pytest.raises(CursorExpired):
        await changes_since(client, EMAIL, "https://evil.test/delta")


# -- writes ------------------------------------------------------------------------------


async def test_retried_create_lands_once(client: CalendarClient, fake: FakeMicrosoft) -> None:
    first = await client.create_event(EMAIL, draft())
    again = await client.create_event(EMAIL, draft())

    assert again == first
    assert len(fake.graph_requests("/events", method="POST")) == 1
    (posted,) = [r.body for r in fake.graph_requests("/events", method="POST")]
    assert posted["transactionId"] == "booking-1"
    assert posted["start"] == {
        "dateTime": "2030-03-12T11:00:00",
        "timeZone": "Eastern Standard Time",
    }
    assert posted["attendees"] == [
        {
            "emailAddress": {"address": "contact@client.test", "name": "A Contact"},
            "type": "required",
        }
    ]
    event = fake.events[first]
    assert (event.start, event.end, event.subject) == (utc(12, 15), utc(12, 15, 30), "Intro call")


async def test_a_create_retried_after_a_503_is_deduplicated_by_transaction_id(
    client: CalendarClient, fake: FakeMicrosoft
) -> None:
    fake.fail(503, path="/events", times=1, retry_after=0.05)  # the lookup fails once
    created = await client.create_event(EMAIL, draft(key="booking-503"))
    assert [e.id for e in fake.calendar_events(fake.primary_id) if e.transaction_id] == [created]


async def test_update_and_delete_events(client: CalendarClient, fake: FakeMicrosoft) -> None:
    event_id = await client.create_event(EMAIL, draft(key=None))
    await client.update_event(
        EMAIL, event_id, draft(key=None, title="Moved call", start=utc(13, 16), end=utc(13, 17))
    )
    event = fake.events[event_id]
    assert (event.subject, event.start, event.end) == ("Moved call", utc(13, 16), utc(13, 17))

    await client.delete_event(EMAIL, event_id)
    await client.delete_event(EMAIL, event_id)  # already gone: fine
    assert event_id not in fake.events
    with pytest.raises(ProviderError):
        await client.update_event(EMAIL, event_id, draft(key=None))


async def test_without_invitations_the_event_is_written_without_attendees(
    client: CalendarClient, fake: FakeMicrosoft
) -> None:
    event_id = await client.create_event(EMAIL, draft(key=None, send_invitations=False))
    assert fake.events[event_id].attendees == []


async def test_event_in_a_read_only_calendar_is_refused_as_calendar_gone(
    client: CalendarClient, fake: FakeMicrosoft
) -> None:
    with pytest.raises(CalendarGone):
        await client.create_event(fake.calendars[4].id, draft(key=None))


# -- limits and failures -----------------------------------------------------------------


async def test_at_most_four_concurrent_requests_per_mailbox_across_clients(
    oauth: MicrosoftOAuth, box: SecretBox, fake: FakeMicrosoft
) -> None:
    clients = [oauth.client(box, EMAIL), oauth.client(box, EMAIL.upper())]
    fake.delay = 0.2
    calls = [c.list_calendars() for c in clients for _ in range(5)]

    results = await asyncio.gather(*calls)

    assert all(len(r) == 5 for r in results)
    assert 1 < fake.peak_in_flight <= 4
    assert {r.status for r in fake.requests} == {200}  # never over Graph's limit (429)


async def test_expired_access_token_is_refreshed_once_after_a_401(
    client: CalendarClient, box: SecretBox, fake: FakeMicrosoft
) -> None:
    await client.list_calendars()
    fake.expire_access_tokens()

    calendars = await client.list_calendars()

    assert calendars[0].is_primary
    assert box.renewals == 1
    assert [form["grant_type"] for form in fake.token_requests] == [
        "authorization_code",
        "refresh_token",
    ]
    statuses = [r.status for r in fake.graph_requests("/me/calendars")]
    assert statuses.count(401) == 1


async def test_a_401_after_a_fresh_token_is_access_revoked(
    client: CalendarClient, box: SecretBox, fake: FakeMicrosoft
) -> None:
    fake.fail(401, path="/me/calendars", times=None, code="InvalidAuthenticationToken")
    with pytest.raises(AccessRevoked):
        await client.list_calendars()
    assert box.renewals == 1  # one forced refresh, then no more
    assert [r.status for r in fake.graph_requests("/me/calendars")] == [401, 401]


async def test_error_messages_never_contain_a_token(
    client: CalendarClient, fake: FakeMicrosoft
) -> None:
    messages = []
    issued = list(iter_secrets(fake))
    fake.fail(500, times=None, code="InternalServerError")
    with pytest.raises(ProviderError) as failed:
        await client.list_calendars()
    messages.append(str(failed.value))
    fake.reset()
    with pytest.raises(ProviderError) as revoked:
        await client.list_calendars()  # the fake forgot every token: 401, refresh refused
    messages.append(str(revoked.value))
    assert_no_secret(issued, *messages)


async def test_tokens_never_reach_logs_or_reprs(
    oauth: MicrosoftOAuth,
    http: httpx.AsyncClient,
    fake: FakeMicrosoft,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        box = SecretBox(oauth, (await connect(oauth, http)).secret)
        client = oauth.client(box, EMAIL)
        await client.list_calendars()
        await box(True)
        fake.revoke_grants()
        with pytest.raises(AccessRevoked):
            await box(True)
    assert "oauth2/v2.0/token" in caplog.text  # msal's and urllib3's debug lines were captured
    assert_no_secret(list(iter_secrets(fake)), caplog.text, repr(oauth), repr(client))


@pytest.mark.parametrize(
    ("start", "end"),
    [
        # Midnights in the event's own zone, as the event stores them.
        (
            ("2030-03-10T00:00:00.0000000", "Eastern Standard Time"),
            ("2030-03-11T00:00:00", "Eastern Standard Time"),
        ),
        # The same instants asked in UTC (DST began in between: 05:00 then 04:00).
        (("2030-03-10T05:00:00.0000000", "UTC"), ("2030-03-11T04:00:00.0000000", "UTC")),
        # Floating midnights labelled UTC.
        (("2030-03-10T00:00:00.0000000", "UTC"), ("2030-03-11T00:00:00.0000000", "UTC")),
    ],
)
def test_all_day_events_keep_their_dates_whatever_zone_graph_reports_them_in(
    start: tuple[str, str], end: tuple[str, str]
) -> None:
    item = {
        "id": "AAMkZGF5",
        "subject": "Family day",
        "isAllDay": True,
        "showAs": "busy",
        "originalStartTimeZone": "Eastern Standard Time",
        "responseStatus": {"response": "organizer"},
        "start": {"dateTime": start[0], "timeZone": start[1]},
        "end": {"dateTime": end[0], "timeZone": end[1]},
    }
    event = microsoft_wire.to_event(item, "UTC")
    assert (event.all_day, event.start.date(), event.end.date()) == (
        True,
        dt.date(2030, 3, 10),
        dt.date(2030, 3, 11),
    )
    span = busy_interval(event, TIME_ZONE)
    assert span is not None
    assert (span.start, span.end) == (utc(10, 5), utc(11, 4))  # 23 hours in New York (C4)
