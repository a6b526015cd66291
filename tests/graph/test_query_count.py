"""The settings screen's query costs a fixed number of SQL statements, however many pages
(DataLoaders, no N+1)."""

from __future__ import annotations

from starlette.applications import Starlette

from tests.helpers.accounts import Factory
from tests.helpers.database import counting
from tests.helpers.graphql import GraphQLClient

SETTINGS_SCREEN = """
query Settings {
  viewer {
    id name timeZone
    calendarSettings {
      id meetingUrlPrefix schedulingPagesEnabled chatLinkEnabled meetingBaseUrl
      defaultMeetingPage { id title url } chatPage { id title url } meetingDomain { domain }
    }
    schedulingPages(first: 50) { edges { cursor node { id title slug url durations } } }
    calendarConnections { edges { node { id remoteCalendars { id name isAvailabilityCalendar } } } }
  }
}
"""


async def test_settings_query_count_does_not_grow_with_pages(
    gql: GraphQLClient, factory: Factory, app: Starlette
) -> None:
    counts = []
    for pages in (2, 20):
        person = await factory.person()
        for _ in range(2):
            await factory.connection(person)
        for n in range(pages):
            result = await gql(
                "mutation($t: String!) { createSchedulingPage(input: {title: $t}) "
                "{ ... on CreateSchedulingPageSuccess { page { id } } } }",
                {"t": f"Page {n}"},
                token=person.token,
            )
        last = result["data"]["createSchedulingPage"]["page"]["id"]
        await gql(
            "mutation($p: ID!) { updateCalendarSettings(input: {defaultMeetingPageId: $p, "
            "chatLinkEnabled: true, chatPageId: $p}) { __typename } }",
            {"p": last},
            token=person.token,
        )
        with counting(app) as statements:
            result = await gql(SETTINGS_SCREEN, token=person.token)
        assert "errors" not in result
        assert len(result["data"]["viewer"]["schedulingPages"]["edges"]) == pages
        assert result["data"]["viewer"]["calendarSettings"]["chatPage"]["id"] == last
        counts.append(len(statements))
    # token, user, pages, connections, settings, base url, calendars of the connections,
    # availability selection: 8. The default/chat page usually comes primed by the page
    # list; when its loader's batch runs first (DataLoader batches follow the event loop's
    # scheduling) it costs one read more. Never more, and never per page.
    assert all(8 <= count <= 9 for count in counts), counts
