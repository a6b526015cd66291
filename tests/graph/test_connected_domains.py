"""Connected domains must be proven (C40): an admin adds one, publishes the DNS TXT record the
answer names and verifies it; until then, or once the record has been gone past the grace
period, it hosts no page and cannot be the meeting domain (S15). DNS is a real name server on
loopback (`tests.helpers.dns`), which the app asks through `SLOTGRAPH_DNS_NAMESERVERS`."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from slotgraph.graph.relay import to_global_id
from slotgraph.models import ConnectedDomain
from slotgraph.models.enums import Role
from slotgraph.server.app import create_app
from slotgraph.server.settings import Settings
from slotgraph.usecases.domain_verification import recheck_due_domains
from slotgraph.usecases.services import Services
from tests.helpers.accounts import PROVEN
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.dns import DnsResponder
from tests.helpers.dns import dns_responder
from tests.helpers.graphql import PUBLIC_BASE_URL
from tests.helpers.graphql import GraphQLClient

DOMAIN_FIELDS = "id domain status verifiedAt verificationRecord { name type value }"
ADD = f"""
mutation($domain: String!) {{
  addConnectedDomain(input: {{domain: $domain}}) {{
    __typename
    ... on ConnectedDomainSuccess {{ domain {{ {DOMAIN_FIELDS} }} }}
    ... on Error {{ message field code }}
  }}
}}
"""
VERIFY = f"""
mutation($id: ID!) {{
  verifyConnectedDomain(input: {{id: $id}}) {{
    __typename
    ... on ConnectedDomainSuccess {{ domain {{ {DOMAIN_FIELDS} }} }}
    ... on Error {{ message field code }}
  }}
}}
"""
REMOVE = """
mutation($id: ID!) {
  removeConnectedDomain(input: {id: $id}) {
    __typename
    ... on RemoveConnectedDomainSuccess { removedId }
    ... on Error { message field code }
  }
}
"""
PAGE = """
query($slug: String!, $domain: String) {
  schedulingPage(slug: $slug, domain: $domain) {
    __typename
    ... on PublicSchedulingPage { url }
  }
}
"""
CHOOSE = """
mutation($id: ID) {
  updateCalendarSettings(input: {meetingDomainId: $id}) {
    __typename
    ... on Error { message field code }
  }
}
"""
DOMAINS = f"query {{ viewer {{ connectedDomains {{ {DOMAIN_FIELDS} }} }} }}"


@pytest.fixture(scope="module")
def dns() -> Iterator[DnsResponder]:
    with dns_responder() as responder:
        yield responder


@pytest.fixture(scope="module")
async def domain_app(
    settings: Settings, database_url: str, dns: DnsResponder
) -> AsyncIterator[Starlette]:
    """The app asking the loopback name server, patiently enough for a loaded machine."""
    checked = settings.model_copy(
        update={"dns_nameservers": (dns.address,), "dns_timeout_seconds": 2.0}
    )
    app = create_app(checked, database_url)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def dgql(domain_app: Starlette, dns: DnsResponder) -> AsyncIterator[GraphQLClient]:
    dns.records.clear()
    dns.silent = False
    transport = httpx.ASGITransport(app=domain_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield GraphQLClient(client)


@pytest.fixture
async def ada(factory: Factory, dgql: GraphQLClient) -> Person:
    """An admin with a calendar and a scheduling page, on a plan with custom domains."""
    ada = await factory.person(name="Ada", url_prefix="ada", role=Role.ADMIN)
    await factory.connection(ada)  # the settings screen needs a calendar (S1)
    created = await dgql(
        'mutation { createSchedulingPage(input: {title: "Intro", durations: [30]}) '
        "{ __typename } }",
        token=ada.token,
    )
    assert created["data"]["createSchedulingPage"]["__typename"] == "CreateSchedulingPageSuccess"
    return ada


def services_of(app: Starlette) -> Services:
    services: Services = app.state.runtime.services
    return services


async def added(dgql: GraphQLClient, person: Person, domain: str) -> dict[str, Any]:
    answer = await dgql(ADD, {"domain": domain}, token=person.token)
    result: dict[str, Any] = answer["data"]["addConnectedDomain"]
    assert result["__typename"] == "ConnectedDomainSuccess", result
    return dict(result["domain"])


async def test_a_domain_counts_only_once_its_txt_record_is_found(
    dgql: GraphQLClient, dns: DnsResponder, ada: Person
) -> None:
    domain = await added(dgql, ada, " Meet.Ada.TEST. ")
    record = domain["verificationRecord"]
    assert (domain["domain"], domain["status"], domain["verifiedAt"]) == (
        "meet.ada.test",
        "PENDING",
        None,
    )
    assert (record["name"], record["type"]) == ("_slotgraph-verify.meet.ada.test", "TXT")
    assert len(record["value"]) >= 24

    # Pending: no page on it, and it cannot be the meeting domain (S15).
    assert await dgql(PAGE, {"slug": "ada/intro", "domain": "meet.ada.test"}) == {
        "data": {"schedulingPage": {"__typename": "NotFound"}}
    }
    chosen = await dgql(CHOOSE, {"id": domain["id"]}, token=ada.token)
    assert chosen["data"]["updateCalendarSettings"]["code"] == "DOMAIN_NOT_VERIFIED"

    early = await dgql(VERIFY, {"id": domain["id"]}, token=ada.token)
    assert early["data"]["verifyConnectedDomain"]["code"] == "DOMAIN_NOT_VERIFIED"
    assert record["value"] in early["data"]["verifyConnectedDomain"]["message"]

    dns.publish(record["name"], "some-other-record")
    dns.publish(record["name"], record["value"])
    proven = await dgql(VERIFY, {"id": domain["id"]}, token=ada.token)
    result = proven["data"]["verifyConnectedDomain"]
    assert (result["__typename"], result["domain"]["status"]) == (
        "ConnectedDomainSuccess",
        "VERIFIED",
    )
    assert result["domain"]["verifiedAt"] is not None

    chosen = await dgql(CHOOSE, {"id": domain["id"]}, token=ada.token)
    assert chosen["data"]["updateCalendarSettings"]["__typename"] == "UpdateCalendarSettingsSuccess"
    assert await dgql(PAGE, {"slug": "ada/intro", "domain": "meet.ada.test"}) == {
        "data": {
            "schedulingPage": {
                "__typename": "PublicSchedulingPage",
                "url": "https://meet.ada.test/meetings/ada/intro",
            }
        }
    }


async def test_a_silent_name_server_is_not_taken_for_a_missing_record(
    dgql: GraphQLClient, dns: DnsResponder, ada: Person
) -> None:
    domain = await added(dgql, ada, "meet.ada.test")
    dns.publish(domain["verificationRecord"]["name"], domain["verificationRecord"]["value"])
    dns.silent = True
    answer = await dgql(VERIFY, {"id": domain["id"]}, token=ada.token)
    assert answer["data"]["verifyConnectedDomain"] == {
        "__typename": "DomainCheckUnavailable",
        "message": "No name server answered; try again in a minute.",
        "field": "id",
        "code": "DOMAIN_CHECK_UNAVAILABLE",
    }
    listed = await dgql(DOMAINS, token=ada.token)
    assert [d["status"] for d in listed["data"]["viewer"]["connectedDomains"]] == ["PENDING"]


async def test_only_admins_manage_domains(
    dgql: GraphQLClient, factory: Factory, ada: Person
) -> None:
    member = await factory.person(account=ada.account, name="Bo")
    denied = await dgql(ADD, {"domain": "meet.ada.test"}, token=member.token)
    assert denied["data"]["addConnectedDomain"]["code"] == "PERMISSION_DENIED"
    domain = await added(dgql, ada, "meet.ada.test")
    for operation, field in ((VERIFY, "verifyConnectedDomain"), (REMOVE, "removeConnectedDomain")):
        answer = await dgql(operation, {"id": domain["id"]}, token=member.token)
        assert answer["data"][field]["code"] == "PERMISSION_DENIED", field


async def test_bad_names_and_plans_without_custom_domains_are_refused(
    dgql: GraphQLClient, factory: Factory, ada: Person
) -> None:
    for bad in ("localhost", "https://meet.ada.test/x", "127.0.0.1", "-bad-.test", "a..test"):
        answer = await dgql(ADD, {"domain": bad}, token=ada.token)
        assert answer["data"]["addConnectedDomain"]["code"] == "VALIDATION", bad
    app_domain = PUBLIC_BASE_URL.split("://")[1]
    answer = await dgql(ADD, {"domain": app_domain}, token=ada.token)
    assert answer["data"]["addConnectedDomain"]["code"] == "VALIDATION"
    basic = await factory.person(name="Basic", role=Role.ADMIN, custom_domains=False)
    answer = await dgql(ADD, {"domain": "meet.basic.test"}, token=basic.token)
    assert answer["data"]["addConnectedDomain"]["code"] == "PLAN_FEATURE_REQUIRED"


async def test_nobody_blocks_a_domain_by_adding_it_first(
    dgql: GraphQLClient, dns: DnsResponder, factory: Factory, ada: Person
) -> None:
    squatter = await factory.person(name="Squatter", role=Role.ADMIN)
    squatted = await added(dgql, squatter, "meet.ada.test")
    mine = await added(dgql, ada, "meet.ada.test")  # pending elsewhere: no obstacle
    again = await dgql(ADD, {"domain": "MEET.ada.test"}, token=ada.token)
    assert again["data"]["addConnectedDomain"]["code"] == "DOMAIN_TAKEN"

    dns.publish(mine["verificationRecord"]["name"], mine["verificationRecord"]["value"])
    proven = await dgql(VERIFY, {"id": mine["id"]}, token=ada.token)
    assert proven["data"]["verifyConnectedDomain"]["domain"]["status"] == "VERIFIED"
    # The squatter cannot prove it (their value is not published), nor take it over.
    refused = await dgql(VERIFY, {"id": squatted["id"]}, token=squatter.token)
    assert refused["data"]["verifyConnectedDomain"]["code"] == "DOMAIN_NOT_VERIFIED"
    dns.publish(squatted["verificationRecord"]["name"], squatted["verificationRecord"]["value"])
    taken = await dgql(VERIFY, {"id": squatted["id"]}, token=squatter.token)
    assert taken["data"]["verifyConnectedDomain"]["code"] == "DOMAIN_TAKEN"
    other = await factory.person(name="Late", role=Role.ADMIN)
    late = await dgql(ADD, {"domain": "meet.ada.test"}, token=other.token)
    assert late["data"]["addConnectedDomain"]["code"] == "DOMAIN_TAKEN"


async def test_domains_of_other_accounts_cannot_be_verified_or_removed(
    dgql: GraphQLClient, factory: Factory, ada: Person
) -> None:
    bob = await factory.person(name="Bob", role=Role.ADMIN)
    theirs = await added(dgql, bob, "meet.bob.test")
    unknown = to_global_id("ConnectedDomain", 10**12)
    for operation, field in ((VERIFY, "verifyConnectedDomain"), (REMOVE, "removeConnectedDomain")):
        foreign = await dgql(operation, {"id": theirs["id"]}, token=ada.token)
        missing = await dgql(operation, {"id": unknown}, token=ada.token)
        assert foreign == missing
        assert foreign["data"][field]["code"] == "NOT_FOUND"
    listed = await dgql(DOMAINS, token=bob.token)
    assert [d["domain"] for d in listed["data"]["viewer"]["connectedDomains"]] == ["meet.bob.test"]


async def test_removing_a_meeting_domain_moves_links_back_to_the_app_domain(
    dgql: GraphQLClient, factory: Factory, ada: Person
) -> None:
    row = ConnectedDomain(
        account_id=ada.account.id,
        domain="meet.ada.test",
        verification_token="t",
        verified_at=PROVEN,
    )
    await factory.add(row)
    domain_id = to_global_id("ConnectedDomain", row.id)
    chosen = await dgql(CHOOSE, {"id": domain_id}, token=ada.token)
    assert chosen["data"]["updateCalendarSettings"]["__typename"] == "UpdateCalendarSettingsSuccess"
    removed = await dgql(REMOVE, {"id": domain_id}, token=ada.token)
    assert removed["data"]["removeConnectedDomain"] == {
        "__typename": "RemoveConnectedDomainSuccess",
        "removedId": domain_id,
    }
    assert await dgql(PAGE, {"slug": "ada/intro"}) == {
        "data": {
            "schedulingPage": {
                "__typename": "PublicSchedulingPage",
                "url": f"{PUBLIC_BASE_URL}/meetings/ada/intro",
            }
        }
    }
    assert await dgql(PAGE, {"slug": "ada/intro", "domain": "meet.ada.test"}) == {
        "data": {"schedulingPage": {"__typename": "NotFound"}}
    }


async def test_the_recheck_lapses_a_domain_whose_record_is_gone_past_the_grace_period(
    dgql: GraphQLClient, dns: DnsResponder, domain_app: Starlette, ada: Person
) -> None:
    domain = await added(dgql, ada, "meet.ada.test")
    record = domain["verificationRecord"]
    dns.publish(record["name"], record["value"])
    # The periodic check proves a pending domain by itself once the record is published.
    now = dt.datetime.now(dt.UTC)
    services = dataclasses.replace(
        services_of(domain_app), domain_grace=dt.timedelta(hours=72), clock=lambda: now
    )
    assert await recheck_due_domains(services) == 1
    assert await recheck_due_domains(services) == 0  # just checked: not due again
    await dgql(CHOOSE, {"id": domain["id"]}, token=ada.token)

    async def status_after(hours: float) -> str:
        later = now + dt.timedelta(hours=hours)
        await recheck_due_domains(dataclasses.replace(services, clock=lambda: later))
        listed = await dgql(DOMAINS, token=ada.token)
        return str(listed["data"]["viewer"]["connectedDomains"][0]["status"])

    assert await status_after(0) == "VERIFIED"
    dns.withdraw(record["name"])
    assert await status_after(25) == "VERIFIED"  # missing once: within the grace period
    dns.silent = True
    assert await status_after(50) == "VERIFIED"  # no answer says nothing about the record
    dns.silent = False
    assert await status_after(100) == "LAPSED"  # missing for 75 hours
    assert await dgql(PAGE, {"slug": "ada/intro", "domain": "meet.ada.test"}) == {
        "data": {"schedulingPage": {"__typename": "NotFound"}}
    }
    page = await dgql(PAGE, {"slug": "ada/intro"})
    assert page["data"]["schedulingPage"]["url"] == f"{PUBLIC_BASE_URL}/meetings/ada/intro"

    dns.publish(record["name"], record["value"])
    proven = await dgql(VERIFY, {"id": domain["id"]}, token=ada.token)
    assert proven["data"]["verifyConnectedDomain"]["domain"]["status"] == "VERIFIED"
