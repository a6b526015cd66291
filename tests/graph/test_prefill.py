"""S16 prefill over HTTP: only on the account's custom domains, and only for a visitor
holding the manage token of an earlier booking; nothing to enumerate anonymously."""

from __future__ import annotations

import datetime as dt
from typing import Any

from slotgraph.models import ConnectedDomain
from slotgraph.usecases.bookings import new_manage_token
from tests.helpers.accounts import Factory
from tests.helpers.bookings import book_with_token, page_and_nine
from tests.helpers.graphql import PUBLIC_BASE_URL, GraphQLClient
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
HOST_ANSWERS = (
    "{ viewer { bookings(first: 10) { edges { node { answers { question answer } } } } } }"
)


async def prefill(gql: GraphQLClient, slug: str, domain: str, token: str) -> Any:
    result = await gql(PREFILL, {"slug": slug, "domain": domain, "token": token})
    assert "errors" not in result, result
    return result["data"]["bookingFormPrefill"]


async def test_prefill_offers_earlier_answers_on_a_custom_domain_to_the_token_holder(
    gql: GraphQLClient, factory: Factory
) -> None:
    ada, slug, nine = await page_and_nine(gql, factory)
    await factory.add(ConnectedDomain(account_id=ada.account.id, domain="meet.ada.test"))
    first = await book_with_token(
        gql,
        slug,
        nine,
        domain="meet.ada.test",
        answers=[
            {"question": "company", "answer": "Initech"},
            {"question": "topic", "answer": "Pricing"},
        ],
    )
    second = await book_with_token(
        gql,
        slug,
        nine + dt.timedelta(hours=1),
        answers=[{"question": "topic", "answer": "Renewal"}],
    )
    expected = {
        "__typename": "BookingFormPrefill",
        "name": "Cleo Contact",
        "email": "cleo@example.test",
        "answers": [  # by question; the newest answer to each wins
            {"question": "company", "answer": "Initech"},
            {"question": "topic", "answer": "Renewal"},
        ],
    }
    for booked in (first, second):
        assert await prefill(gql, slug, "Meet.Ada.test", booked["manageToken"]) == expected
    # The host sees each submission's answers on the booking.
    hosted = await gql(HOST_ANSWERS, token=ada.token)
    assert [e["node"]["answers"] for e in hosted["data"]["viewer"]["bookings"]["edges"]] == [
        [{"question": "company", "answer": "Initech"}, {"question": "topic", "answer": "Pricing"}],
        [{"question": "topic", "answer": "Renewal"}],
    ]


async def test_prefill_is_refused_off_custom_domains_and_for_unknown_or_foreign_tokens(
    gql: GraphQLClient, factory: Factory
) -> None:
    ada, slug, nine = await page_and_nine(gql, factory)
    await factory.add(ConnectedDomain(account_id=ada.account.id, domain="meet.ada.test"))
    booked = await book_with_token(gql, slug, nine)
    token = booked["manageToken"]
    app_host = PUBLIC_BASE_URL.removeprefix("https://")
    on_app = await prefill(gql, slug, app_host, token)
    assert (on_app["__typename"], on_app["field"]) == ("ValidationError", "domain")

    bob = await factory.person(name="Bob", url_prefix="bob")
    await factory.add(ConnectedDomain(account_id=bob.account.id, domain="meet.bob.test"))
    not_this_page = await prefill(gql, slug, "meet.bob.test", token)  # Bob's domain
    assert (not_this_page["__typename"], not_this_page["field"]) == ("NotFound", "slug")

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
    await factory.add(ConnectedDomain(account_id=other.account.id, domain="meet.otto.test"))
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
    """A removed question is not disclosed; an answer the field no longer accepts (a choice
    since dropped) gives way to an older one it does."""
    ada, slug, nine = await page_and_nine(gql, factory)
    await factory.add(ConnectedDomain(account_id=ada.account.id, domain="meet.ada.test"))
    await book_with_token(
        gql,
        slug,
        nine,
        answers=[
            {"question": "company", "answer": "Initech"},
            {"question": "topic", "answer": "Pricing"},
        ],
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
    assert await prefill(gql, slug, "meet.ada.test", latest["manageToken"]) == {
        "__typename": "BookingFormPrefill",
        "name": "Cleo Contact",
        "email": "cleo@example.test",
        "answers": [{"question": "topic", "answer": "Pricing"}],
    }
