"""`GET /robots.txt` per Host (S15): a connected domain whose operator turned indexing of
meeting pages off says `Disallow: /meetings*`; every other host allows everything."""

from __future__ import annotations

import httpx

from slotgraph.graph.relay import to_global_id
from slotgraph.models import ConnectedDomain
from tests.helpers.accounts import PROVEN
from tests.helpers.accounts import Factory
from tests.helpers.graphql import GraphQLClient

UPDATE_DOMAIN = """
mutation($input: UpdateConnectedDomainInput!) {
  updateConnectedDomain(input: $input) {
    __typename
    ... on UpdateConnectedDomainSuccess { domain { domain robotsDisallowMeetings } }
    ... on Error { message field code }
  }
}
"""


async def robots(client: httpx.AsyncClient, host: str) -> tuple[int, str, str]:
    response = await client.get("/robots.txt", headers={"Host": host})
    return response.status_code, response.headers["content-type"], response.text


async def test_robots_txt_follows_each_domains_indexing_choice(
    gql: GraphQLClient, factory: Factory, client: httpx.AsyncClient
) -> None:
    ada = await factory.person(name="Ada")
    meet = ConnectedDomain(verified_at=PROVEN, account_id=ada.account.id, domain="Meet.Ada.test")
    open_domain = ConnectedDomain(
        verified_at=PROVEN, account_id=ada.account.id, domain="open.ada.test"
    )
    await factory.add(meet, open_domain)
    allow = (200, "text/plain; charset=utf-8", "User-agent: *\nDisallow:\n")
    disallow = (200, "text/plain; charset=utf-8", "User-agent: *\nDisallow: /meetings*\n")
    assert await robots(client, "meet.ada.test") == allow

    result = await gql(
        UPDATE_DOMAIN,
        {
            "input": {
                "id": to_global_id("ConnectedDomain", meet.id),
                "disallowMeetingsIndexing": True,
            }
        },
        token=ada.token,
    )
    assert result["data"]["updateConnectedDomain"] == {
        "__typename": "UpdateConnectedDomainSuccess",
        "domain": {"domain": "Meet.Ada.test", "robotsDisallowMeetings": True},
    }
    assert await robots(client, "meet.ada.test:8443") == disallow
    assert await robots(client, "MEET.ADA.TEST") == disallow
    assert await robots(client, "open.ada.test") == allow
    assert await robots(client, "app.slotgraph.test") == allow
    assert await robots(client, "unknown.test") == allow

    bob = await factory.person(name="Bob")
    foreign = await gql(
        UPDATE_DOMAIN,
        {
            "input": {
                "id": to_global_id("ConnectedDomain", open_domain.id),
                "disallowMeetingsIndexing": True,
            }
        },
        token=bob.token,
    )
    assert foreign["data"]["updateConnectedDomain"]["__typename"] == "NotFound"
    assert await robots(client, "open.ada.test") == allow
