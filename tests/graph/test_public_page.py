"""The public page lookup: anonymous, same page on every domain of its account (S15),
a typed reason when pages are turned off (S17)."""

from __future__ import annotations

import pytest

from slotgraph.models import ConnectedDomain
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import Provider
from tests.helpers.accounts import PROVEN
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.graphql import PUBLIC_BASE_URL
from tests.helpers.graphql import GraphQLClient

PUBLIC_PAGE = """
query Page($slug: String!, $domain: String) {
  schedulingPage(slug: $slug, domain: $domain) {
    __typename
    ... on PublicSchedulingPage {
      title slug url durations hostName timeZone offline
      formFields { key label kind required options }
    }
    ... on Error { message field code }
    ... on PageUnavailable { reason }
  }
}
"""


@pytest.fixture
async def ada(factory: Factory, gql: GraphQLClient) -> Person:
    ada = await factory.person(name="Ada", url_prefix="ada")
    await factory.add(
        ConnectedDomain(
            verified_at=PROVEN,
            account_id=ada.account.id,
            domain="Meet.Ada.test",
            robots_disallow_meetings=False,
        )
    )
    created = await gql(
        'mutation { createSchedulingPage(input: {title: "Intro", durations: [15, 30]}) '
        "{ __typename } }",
        token=ada.token,
    )
    assert created["data"]["createSchedulingPage"]["__typename"] == "CreateSchedulingPageSuccess"
    return ada


async def test_anyone_can_read_a_public_page(gql: GraphQLClient, ada: Person) -> None:
    expected = {
        "data": {
            "schedulingPage": {
                "__typename": "PublicSchedulingPage",
                "title": "Intro",
                "slug": "ada/intro",
                "url": f"{PUBLIC_BASE_URL}/meetings/ada/intro",
                "durations": [15, 30],
                "hostName": "Ada",
                "timeZone": "UTC",
                "offline": True,  # no calendar connected (S7)
                "formFields": [],
            }
        }
    }
    assert await gql(PUBLIC_PAGE, {"slug": "ada/intro"}) == expected
    assert await gql(PUBLIC_PAGE, {"slug": "/ADA/Intro/"}) == expected
    assert await gql(PUBLIC_PAGE, {"slug": "ada/intro", "domain": "app.slotgraph.test"}) == (
        expected
    )
    # The same page on the account's custom domain (S15).
    assert await gql(PUBLIC_PAGE, {"slug": "ada/intro", "domain": "meet.ada.test"}) == expected


async def test_unknown_slugs_and_foreign_domains_are_not_found(
    gql: GraphQLClient, factory: Factory, ada: Person
) -> None:
    other = await factory.person(name="Other")
    await factory.add(
        ConnectedDomain(
            verified_at=PROVEN,
            account_id=other.account.id,
            domain="other.test",
            robots_disallow_meetings=False,
        )
    )
    not_found = {
        "data": {
            "schedulingPage": {
                "__typename": "NotFound",
                "message": "No scheduling page at this address; "
                "check the meeting link you were given.",
                "field": "slug",
                "code": "NOT_FOUND",
            }
        }
    }
    assert await gql(PUBLIC_PAGE, {"slug": "ada/nope"}) == not_found
    assert await gql(PUBLIC_PAGE, {"slug": "ada/intro", "domain": "other.test"}) == not_found
    assert await gql(PUBLIC_PAGE, {"slug": "ada/intro", "domain": "unknown.test"}) == not_found


async def test_turned_off_pages_answer_with_a_reason_and_come_back(
    gql: GraphQLClient, ada: Person
) -> None:
    turn = (
        "mutation($on: Boolean!) { updateCalendarSettings(input: "
        "{schedulingPagesEnabled: $on}) { __typename } }"
    )
    await gql(turn, {"on": False}, token=ada.token)
    off = await gql(PUBLIC_PAGE, {"slug": "ada/intro"})
    assert off == {
        "data": {
            "schedulingPage": {
                "__typename": "PageUnavailable",
                "message": "Ada is not taking bookings through scheduling pages right now; contact "
                "them directly.",
                "field": "slug",
                "code": "PAGE_UNAVAILABLE",
                "reason": "PAGES_TURNED_OFF",
            }
        }
    }
    await gql(turn, {"on": True}, token=ada.token)
    on = await gql(PUBLIC_PAGE, {"slug": "ada/intro"})
    assert on["data"]["schedulingPage"]["__typename"] == "PublicSchedulingPage"


FORM_PAGE = """
mutation {
  createSchedulingPage(input: {title: "Demo", formFields: [
    {key: "company", label: "Company", kind: SHORT_TEXT, required: true},
    {key: "team_size", label: "Team size", kind: SINGLE_CHOICE, options: ["1-10", "11-50"]}
  ]}) { __typename }
}
"""


async def test_the_public_page_shows_its_form_fields(gql: GraphQLClient, ada: Person) -> None:
    created = await gql(FORM_PAGE, token=ada.token)
    assert created["data"]["createSchedulingPage"]["__typename"] == "CreateSchedulingPageSuccess"
    page = (await gql(PUBLIC_PAGE, {"slug": "ada/demo"}))["data"]["schedulingPage"]
    assert page["formFields"] == [
        {
            "key": "company",
            "label": "Company",
            "kind": "SHORT_TEXT",
            "required": True,
            "options": [],
        },
        {
            "key": "team_size",
            "label": "Team size",
            "kind": "SINGLE_CHOICE",
            "required": False,
            "options": ["1-10", "11-50"],
        },
    ]


async def offline(gql: GraphQLClient) -> bool:
    page = (await gql(PUBLIC_PAGE, {"slug": "ada/intro"}))["data"]["schedulingPage"]
    return bool(page["offline"])


@pytest.mark.parametrize("provider", [Provider.GOOGLE, Provider.EXCHANGE])
async def test_a_connected_calendar_with_scheduling_pages_on_takes_the_page_online(
    gql: GraphQLClient, factory: Factory, ada: Person, provider: Provider
) -> None:
    await factory.connection(ada, provider=provider)
    assert await offline(gql) is False


async def test_without_a_calendar_taking_bookings_the_page_is_offline(
    gql: GraphQLClient, factory: Factory, ada: Person
) -> None:
    """C5: a connection with scheduling pages off, or disconnected, books nothing (S7)."""
    bob = await factory.person(name="Bob")
    await factory.connection(bob)  # another host's calendar is not Ada's
    assert await offline(gql) is True
    await factory.connection(ada, scheduling_pages=False)
    assert await offline(gql) is True
    await factory.connection(ada, status=ConnectionStatus.DISCONNECTED)
    assert await offline(gql) is True


async def test_a_connection_that_lost_access_does_not_make_the_page_offline(
    gql: GraphQLClient, factory: Factory, ada: Person
) -> None:
    """S13: booking is refused until access is regained, so no "request" promise is shown."""
    await factory.connection(ada, status=ConnectionStatus.ACCESS_LOST)
    assert await offline(gql) is False
