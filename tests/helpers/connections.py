"""Calendar connections made and driven through GraphQL as the dashboard does: starting an
OAuth connection, connecting Exchange, choosing availability calendars, syncing and
disconnecting."""

from __future__ import annotations

from tests.fakes.exchange import PASSWORD
from tests.fakes.exchange import FakeExchange
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.graphql import GraphQLClient

# Where the OAuth callbacks send the user back to (the test settings' dashboard URL).
DASHBOARD = "https://dashboard.slotgraph.test/settings/calendar"
START = """
mutation Start($input: StartCalendarConnectionInput!) {
  startCalendarConnection(input: $input) {
    __typename
    ... on StartCalendarConnectionSuccess { provider authorizationUrl }
    ... on Error { message field code }
  }
}
"""
CONNECT_EXCHANGE = """
mutation($i: ConnectExchangeCalendarInput!) {
  connectExchangeCalendar(input: $i) { __typename }
}
"""
CONNECT = """
mutation($i: ConnectExchangeCalendarInput!) { connectExchangeCalendar(input: $i) {
  ... on ConnectExchangeCalendarSuccess { connection { id } } ... on Error { message } } }
"""
SYNC = """
mutation Sync($input: SyncCalendarConnectionInput!) {
  syncCalendarConnection(input: $input) {
    __typename
    ... on SyncCalendarConnectionSuccess { connection {
      status syncState lastSyncedAt lastError eventsSynced nextSyncAt
    } }
    ... on Error { message field code }
  }
}
"""
DISCONNECT = """
mutation($id: ID!) { disconnectCalendar(input: {connectionId: $id}) {
  __typename
  ... on DisconnectCalendarSuccess {
    connection { status remoteCalendars { isAvailabilityCalendar } }
  }
  ... on Error { message code }
} }
"""
SET_AVAILABILITY = """
mutation($ids: [ID!]!) { setAvailabilityCalendars(input: {calendarIds: $ids}) {
  __typename ... on Error { message field code }
} }
"""


async def connect_exchange(gql: GraphQLClient, person: Person, exchange: FakeExchange) -> None:
    """Connect the fake mailbox through the real mutation (S2)."""
    connected = await gql(
        CONNECT_EXCHANGE,
        {"i": {"email": exchange.email, "password": PASSWORD, "ewsUrl": exchange.url}},
        token=person.token,
    )
    assert connected["data"]["connectExchangeCalendar"]["__typename"] == (
        "ConnectExchangeCalendarSuccess"
    )


async def exchange_host(gql: GraphQLClient, factory: Factory, exchange: FakeExchange) -> Person:
    """A host (Ada, URL prefix "ada") whose Exchange mailbox is connected (S2)."""
    ada = await factory.person(url_prefix="ada", name="Ada")
    await connect_exchange(gql, ada, exchange)
    return ada
