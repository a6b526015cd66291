"""Connecting Google end to end (S1, S3–S6, S9, S12, S13): `startCalendarConnection` over
GraphQL → the consent URL → the Google fake's consent screen → the redirect to the app's
OAuth callback → a CONNECTED connection, all through the real Google adapter. The app's
Settings point every Google URL at the fake; nothing else is replaced.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from slotgraph.calsync.watches import WatchConfig
from slotgraph.calsync.watches import Watches
from slotgraph.models import BusyCacheWindow
from slotgraph.models import CalendarWatch
from slotgraph.models import Credential
from slotgraph.models import InboxConnection
from slotgraph.models.enums import InboxKind
from slotgraph.usecases.availability import page_slots
from slotgraph.usecases.errors import AvailabilityUnknownError
from slotgraph.usecases.pages import get_public_page
from tests.fakes.google import BOSS_CALENDAR
from tests.fakes.google import CALENDAR_SCOPE
from tests.fakes.google import EMAIL_SCOPE
from tests.fakes.google import TEAM_CALENDAR
from tests.fakes.scenario import ScriptedEvent
from tests.fakes.scenario import utc
from tests.helpers import google_app
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.connections import SET_AVAILABILITY
from tests.helpers.database import dump
from tests.helpers.google_app import CALLBACK
from tests.helpers.google_app import GoogleFlow
from tests.helpers.google_app import connected_host
from tests.helpers.google_app import query_of
from tests.helpers.google_app import window
from tests.helpers.pages import SCENARIO_NOW
from tests.helpers.pages import SLOTS
from tests.helpers.pages import make_page
from tests.helpers.pages import scenario_busy_hidden
from tests.helpers.pages import scenario_week_slots

DISCONNECT = """
mutation($id: ID!) { disconnectCalendar(input: {connectionId: $id}) {
  __typename ... on DisconnectCalendarSuccess { connection { status } } ... on Error { code }
} }
"""


# The app configured against the Google fake, the user's browser, the consent flow.
app = google_app.app
browser = google_app.browser
flow = google_app.flow


async def test_consent_connects_google_with_sync_and_pages_on_and_lists_its_calendars(
    flow: GoogleFlow, factory: Factory, database_url: str
) -> None:
    ada = await factory.person()
    started = await flow.start(ada)
    assert started["__typename"] == "StartCalendarConnectionSuccess"
    url = started["authorizationUrl"]
    assert url.startswith(flow.google.auth_url + "?")
    asked = query_of(url)
    assert len(asked["state"]) >= 32
    assert asked["code_challenge_method"] == "S256"
    assert len(asked["code_challenge"]) == 43
    assert asked["access_type"] == "offline"
    assert CALENDAR_SCOPE in asked["scope"].split()
    assert asked["redirect_uri"] == CALLBACK

    landed = await flow.callback(await flow.consent(url))

    assert landed == {"calendarConnection": landed["calendarConnection"], "status": "CONNECTED"}
    [connection] = await flow.connections(ada)
    calendars = connection.pop("remoteCalendars")
    assert connection == {
        "id": landed["calendarConnection"],
        "provider": "GOOGLE",
        "accountEmail": flow.google.email,
        "status": "CONNECTED",
        "calendarSyncEnabled": True,  # S9
        "schedulingPagesEnabled": True,  # S12
        "purpose": "BOTH",
    }
    assert [
        (c["name"], c["isPrimary"], c["access"], c["canSeeAllDetails"], c["status"])
        for c in calendars
    ] == [
        (flow.google.email, True, "OWNER", True, "CONNECTED"),
        ("Team", False, "WRITER", True, "CONNECTED"),
        ("US holidays", False, "READER", True, "CONNECTED"),
        (BOSS_CALENDAR, False, "FREE_BUSY_READER", False, "CONNECTED"),
    ]
    # S12: free/busy-only access is not offered as an availability calendar.
    by_name = {c["name"]: c["id"] for c in calendars}
    refused = await flow.gql(SET_AVAILABILITY, {"ids": [by_name[BOSS_CALENDAR]]}, token=ada.token)
    assert refused["data"]["setAvailabilityCalendars"]["__typename"] == "ValidationError"
    assert "See all event details" in refused["data"]["setAvailabilityCalendars"]["message"]
    accepted = await flow.gql(SET_AVAILABILITY, {"ids": [by_name["Team"]]}, token=ada.token)
    assert accepted["data"]["setAvailabilityCalendars"]["__typename"] == (
        "SetAvailabilityCalendarsSuccess"
    )
    inboxes = await flow.gql(
        "{ viewer { inboxConnections { email kind status } } }", token=ada.token
    )
    assert inboxes["data"]["viewer"]["inboxConnections"] == [
        {"email": flow.google.email, "kind": "PERSONAL", "status": "CONNECTED"}  # S5
    ]
    # The code was exchanged with the PKCE verifier; no secret is stored in the clear.
    (exchange,) = flow.google.calls("token")
    assert exchange.body["code_verifier"]
    assert exchange.body["redirect_uri"] == CALLBACK
    data = await dump(database_url)
    assert flow.google.issued_secrets()
    for secret in (*flow.google.issued_secrets(), asked["state"], exchange.body["code_verifier"]):
        assert secret.encode() not in data


async def test_denied_consent_lands_on_the_dashboard_with_oauth_denied(
    flow: GoogleFlow, factory: Factory
) -> None:
    ada = await factory.person()
    flow.google.consent = "deny"

    landed = await flow.connect(ada)

    assert landed["calendarConnectionError"] == "OAUTH_DENIED"
    assert "allow calendar access" in landed["message"]
    assert await flow.connections(ada) == []
    assert flow.google.calls("token") == []


async def test_google_failing_at_the_callback_lands_on_the_dashboard_with_a_typed_code(
    flow: GoogleFlow, factory: Factory
) -> None:
    ada = await factory.person()
    started = await flow.start(ada)
    location = await flow.consent(started["authorizationUrl"])
    flow.google.fail("429", operation="token", times=None, retry_after="600")

    landed = await flow.callback(location)

    assert landed["calendarConnectionError"] == "PROVIDER_UNAVAILABLE"
    assert "try connecting again" in landed["message"]
    for secret in flow.google.issued_secrets():
        assert secret not in landed["message"]
    assert await flow.connections(ada) == []


async def test_an_unreadable_token_answer_lands_on_the_dashboard_not_on_a_500(
    flow: GoogleFlow, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada = await factory.person()
    flow.google.fail("garbled", operation="token")

    landed = await flow.connect(ada)

    assert landed == {
        "calendarConnectionError": "INTERNAL",
        "message": "Something went wrong on our side while connecting; try again.",
    }
    async with sessionmaker() as session:
        assert (await session.execute(select(Credential))).first() is None
    assert await flow.connections(ada) == []


async def test_unticked_calendar_scope_is_oauth_denied(flow: GoogleFlow, factory: Factory) -> None:
    ada = await factory.person()
    flow.google.granted_scopes = ("openid", EMAIL_SCOPE)
    landed = await flow.connect(ada)
    assert landed["calendarConnectionError"] == "OAUTH_DENIED"
    assert await flow.connections(ada) == []


async def test_a_wrong_or_replayed_state_is_oauth_state_invalid(
    flow: GoogleFlow, factory: Factory
) -> None:
    ada = await factory.person()
    started = await flow.start(ada)
    location = await flow.consent(started["authorizationUrl"])
    code = query_of(location)["code"]

    forged = await flow.callback(f"{CALLBACK}?code={code}&state=forged-state")
    assert forged["calendarConnectionError"] == "OAUTH_STATE_INVALID"
    missing = await flow.callback(f"{CALLBACK}?code={code}")
    assert missing["calendarConnectionError"] == "OAUTH_STATE_INVALID"

    landed = await flow.callback(location)  # the real answer still works
    assert "calendarConnection" in landed
    replayed = await flow.callback(location)
    assert replayed["calendarConnectionError"] == "OAUTH_STATE_INVALID"
    assert "start connecting the calendar again" in replayed["message"]
    assert len(await flow.connections(ada)) == 1
    assert len(flow.google.calls("token")) == 1


def shared_inbox(person: Person, email: str) -> InboxConnection:
    return InboxConnection(
        account_id=person.account.id, user_id=person.user.id, email=email, kind=InboxKind.SHARED
    )


async def test_permission_shared_inbox_and_limit_rules_hold_for_google(
    flow: GoogleFlow, factory: Factory
) -> None:
    no_permission = await factory.person()
    async with factory.sessionmaker.begin() as session:
        user = await session.merge(no_permission.user)
        user.personal_email_access = False
    refused = await flow.start(no_permission)
    assert refused["__typename"] == "PermissionRequired"  # S3

    shared = await factory.person()
    await factory.add(shared_inbox(shared, shared.user.email))
    refused = await flow.start(shared)
    assert refused["__typename"] == "SharedInboxNotAllowed"  # S4
    assert flow.google.requests == []  # refused before any call to Google

    # S4 for the Google account itself: known only once Google names it, at the callback.
    team = await factory.person()
    await factory.add(shared_inbox(team, flow.google.email))
    landed = await flow.connect(team)
    assert landed["calendarConnectionError"] == "SHARED_INBOX_NOT_ALLOWED"

    # S6: one connection; two consents raced in parallel cannot make two.
    ada = await factory.person()
    first = await flow.start(ada)
    second = await flow.start(ada)
    first_location = await flow.consent(first["authorizationUrl"])
    second_location = await flow.consent(second["authorizationUrl"])
    assert "calendarConnection" in await flow.callback(first_location)
    late = await flow.callback(second_location)
    assert late["calendarConnectionError"] == "CONNECTION_LIMIT_REACHED"
    again = await flow.start(ada)
    assert again["__typename"] == "ConnectionLimitReached"
    assert len(await flow.connections(ada)) == 1


async def test_google_busy_time_hides_slots_on_the_hosts_page(
    flow: GoogleFlow, factory: Factory, app: Starlette
) -> None:
    ada = await factory.person(url_prefix="ada")
    await flow.connect(ada)
    slug = await make_page(flow.gql, ada, timeZone="America/New_York", bookingWindowDays=30)

    starts = scenario_busy_hidden(await scenario_week_slots(app.state.runtime.services, slug))

    assert utc(4, 15) in starts  # transparent focus time is free
    assert utc(8, 15) in starts  # working elsewhere is free (C4)
    assert utc(8, 16) not in starts  # the 1:1 that day is not
    assert [call.body["items"] for call in flow.google.calls("freeBusy.query")] == [
        [{"id": flow.google.email}]
    ]

    # Google throttling for longer than we wait: the fresh busy-cache read answers (C16);
    # without one, availability is unknown, never free time.
    flow.google.fail("429", times=None, retry_after="600")
    cached = scenario_busy_hidden(await scenario_week_slots(app.state.runtime.services, slug))
    assert cached == starts
    async with factory.sessionmaker.begin() as session:
        await session.execute(delete(BusyCacheWindow))
    with pytest.raises(AvailabilityUnknownError):
        await scenario_week_slots(app.state.runtime.services, slug)


async def test_busy_time_on_an_availability_calendar_hides_its_slot_once_selected(
    flow: GoogleFlow, factory: Factory, app: Starlette
) -> None:
    """S12: free/busy is checked on every availability calendar before a time is offered;
    a calendar not selected is not consulted."""
    ada = await factory.person(url_prefix="ada")
    await flow.connect(ada)
    slug = await make_page(flow.gql, ada, timeZone="America/New_York", bookingWindowDays=30)
    flow.google.add_event(
        ScriptedEvent("team-sync", "Team sync", utc(5, 15), utc(5, 16)),
        calendar_id=TEAM_CALENDAR,
    )
    services = app.state.runtime.services

    async def offered() -> set[dt.datetime]:
        found = await page_slots(
            services,
            await get_public_page(services, slug, None),
            start=utc(4, 0),
            end=utc(9, 0),
            duration=30,
            now=SCENARIO_NOW,
            live=True,  # read Google now, not the listing cache
        )
        return {slot.start for slot in found.slots}

    # Team is not selected yet: only the primary's busy time hides slots.
    assert {utc(5, 15), utc(5, 15, 15)} <= await offered()

    (connection,) = await flow.connections(ada)
    team = next(c["id"] for c in connection["remoteCalendars"] if c["name"] == "Team")
    selected = await flow.gql(SET_AVAILABILITY, {"ids": [team]}, token=ada.token)
    assert selected["data"]["setAvailabilityCalendars"]["__typename"] == (
        "SetAvailabilityCalendarsSuccess"
    )
    starts = await offered()

    assert not {utc(5, 14, 45), utc(5, 15), utc(5, 15, 30)} & starts  # overlap the team sync
    assert utc(5, 16, 30) in starts  # after it (16:00 is the 1:1 on the primary)
    asked = flow.google.calls("freeBusy.query")[-1].body["items"]
    assert sorted(item["id"] for item in asked) == sorted([flow.google.email, TEAM_CALENDAR])


async def test_an_expired_access_token_is_refreshed_and_the_new_one_stored_encrypted(
    flow: GoogleFlow,
    factory: Factory,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
) -> None:
    ada, pk, slug = await connected_host(flow, factory)
    store = app.state.runtime.services.credentials
    async with sessionmaker() as session:
        before = await store.load(session, pk)
    flow.google.expire_access_tokens()

    result = await flow.gql(SLOTS, {"slug": slug, **window()})

    assert result["data"]["availableSlots"]["__typename"] == "AvailableSlots", result
    assert [(c.operation, c.status) for c in flow.google.calls()][-3:] == [
        ("freeBusy.query", 401),
        ("token", 200),
        ("freeBusy.query", 200),
    ]
    async with sessionmaker() as session:
        after = await store.load(session, pk)
    assert after is not None
    assert before is not None
    assert after["access_token"] != before["access_token"]
    assert after["access_token"] == flow.google.calls("freeBusy.query")[-1].bearer
    assert after["refresh_token"] == before["refresh_token"]
    data = await dump(database_url)
    for secret in flow.google.issued_secrets():
        assert secret.encode() not in data
    [connection] = await flow.connections(ada)
    assert connection["status"] == "CONNECTED"


async def test_a_revoked_grant_turns_the_connection_access_lost_and_stops_booking(
    flow: GoogleFlow, factory: Factory
) -> None:
    ada, _, slug = await connected_host(flow, factory)
    flow.google.revoke_grants()  # the user removed Slotgraph at their Google account

    result = await flow.gql(SLOTS, {"slug": slug, **window()})

    assert result["data"]["availableSlots"]["__typename"] == "PageUnavailable"
    assert result["data"]["availableSlots"]["reason"] == "HOST_ACCESS_LOST"  # S13
    [connection] = await flow.connections(ada)
    assert connection["status"] == "ACCESS_LOST"  # C2
    refreshes = flow.google.calls("token")
    assert refreshes[-1].status == 400  # invalid_grant
    for secret in flow.google.issued_secrets():
        assert secret not in str(result)


async def test_disconnect_revokes_the_grant_at_google_and_deletes_the_credential(
    flow: GoogleFlow, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada, _, _ = await connected_host(flow, factory)
    [connection] = await flow.connections(ada)
    async with sessionmaker() as session:
        assert (await session.execute(select(Credential))).first() is not None

    result = await flow.gql(DISCONNECT, {"id": connection["id"]}, token=ada.token)

    assert result == {
        "data": {
            "disconnectCalendar": {
                "__typename": "DisconnectCalendarSuccess",
                "connection": {"status": "DISCONNECTED"},
            }
        }
    }
    (revoke,) = flow.google.calls("revoke")
    assert revoke.status == 200
    assert flow.google.grant_revoked(revoke.body["token"])
    assert revoke.body["token"].startswith("1//")  # the refresh token: the whole grant
    async with sessionmaker() as session:
        assert (await session.execute(select(Credential))).first() is None


async def test_disconnect_stops_the_push_channels_before_revoking_the_grant(
    flow: GoogleFlow,
    factory: Factory,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ada, connection_id, _ = await connected_host(flow, factory)
    watches = Watches(
        sessionmaker,
        app.state.runtime.services.connection_clients,
        # Nothing listens there: the channel's `sync` message goes unanswered, as it may.
        WatchConfig(public_base_url="http://127.0.0.1:9"),
    )
    assert await watches.ensure(connection_id) == 1
    [channel] = flow.google.live_channels()
    [connection] = await flow.connections(ada)

    result = await flow.gql(DISCONNECT, {"id": connection["id"]}, token=ada.token)

    assert result["data"]["disconnectCalendar"]["__typename"] == "DisconnectCalendarSuccess"
    [stop] = flow.google.calls("channels.stop")
    assert (stop.status, stop.body) == (
        204,
        {"id": channel.id, "resourceId": channel.resource_id},
    )
    assert flow.google.live_channels() == []
    operations = [r.operation for r in flow.google.requests]
    assert operations.index("channels.stop") < operations.index("revoke")
    async with sessionmaker() as session:
        assert (await session.execute(select(CalendarWatch))).first() is None
