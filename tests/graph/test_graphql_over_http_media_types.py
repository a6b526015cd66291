"""GraphQL over HTTP: `application/graphql-response+json` is accepted and answered with
when the `Accept` asks for it, and then a request error (body not JSON, invalid parameters,
a document that does not parse or validate, variables that do not fit) is a 400 with
`errors` and no `data` entry; `application/json` keeps its behaviour (a GraphQL request
error is a 200 with `data: null`). Each case is one of the SHOULDs the `graphql-http`
project's server audit checks for the media type, named by its audit id."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.helpers.accounts import Factory

GRJ = "application/graphql-response+json"
TYPENAME = "{ __typename }"
UNKNOWN_FIELD = "{ 8f31403dfe404bccbb0e835f2629c6a7 }"


async def post(client: httpx.AsyncClient, accept: str | None, body: object) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if accept is not None:
        headers["accept"] = accept
    content = body if isinstance(body, str) else json.dumps(body)
    return await client.post("/graphql", content=content, headers=headers)


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0].strip()


# (audit id, body) -> 200 answered as graphql-response+json, without errors
GOOD: list[tuple[str, object]] = [
    ("22EB", {"query": TYPENAME}),
    ("34A2", {"query": TYPENAME}),
    ("8161", {"operationName": "Query", "query": "query Query { __typename }"}),
    ("94B0", {"query": TYPENAME, "variables": None}),
    ("94B1", {"query": TYPENAME, "operationName": None}),
    ("94B2", {"query": TYPENAME, "extensions": None}),
    ("428F", {"query": TYPENAME, "extensions": {"some": "value"}}),
]

# (audit id, body) -> 400 answered as graphql-response+json, `errors` and no `data`
REQUEST_ERRORS: list[tuple[str, object]] = [
    ("6610", {"notquery": TYPENAME}),
    *[(f"4F5{i}", {"query": bad}) for i, bad in enumerate([{"obj": "ect"}, 0, False, ["a"]])],
    *[
        (f"E3E{i}", {"operationName": bad, "query": TYPENAME})
        for i, bad in enumerate([{"obj": "ect"}, 0, False, ["a"]])
    ],
    *[
        (f"69B{i}", {"query": TYPENAME, "variables": bad})
        for i, bad in enumerate(["s", 0, False, ["a"]])
    ],
    *[
        (f"904{i}", {"query": TYPENAME, "extensions": bad})
        for i, bad in enumerate(["s", 0, False, ["a"]])
    ],
    ("2163", '{ "not a JSON'),
    ("17C5", {"qeury": TYPENAME}),
    ("556A", {"query": "{"}),
    ("74FF", {"query": UNKNOWN_FIELD}),
    ("variables", {"query": "query($n: Int!) { __typename }", "variables": {"n": "x"}}),
]


@pytest.mark.parametrize(("audit", "body"), GOOD, ids=[a for a, _ in GOOD])
async def test_graphql_response_json_is_accepted_and_answered_with(
    client: httpx.AsyncClient, audit: str, body: object
) -> None:
    response = await post(client, GRJ, body)
    assert (response.status_code, media_type(response)) == (200, GRJ), response.text
    assert "errors" not in response.json()


@pytest.mark.parametrize(("audit", "body"), REQUEST_ERRORS, ids=[a for a, _ in REQUEST_ERRORS])
async def test_a_request_error_is_a_400_without_data_in_graphql_response_json(
    client: httpx.AsyncClient, audit: str, body: object
) -> None:
    response = await post(client, GRJ, body)
    assert (response.status_code, media_type(response)) == (400, GRJ), response.text
    answer: dict[str, Any] = response.json()
    assert "data" not in answer
    assert answer["errors"]
    assert all(isinstance(error["message"], str) for error in answer["errors"])


async def test_graphql_response_json_is_preferred_by_quality(client: httpx.AsyncClient) -> None:
    asked = {
        f"{GRJ}, application/json;q=0.9": GRJ,
        f"application/json, {GRJ}": GRJ,
        f"application/json, {GRJ};q=0.5": "application/json",
        "*/*": "application/json",  # 47DE
        "application/json": "application/json",  # 4655
        f"{GRJ};q=0": "application/json",
    }
    for accept, expected in asked.items():
        response = await post(client, accept, {"query": TYPENAME})
        assert (response.status_code, media_type(response)) == (200, expected), accept


async def test_without_accept_the_answer_is_application_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": TYPENAME})  # 80D8
    assert (response.status_code, media_type(response)) == (200, "application/json")
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_a_mutation_over_get_is_a_4xx_in_graphql_response_json(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/graphql", params={"query": "mutation { __typename }"}, headers={"accept": GRJ}
    )  # 9C48
    assert (response.status_code, media_type(response)) == (400, GRJ)
    assert "data" not in response.json()


async def test_a_field_error_is_still_a_200_with_data_in_graphql_response_json(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    ada = await factory.person(name="Ada")
    query = '{ viewer { schedulingPages(after: "bm90LWEtY3Vyc29y") { edges { cursor } } } }'
    response = await client.post(
        "/graphql",
        json={"query": query},
        headers={"accept": GRJ, "authorization": f"Bearer {ada.token}"},
    )
    assert (response.status_code, media_type(response)) == (200, GRJ)
    answer = response.json()
    assert answer["data"] == {"viewer": None}
    assert answer["errors"][0]["path"] == ["viewer", "schedulingPages"]


async def test_an_unusable_token_is_refused_in_the_negotiated_media_type(
    client: httpx.AsyncClient,
) -> None:
    for accept, expected in ((GRJ, GRJ), ("application/json", "application/json")):
        response = await client.post(
            "/graphql",
            json={"query": TYPENAME},
            headers={"accept": accept, "authorization": "Bearer sg_unknown-00000000000000"},
        )
        assert (response.status_code, media_type(response)) == (401, expected)
        assert "data" not in response.json()


async def test_application_json_keeps_request_errors_at_200_with_null_data(
    client: httpx.AsyncClient,
) -> None:
    for query in ("{", UNKNOWN_FIELD):  # 572B, FDE2
        response = await post(client, "application/json", {"query": query})
        assert (response.status_code, media_type(response)) == (200, "application/json")
        assert response.json()["data"] is None
    unparsable = await post(client, "application/json", '{ "not a JSON')
    assert (unparsable.status_code, unparsable.text) == (
        400,
        "Unable to parse request body as JSON",
    )
