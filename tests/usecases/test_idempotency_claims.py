"""An idempotency claim whose work transaction fails after storing its answer gives the
key back at once (C12: only completed results are kept), so a retry runs instead of
waiting out the claim's lease."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from slotgraph.models import Booking
from slotgraph.models import IdempotencyKey
from slotgraph.usecases.idempotency import claimed
from tests.helpers.accounts import Factory
from tests.helpers.bookings import book_with_token
from tests.helpers.bookings import page_and_nine
from tests.helpers.bookings import rows
from tests.helpers.graphql import GraphQLClient


class WorkFailedAfterAnswer(Exception):
    """The work's commit failing after the claim stored its answer."""


async def test_a_claim_whose_transaction_rolls_back_is_given_back(
    gql: GraphQLClient,
    factory: Factory,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    _, slug, nine = await page_and_nine(gql, factory, form_fields=[])
    await book_with_token(gql, slug, nine)
    (booked,), _ = await rows(sessionmaker)
    services = app.state.runtime.services

    async def answer_then_fail() -> None:
        async with claimed(services, "test", "bookMeeting", "key-1", "fp") as claim:
            assert claim.first is None
            async with sessionmaker.begin() as session:
                booking = await session.get(Booking, booked.id)
                assert booking is not None
                await claim.complete(session, booking, offline=False)
                raise WorkFailedAfterAnswer

    with pytest.raises(WorkFailedAfterAnswer):
        await answer_then_fail()

    async with sessionmaker() as session:
        left = (
            await session.execute(select(IdempotencyKey).where(IdempotencyKey.key == "key-1"))
        ).scalar_one_or_none()
    assert left is None

    async with claimed(services, "test", "bookMeeting", "key-1", "fp") as again:
        assert again.first is None
