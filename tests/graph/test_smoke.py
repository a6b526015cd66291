from __future__ import annotations

from tests.conftest import Factory, GraphQLClient

VIEWER = "query { viewer { name email calendarSettings { meetingUrlPrefix } } }"


async def test_viewer_is_the_token_owner(gql: GraphQLClient, factory: Factory) -> None:
    ada = await factory.person(name="Ada Host", email="ada@example.test", url_prefix="ada")
    result = await gql(VIEWER, token=ada.token)
    assert result == {
        "data": {
            "viewer": {
                "name": "Ada Host",
                "email": "ada@example.test",
                "calendarSettings": {"meetingUrlPrefix": "ada"},
            }
        }
    }


async def test_anonymous_viewer_is_null(gql: GraphQLClient) -> None:
    assert await gql(VIEWER) == {"data": {"viewer": None}}
