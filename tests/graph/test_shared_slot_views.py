"""availableSlots with shared slot answers on (the production default): the API's view of a
shared answer and the data completed from it (`slotgraph.graph.completion`) serve every
request asking the same thing, each document and zone gets its own correct data, and a
change notice replaces the view with the answer (no request is answered from the old one)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from slotgraph.graph.relay import to_global_id
from slotgraph.graph.types.availability import AvailableSlots
from slotgraph.models import SchedulingPage
from slotgraph.server.app import create_app
from slotgraph.server.settings import Settings
from slotgraph.usecases.availability import PageSlots
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.graphql import GraphQLClient
from tests.helpers.graphql import graphql_over
from tests.helpers.jobs import eventually
from tests.helpers.pages import SLOTS
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday

STARTS = """
query Starts($slug: String!, $start: DateTime!, $end: DateTime!, $tz: String!) {
  availableSlots(pageSlug: $slug, start: $start, end: $end, timeZone: $tz) {
    ... on AvailableSlots { days { date starts } }
  }
}
"""
UPDATE_PAGE = """
mutation Update($input: UpdateSchedulingPageInput!) {
  updateSchedulingPage(input: $input) { __typename }
}
"""


@pytest.fixture
async def sharing(settings: Settings) -> AsyncIterator[Starlette]:
    """The app with shared slot answers on, as `slotgraph serve` runs by default."""
    shared = {"slot_answers_max_entries": 100, "db_pool_size": 2}
    app = create_app(settings.model_copy(update=shared), settings.database_url or "")
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def shared_gql(sharing: Starlette) -> AsyncIterator[GraphQLClient]:
    async with graphql_over(sharing) as client:
        yield client


def monday(hhmm: str, zone_offset: str = "+00:00") -> str:
    return f"{next_monday().isoformat()}T{hhmm}:00{zone_offset}"


def window(slug: str, tz: str = "UTC") -> dict[str, Any]:
    start = dt.datetime.combine(next_monday(), dt.time(), dt.UTC)
    return {
        "slug": slug,
        "start": start.isoformat(),
        "end": (start + dt.timedelta(days=1)).isoformat(),
        "tz": tz,
        "d": 30,
    }


def answer(tz: str, days: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "data": {
            "availableSlots": {
                "__typename": "AvailableSlots",
                "duration": 30,
                "timeZone": tz,
                "offline": True,
                "days": days,
            }
        }
    }


def slots(*starts: str) -> list[dict[str, str]]:
    return [
        {
            "start": start,
            "end": (dt.datetime.fromisoformat(start) + dt.timedelta(minutes=30)).isoformat(),
        }
        for start in starts
    ]


async def nine_to_ten_page(gql: GraphQLClient, factory: Factory) -> tuple[Person, str, int]:
    """A host whose page offers Mondays 09:00-10:00 UTC: the host, the slug, the page id."""
    ada = await factory.person(url_prefix="ada")
    slug = await make_page(
        gql, ada, weeklyHours=[{"weekday": "MONDAY", "start": "09:00", "end": "10:00"}]
    )
    async with factory.sessionmaker() as session:
        page_id = (
            await session.execute(select(SchedulingPage.id).where(SchedulingPage.slug == slug))
        ).scalar_one()
    return ada, slug, page_id


def shared_answer(app: Starlette, page_id: int) -> PageSlots:
    """The answer the process holds for the window of `window(slug)`."""
    start = dt.datetime.combine(next_monday(), dt.time(), dt.UTC)
    answers = app.state.runtime.services.slot_answers
    found: PageSlots | None = answers.get(
        (page_id, start, start + dt.timedelta(days=1), 30), dt.datetime.now(dt.UTC)
    )
    assert found is not None
    return found


async def test_a_shared_answer_is_completed_once_and_each_document_and_zone_gets_its_own(
    sharing: Starlette, shared_gql: GraphQLClient, gql: GraphQLClient, factory: Factory
) -> None:
    _, slug, page_id = await nine_to_ten_page(gql, factory)
    utc = answer(
        "UTC",
        [
            {
                "date": next_monday().isoformat(),
                "slots": slots(monday("09:00"), monday("09:15"), monday("09:30")),
            }
        ],
    )

    first = await shared_gql(SLOTS, window(slug))
    second = await shared_gql(SLOTS, window(slug))
    tokyo = await shared_gql(SLOTS, window(slug, "Asia/Tokyo"))
    starts = await shared_gql(STARTS, window(slug))

    assert first == second == utc
    late = dt.datetime.fromisoformat(monday("09:00")).astimezone(dt.timezone(dt.timedelta(hours=9)))
    assert tokyo == answer(
        "Asia/Tokyo",
        [
            {
                "date": late.date().isoformat(),
                "slots": slots(
                    *((late + dt.timedelta(minutes=minutes)).isoformat() for minutes in (0, 15, 30))
                ),
            }
        ],
    )
    assert starts == {
        "data": {
            "availableSlots": {
                "days": [
                    {
                        "date": next_monday().isoformat(),
                        "starts": [monday("09:00"), monday("09:15"), monday("09:30")],
                    }
                ]
            }
        }
    }
    shared = shared_answer(sharing, page_id)
    view = shared.derived[(AvailableSlots, "UTC")]
    assert view.completion_memo.hits == 1  # the second request reused the first's data
    assert len(view.completion_memo.completed) == 2  # SLOTS and STARTS, each its own


async def test_after_a_change_notice_no_request_is_answered_from_the_old_view(
    sharing: Starlette, shared_gql: GraphQLClient, gql: GraphQLClient, factory: Factory
) -> None:
    ada, slug, page_id = await nine_to_ten_page(gql, factory)
    assert await shared_gql(SLOTS, window(slug)) == await shared_gql(SLOTS, window(slug))

    changed = await gql(
        UPDATE_PAGE,
        {
            "input": {
                "id": to_global_id("SchedulingPage", page_id),
                "weeklyHours": [{"weekday": "MONDAY", "start": "09:30", "end": "10:00"}],
            }
        },
        token=ada.token,
    )
    assert changed == {
        "data": {"updateSchedulingPage": {"__typename": "UpdateSchedulingPageSuccess"}}
    }
    later = answer("UTC", [{"date": next_monday().isoformat(), "slots": slots(monday("09:30"))}])

    async def replaced() -> bool:
        return await shared_gql(SLOTS, window(slug)) == later

    # The notice reaches this process through the pub/sub (LISTEN/NOTIFY here): from the
    # first request that sees the new hours on, none sees the old ones.
    await eventually(replaced, seconds=10)
    for _ in range(3):
        assert await shared_gql(SLOTS, window(slug)) == later
