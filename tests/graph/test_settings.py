"""updateCalendarSettings: one atomic save (S19, C8) with the gating of S10, S12, S14, S15,
S17, S18 and C5, C6, C7, C11."""

from __future__ import annotations

from typing import Any

import pytest

from slotgraph.graph.relay import to_global_id
from slotgraph.models import ConnectedDomain
from slotgraph.models.enums import CalendarAccess
from slotgraph.models.enums import CalendarStatus
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import Provider
from slotgraph.models.enums import Seat
from slotgraph.models.enums import Tier
from tests.helpers.accounts import PROVEN
from tests.helpers.accounts import CalendarSpec
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.graphql import PUBLIC_BASE_URL
from tests.helpers.graphql import GraphQLClient

SAVE = """
mutation Save($input: UpdateCalendarSettingsInput!) {
  updateCalendarSettings(input: $input) {
    __typename
    ... on Error { message field code }
    ... on UpdateCalendarSettingsSuccess { settings { meetingUrlPrefix } }
  }
}
"""
SETTINGS = """
{ viewer {
  calendarSettings {
    meetingUrlPrefix schedulingPagesEnabled chatLinkEnabled meetingBaseUrl
    defaultMeetingPage { title } chatPage { title } meetingDomain { domain }
  }
  calendarConnections { edges { node {
    calendarSyncEnabled taskSyncEnabled schedulingPagesEnabled
    remoteCalendars { name isAvailabilityCalendar }
  } } }
  schedulingPages { edges { node { url } } }
} }
"""
CREATE = """
mutation($title: String!) { createSchedulingPage(input: {title: $title}) {
  ... on CreateSchedulingPageSuccess { page { id } } } }
"""


async def save(gql: GraphQLClient, person: Person, **fields: Any) -> dict[str, Any]:
    result = await gql(SAVE, {"input": fields}, token=person.token)
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["updateCalendarSettings"]
    return payload


async def snapshot(gql: GraphQLClient, person: Person) -> dict[str, Any]:
    viewer: dict[str, Any] = (await gql(SETTINGS, token=person.token))["data"]["viewer"]
    return viewer


async def page_id(gql: GraphQLClient, person: Person, title: str) -> str:
    result = await gql(CREATE, {"title": title}, token=person.token)
    return str(result["data"]["createSchedulingPage"]["page"]["id"])


@pytest.fixture
async def ada(factory: Factory) -> Person:
    return await factory.person(name="Ada", url_prefix="ada")


async def test_a_bad_field_leaves_every_other_field_unchanged(
    gql: GraphQLClient, factory: Factory, ada: Person
) -> None:
    connection, calendars = await factory.connection(
        ada,
        calendars=(
            CalendarSpec("Team"),
            CalendarSpec("Busy only", CalendarAccess.FREE_BUSY_READER),
        ),
    )
    page = await page_id(gql, ada, "Intro")
    before = await snapshot(gql, ada)
    cases: list[dict[str, Any]] = [
        {"chatLinkEnabled": True},  # no chat page chosen: refused last, after other changes
        {"availabilityCalendarIds": [to_global_id("RemoteCalendar", calendars[2].id)]},
        {"meetingUrlPrefix": "Not Valid!"},
        {
            "connections": [
                {
                    "connectionId": to_global_id("CalendarConnection", connection.id),
                    "taskSyncEnabled": True,
                    "calendarSyncEnabled": False,
                }
            ]
        },
    ]
    for bad in cases:
        good: dict[str, Any] = {
            "meetingUrlPrefix": "renamed",
            "schedulingPagesEnabled": False,
            "defaultMeetingPageId": page,
            "availabilityCalendarIds": [to_global_id("RemoteCalendar", calendars[1].id)],
            "connections": [
                {
                    "connectionId": to_global_id("CalendarConnection", connection.id),
                    "schedulingPagesEnabled": True,
                    "calendarSyncEnabled": False,
                }
            ],
        }
        payload = await save(gql, ada, **{**good, **bad})
        assert payload["code"] == "VALIDATION", (bad, payload)
        assert await snapshot(gql, ada) == before, bad


async def test_saving_everything_at_once(gql: GraphQLClient, factory: Factory, ada: Person) -> None:
    connection, calendars = await factory.connection(ada, calendars=(CalendarSpec("Team"),))
    domain = ConnectedDomain(
        verified_at=PROVEN,
        account_id=ada.account.id,
        domain="meet.ada.test",
        robots_disallow_meetings=True,
    )
    await factory.add(domain)
    intro = await page_id(gql, ada, "Intro")
    demo = await page_id(gql, ada, "Demo")
    payload = await save(
        gql,
        ada,
        meetingUrlPrefix="ada-l",
        defaultMeetingPageId=intro,
        meetingDomainId=to_global_id("ConnectedDomain", domain.id),
        chatLinkEnabled=True,
        chatPageId=demo,
        availabilityCalendarIds=[to_global_id("RemoteCalendar", calendars[1].id)],
        connections=[
            {
                "connectionId": to_global_id("CalendarConnection", connection.id),
                "taskSyncEnabled": True,
            }
        ],
    )
    assert payload == {
        "__typename": "UpdateCalendarSettingsSuccess",
        "settings": {"meetingUrlPrefix": "ada-l"},
    }
    assert await snapshot(gql, ada) == {
        "calendarSettings": {
            "meetingUrlPrefix": "ada-l",
            "schedulingPagesEnabled": True,
            "chatLinkEnabled": True,
            "meetingBaseUrl": "https://meet.ada.test",
            "defaultMeetingPage": {"title": "Intro"},
            "chatPage": {"title": "Demo"},
            "meetingDomain": {"domain": "meet.ada.test"},
        },
        "calendarConnections": {
            "edges": [
                {
                    "node": {
                        "calendarSyncEnabled": True,
                        "taskSyncEnabled": True,
                        "schedulingPagesEnabled": True,
                        "remoteCalendars": [
                            {"name": "Ada", "isAvailabilityCalendar": False},
                            {"name": "Team", "isAvailabilityCalendar": True},
                        ],
                    }
                }
            ]
        },
        # S15: changing the domain updates every link; S14: existing slugs keep their prefix.
        "schedulingPages": {
            "edges": [
                {"node": {"url": "https://meet.ada.test/meetings/ada/intro"}},
                {"node": {"url": "https://meet.ada.test/meetings/ada/demo"}},
            ]
        },
    }
    back = await save(gql, ada, meetingDomainId=None)
    assert back["__typename"] == "UpdateCalendarSettingsSuccess"
    urls = (await snapshot(gql, ada))["schedulingPages"]["edges"]
    assert urls[0]["node"]["url"] == f"{PUBLIC_BASE_URL}/meetings/ada/intro"


@pytest.mark.parametrize(
    "fields",
    [
        {"meetingUrlPrefix": "x"},
        {"meetingDomainId": None},
        {"chatLinkEnabled": False},
        {"availabilityCalendarIds": []},
    ],
)
async def test_link_settings_need_a_connected_calendar(
    gql: GraphQLClient, ada: Person, fields: dict[str, Any]
) -> None:
    payload = await save(gql, ada, **fields)
    assert payload["__typename"] == "CalendarRequired"
    assert payload["code"] == "CALENDAR_REQUIRED"
    assert "Connect a calendar first" in payload["message"]


async def test_turning_pages_off_needs_no_calendar(gql: GraphQLClient, ada: Person) -> None:
    payload = await save(gql, ada, schedulingPagesEnabled=False)
    assert payload["__typename"] == "UpdateCalendarSettingsSuccess"
    assert (await snapshot(gql, ada))["calendarSettings"]["schedulingPagesEnabled"] is False


@pytest.mark.parametrize(
    ("seat", "tier"),
    [(Seat.NONE, Tier.ENTERPRISE), (Seat.SALES, Tier.FREE), (Seat.SERVICE, Tier.FREE)],
)
async def test_url_prefix_and_default_link_need_a_paid_seat(
    gql: GraphQLClient, factory: Factory, seat: Seat, tier: Tier
) -> None:
    person = await factory.person(seat=seat, tier=tier)
    await factory.connection(person)
    page = await page_id(gql, person, "Intro")
    for fields in ({"meetingUrlPrefix": "mine"}, {"defaultMeetingPageId": page}):
        payload = await save(gql, person, **fields)
        assert payload["__typename"] == "SeatRequired", fields
        assert payload["field"] == next(iter(fields))


async def test_a_starter_seat_may_change_the_prefix(gql: GraphQLClient, factory: Factory) -> None:
    person = await factory.person(seat=Seat.SERVICE, tier=Tier.STARTER)
    await factory.connection(person)
    assert (await save(gql, person, meetingUrlPrefix="team"))["__typename"] == (
        "UpdateCalendarSettingsSuccess"
    )


async def test_custom_domains_need_the_plan_and_a_connected_domain(
    gql: GraphQLClient, factory: Factory
) -> None:
    no_plan = await factory.person(custom_domains=False)
    await factory.connection(no_plan)
    domain = ConnectedDomain(
        verified_at=PROVEN,
        account_id=no_plan.account.id,
        domain="a.test",
        robots_disallow_meetings=False,
    )
    await factory.add(domain)
    refused = await save(gql, no_plan, meetingDomainId=to_global_id("ConnectedDomain", domain.id))
    assert refused["__typename"] == "PlanFeatureRequired"

    # C6: within a plan account any user may pick any domain connected in that account.
    owner = await factory.person(name="Owner")
    colleague = await factory.person(name="Colleague", account=owner.account)
    await factory.connection(colleague)
    shared = ConnectedDomain(
        verified_at=PROVEN,
        account_id=owner.account.id,
        domain="team.test",
        robots_disallow_meetings=False,
    )
    await factory.add(shared)
    ok = await save(gql, colleague, meetingDomainId=to_global_id("ConnectedDomain", shared.id))
    assert ok["__typename"] == "UpdateCalendarSettingsSuccess"
    foreign = await save(gql, colleague, meetingDomainId=to_global_id("ConnectedDomain", domain.id))
    assert foreign["__typename"] == "NotFound"
    assert "domain manager" in foreign["message"]


async def test_availability_calendars_offered_only_with_full_access(
    gql: GraphQLClient, factory: Factory, ada: Person
) -> None:
    _, calendars = await factory.connection(
        ada,
        calendars=(
            CalendarSpec("Busy only", CalendarAccess.FREE_BUSY_READER),
            CalendarSpec("No details", all_details=False),
            CalendarSpec("Gone", status=CalendarStatus.ACCESS_LOST),
        ),
    )
    for calendar in calendars[1:]:
        payload = await save(
            gql, ada, availabilityCalendarIds=[to_global_id("RemoteCalendar", calendar.id)]
        )
        assert (payload["__typename"], payload["field"]) == (
            "ValidationError",
            "availabilityCalendarIds",
        ), calendar.name
    # Microsoft calendars have no "see all details" flag: a reader calendar is fine there.
    _, ms_calendars = await factory.connection(
        ada, provider=Provider.MICROSOFT365, calendars=(CalendarSpec("Shared", all_details=False),)
    )
    ok = await save(
        gql, ada, availabilityCalendarIds=[to_global_id("RemoteCalendar", ms_calendars[1].id)]
    )
    assert ok["__typename"] == "UpdateCalendarSettingsSuccess"


async def test_no_availability_calendars_through_a_connection_with_pages_off(
    gql: GraphQLClient, factory: Factory, ada: Person
) -> None:
    _, calendars = await factory.connection(
        ada, scheduling_pages=False, calendars=(CalendarSpec("Team"),)
    )
    payload = await save(
        gql, ada, availabilityCalendarIds=[to_global_id("RemoteCalendar", calendars[1].id)]
    )
    assert payload["__typename"] == "ValidationError"
    assert "Scheduling pages are off" in payload["message"]


async def test_a_calendar_that_lost_access_can_stay_or_be_removed(
    gql: GraphQLClient, factory: Factory, sessionmaker: Any, ada: Person
) -> None:
    _, calendars = await factory.connection(ada, calendars=(CalendarSpec("Team"),))
    team = to_global_id("RemoteCalendar", calendars[1].id)
    assert (await save(gql, ada, availabilityCalendarIds=[team]))["__typename"] == (
        "UpdateCalendarSettingsSuccess"
    )
    async with sessionmaker.begin() as session:
        row = await session.get(type(calendars[1]), calendars[1].id)
        row.status = CalendarStatus.ACCESS_LOST
    kept = await save(gql, ada, availabilityCalendarIds=[team], schedulingPagesEnabled=True)
    assert kept["__typename"] == "UpdateCalendarSettingsSuccess"
    removed = await save(gql, ada, availabilityCalendarIds=[])  # the "X" of S13 / C2
    assert removed["__typename"] == "UpdateCalendarSettingsSuccess"
    calendars_after = (await snapshot(gql, ada))["calendarConnections"]["edges"][0]["node"]
    assert [c["isAvailabilityCalendar"] for c in calendars_after["remoteCalendars"]] == [
        False,
        False,
    ]


async def test_task_sync_needs_a_professional_seat_calendar_sync_and_not_exchange(
    gql: GraphQLClient, factory: Factory
) -> None:
    starter = await factory.person(seat=Seat.SALES, tier=Tier.STARTER)
    connection, _ = await factory.connection(starter)
    toggle = {
        "connectionId": to_global_id("CalendarConnection", connection.id),
        "taskSyncEnabled": True,
    }
    assert (await save(gql, starter, connections=[toggle]))["__typename"] == "SeatRequired"

    pro = await factory.person(seat=Seat.SERVICE, tier=Tier.ENTERPRISE)
    exchange, _ = await factory.connection(pro, provider=Provider.EXCHANGE)
    refused = await save(
        gql,
        pro,
        connections=[
            {
                "connectionId": to_global_id("CalendarConnection", exchange.id),
                "taskSyncEnabled": True,
            }
        ],
    )
    assert refused["__typename"] == "ProviderLimitation"

    google, _ = await factory.connection(pro, calendar_sync=False)
    gid = to_global_id("CalendarConnection", google.id)
    no_sync = await save(gql, pro, connections=[{"connectionId": gid, "taskSyncEnabled": True}])
    assert no_sync["__typename"] == "ValidationError"
    both = await save(
        gql,
        pro,
        connections=[{"connectionId": gid, "taskSyncEnabled": True, "calendarSyncEnabled": True}],
    )
    assert both["__typename"] == "UpdateCalendarSettingsSuccess"
    off = await save(gql, pro, connections=[{"connectionId": gid, "calendarSyncEnabled": False}])
    assert off["__typename"] == "UpdateCalendarSettingsSuccess"
    nodes = (await snapshot(gql, pro))["calendarConnections"]["edges"]
    assert nodes[1]["node"]["taskSyncEnabled"] is False  # rides on calendar sync (S10)


async def test_disconnected_connections_cannot_be_toggled(
    gql: GraphQLClient, factory: Factory, ada: Person
) -> None:
    gone, _ = await factory.connection(ada, status=ConnectionStatus.DISCONNECTED)
    payload = await save(
        gql,
        ada,
        connections=[
            {
                "connectionId": to_global_id("CalendarConnection", gone.id),
                "calendarSyncEnabled": True,
            }
        ],
    )
    assert payload["__typename"] == "ValidationError"
    assert "connect the calendar again" in payload["message"]


async def test_input_lists_are_capped(gql: GraphQLClient, factory: Factory, ada: Person) -> None:
    await factory.connection(ada)
    ids = [to_global_id("RemoteCalendar", n) for n in range(1, 52)]
    payload = await save(gql, ada, availabilityCalendarIds=ids)
    assert (payload["__typename"], payload["field"]) == (
        "ValidationError",
        "availabilityCalendarIds",
    )
