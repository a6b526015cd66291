"""S16 prefill over HTTP: only on the account's custom domains, and only for a visitor
holding the manage token of an earlier booking; nothing to enumerate anonymously. C26: the
answer is what the token's own booking submitted, never anything found through an email."""

from __future__ import annotations

import datetime as dt
from typing import Any

from graphql import build_schema

from slotgraph.models import ConnectedDomain
from slotgraph.server.cli import schema_sdl
from slotgraph.usecases.bookings import new_manage_token
from tests.helpers.accounts import PROVEN
from tests.helpers.accounts import Factory
from tests.helpers.bookings import book_with_token
from tests.helpers.bookings import page_and_nine
from tests.helpers.graphql import PUBLIC_BASE_URL
from tests.helpers.graphql import GraphQLClient
from tests.helpers.pages import make_page

PREFILL = """
query Prefill($slug: String!, $domain: String!, $token: String!) {
  bookingFormPrefill(pageSlug: $slug, domain: $domain, manageToken: $token) {
    __typename
    ... on BookingFormPrefill { name email answers { question answer } }
    ... on Error { message field code }
  }
}
"""
INITECH = [
    {"question": "company", "answer": "Initech"},
    {"question": "topic", "answer": "Pricing"},
]
HOST_ANSWERS = (
    "{ viewer { bookings(first: 10) { edges { node { answers { question answer } } } } } }"
)


async def prefill(gql: GraphQLClient, slug: str, domain: str, token: str) -> Any:
    result = await gql(PREFILL, {"slug": slug, "domain": domain, "token": token})
    assert "errors" not in result, result
    return result["data"]["bookingFormPrefill"]


async def test_prefill_offers_a_bookings_own_answers_on_a_custom_domain_to_its_token_holder(
    gql: GraphQLClient, factory: Factory
) -> None:
    """Each token opens its own booking's submission: a later booking under the same email
    neither adds to an earlier token's answer nor takes from it (C26)."""
    ada, slug, nine = await page_and_nine(gql, factory)
    await factory.add(
        ConnectedDomain(verified_at=PROVEN, account_id=ada.account.id, domain="meet.ada.test")
    )
    first = await book_with_token(
        gql,
        slug,
        nine,
        domain="meet.ada.test",
        answers=INITECH,
    )
    second = await book_with_token(
        gql,
        slug,
        nine + dt.timedelta(hours=1),
        answers=[{"question": "topic", "answer": "Renewal"}],
    )
    assert await prefill(gql, slug, "Meet.Ada.test", first["manageToken"]) == {
        "__typename": "BookingFormPrefill",
        "name": "Cleo Contact",
        "email": "cleo@example.test",
        "answers": INITECH,
    }
    assert await prefill(gql, slug, "meet.ada.test", second["manageToken"]) == {
        "__typename": "BookingFormPrefill",
        "name": "Cleo Contact",
        "email": "cleo@example.test",
        "answers": [{"question": "topic", "answer": "Renewal"}],
    }
    # The host sees each submission's answers on the booking.
    hosted = await gql(HOST_ANSWERS, token=ada.token)
    assert [e["node"]["answers"] for e in hosted["data"]["viewer"]["bookings"]["edges"]] == [
        [{"question": "company", "answer": "Initech"}, {"question": "topic", "answer": "Pricing"}],
        [{"question": "topic", "answer": "Renewal"}],
    ]


async def test_prefill_never_reveals_what_someone_else_submitted_under_the_same_email(
    gql: GraphQLClient, factory: Factory
) -> None:
    """C26, the attack: Mallory books with Cleo's address and presents her own token. She
    gets back what she typed herself, on the custom domain and through every other door
    that takes a manage token; Cleo's name and answers never come back to her, and
    Cleo's token never shows Mallory's."""
    ada, slug, nine = await page_and_nine(gql, factory)
    await factory.add(
        ConnectedDomain(verified_at=PROVEN, account_id=ada.account.id, domain="meet.ada.test")
    )
    cleo = await book_with_token(
        gql,
        slug,
        nine,
        domain="meet.ada.test",
        answers=[
            {"question": "company", "answer": "Initech"},
            {"question": "topic", "answer": "Secret merger"},
        ],
    )
    mallory = await book_with_token(
        gql,
        slug,
        nine + dt.timedelta(hours=1),
        domain="meet.ada.test",
        contact={"name": "Mallory", "email": "CLEO@example.test"},
        answers=[{"question": "topic", "answer": "Curious"}],
    )
    mine = {
        "__typename": "BookingFormPrefill",
        "name": "Mallory",
        "email": "cleo@example.test",
        "answers": [{"question": "topic", "answer": "Curious"}],
    }
    assert await prefill(gql, slug, "meet.ada.test", mallory["manageToken"]) == mine
    # Moving her booking keeps it hers (a reschedule moves the booking in place).
    moved = await gql(
        RESCHEDULE_AS_CONTACT,
        {
            "input": {
                "manageToken": mallory["manageToken"],
                "start": (nine + dt.timedelta(hours=2)).isoformat(),
            }
        },
    )
    assert moved["data"]["rescheduleBookingAsContact"]["__typename"] == (
        "RescheduleBookingAsContactSuccess"
    ), moved
    assert await prefill(gql, slug, "meet.ada.test", mallory["manageToken"]) == mine
    # Cleo's own token still answers Cleo's submission only.
    assert await prefill(gql, slug, "meet.ada.test", cleo["manageToken"]) == {
        "__typename": "BookingFormPrefill",
        "name": "Cleo Contact",
        "email": "cleo@example.test",
        "answers": [
            {"question": "company", "answer": "Initech"},
            {"question": "topic", "answer": "Secret merger"},
        ],
    }
    # On the app domain nobody's answers come back, whoever's token it is.
    app_host = PUBLIC_BASE_URL.removeprefix("https://")
    for token in (mallory["manageToken"], cleo["manageToken"]):
        refused = await prefill(gql, slug, app_host, token)
        assert (refused["__typename"], refused["field"]) == ("ValidationError", "domain")


def test_no_field_looks_submissions_up_by_email() -> None:
    """C26: an email address is never a key to earlier answers. Every root field that
    answers prefill takes a manage token, and none takes an email."""
    schema = build_schema(schema_sdl())
    roots = [schema.query_type, schema.mutation_type, schema.subscription_type]
    prefills = [
        (name, field)
        for root in roots
        if root is not None
        for name, field in root.fields.items()
        if "prefill" in name.lower()
    ]
    assert prefills, "no prefill field found"
    for name, field in prefills:
        assert "manageToken" in field.args, name
        assert not [arg for arg in field.args if "email" in arg.lower()], name


RESCHEDULE_AS_CONTACT = """
mutation Move($input: RescheduleBookingAsContactInput!) {
  rescheduleBookingAsContact(input: $input) { __typename ... on Error { message field } }
}
"""


async def test_prefill_is_refused_off_custom_domains_and_for_unknown_or_foreign_tokens(
    gql: GraphQLClient, factory: Factory
) -> None:
    ada, slug, nine = await page_and_nine(gql, factory)
    await factory.add(
        ConnectedDomain(verified_at=PROVEN, account_id=ada.account.id, domain="meet.ada.test")
    )
    booked = await book_with_token(gql, slug, nine)
    token = booked["manageToken"]
    app_host = PUBLIC_BASE_URL.removeprefix("https://")
    on_app = await prefill(gql, slug, app_host, token)
    assert (on_app["__typename"], on_app["field"]) == ("ValidationError", "domain")

    bob = await factory.person(name="Bob", url_prefix="bob")
    await factory.add(
        ConnectedDomain(verified_at=PROVEN, account_id=bob.account.id, domain="meet.bob.test")
    )
    not_this_page = await prefill(gql, slug, "meet.bob.test", token)  # Bob's domain
    assert (not_this_page["__typename"], not_this_page["field"]) == ("NotFound", "pageSlug")

    unknown = {
        "__typename": "NotFound",
        "message": "No earlier booking for this link; fill in the form.",
        "field": "manageToken",
        "code": "NOT_FOUND",
    }
    forged, _ = new_manage_token()
    assert await prefill(gql, slug, "meet.ada.test", forged) == unknown
    assert await prefill(gql, slug, "meet.ada.test", "") == unknown
    # A token from one account opens nothing on another account's page.
    other = await factory.person(name="Otto", url_prefix="otto")
    await factory.add(
        ConnectedDomain(verified_at=PROVEN, account_id=other.account.id, domain="meet.otto.test")
    )
    otto_slug = await make_page(gql, other)
    assert await prefill(gql, otto_slug, "meet.otto.test", token) == unknown


PAGE_ID = "{ viewer { schedulingPages(first: 1) { edges { node { id } } } } }"
SET_FORM = """
mutation Form($input: UpdateSchedulingPageInput!) {
  updateSchedulingPage(input: $input) { __typename }
}
"""


async def test_prefill_offers_only_what_the_pages_current_form_takes(
    gql: GraphQLClient, factory: Factory
) -> None:
    """A removed question is not disclosed, and an answer the field no longer accepts (a
    choice since dropped) is left out; no other booking's answer stands in for it (C26)."""
    ada, slug, nine = await page_and_nine(gql, factory)
    await factory.add(
        ConnectedDomain(verified_at=PROVEN, account_id=ada.account.id, domain="meet.ada.test")
    )
    earlier = await book_with_token(
        gql,
        slug,
        nine,
        answers=INITECH,
    )
    latest = await book_with_token(
        gql, slug, nine + dt.timedelta(hours=1), answers=[{"question": "topic", "answer": "Other"}]
    )
    listed = await gql(PAGE_ID, token=ada.token)
    page_id = listed["data"]["viewer"]["schedulingPages"]["edges"][0]["node"]["id"]
    form = [
        {"key": "topic", "label": "Topic", "kind": "SINGLE_CHOICE", "options": ["Pricing", "Demo"]},
        {"key": "phone", "label": "Phone", "kind": "PHONE"},
    ]
    changed = await gql(SET_FORM, {"input": {"id": page_id, "formFields": form}}, token=ada.token)
    assert changed["data"]["updateSchedulingPage"]["__typename"] == "UpdateSchedulingPageSuccess"
    assert await prefill(gql, slug, "meet.ada.test", earlier["manageToken"]) == {
        "__typename": "BookingFormPrefill",
        "name": "Cleo Contact",
        "email": "cleo@example.test",
        "answers": [{"question": "topic", "answer": "Pricing"}],
    }
    assert (await prefill(gql, slug, "meet.ada.test", latest["manageToken"]))["answers"] == []


async def test_prefill_keeps_the_typed_name_whatever_the_page_or_contact_is_called_later(
    gql: GraphQLClient, factory: Factory
) -> None:
    """The name is the one typed on the booking itself: a renamed page does not lose it,
    and the CRM contact's name, which may be someone else's (S20), never stands in (C26)."""
    ada, slug, nine = await page_and_nine(gql, factory)
    await factory.add(
        ConnectedDomain(verified_at=PROVEN, account_id=ada.account.id, domain="meet.ada.test")
    )
    await book_with_token(gql, slug, nine)  # Cleo Contact, first under this email
    mallory = await book_with_token(
        gql,
        slug,
        nine + dt.timedelta(hours=1),
        contact={"name": "Mallory", "email": "cleo@example.test"},
        answers=[{"question": "topic", "answer": "Curious"}],
    )
    listed = await gql(PAGE_ID, token=ada.token)
    page_id = listed["data"]["viewer"]["schedulingPages"]["edges"][0]["node"]["id"]
    renamed = await gql(SET_FORM, {"input": {"id": page_id, "title": "Demo"}}, token=ada.token)
    assert renamed["data"]["updateSchedulingPage"]["__typename"] == "UpdateSchedulingPageSuccess"
    assert await prefill(gql, slug, "meet.ada.test", mallory["manageToken"]) == {
        "__typename": "BookingFormPrefill",
        "name": "Mallory",
        "email": "cleo@example.test",
        "answers": [{"question": "topic", "answer": "Curious"}],
    }
