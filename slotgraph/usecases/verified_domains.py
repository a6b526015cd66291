"""Which connected domains count (C40): the one rule, for every module that asks.

A connected domain serves pages, may be chosen as a meeting domain (S15), is same-origin for
CORS and websockets (C35) and may frame pages only while its ownership is proven: its
`verified_at` is set. A pending domain (never proven) and a lapsed one (its TXT record gone
past the grace period, `slotgraph.usecases.domain_verification`) count for nothing.

`verified_domain()` is the rule as SQL, for queries that join or filter connected domains;
`is_verified_domain(row)` the same rule on a loaded row; the two helpers below answer the
questions other modules ask (a page's embedding origins, a request host's account).
This module imports only the models, so any use case may import it without a cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlalchemy import select

from slotgraph.models import ConnectedDomain
from slotgraph.models.enums import DomainStatus

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy.ext.asyncio import AsyncSession


def verified_domain() -> ColumnElement[bool]:
    """SQL: this `ConnectedDomain` row is proven and so counts (C40)."""
    return ConnectedDomain.verified_at.is_not(None)


def is_verified_domain(row: ConnectedDomain) -> bool:
    """`verified_domain()` on a loaded row."""
    return row.verified_at is not None


def domain_status(row: ConnectedDomain) -> DomainStatus:
    if is_verified_domain(row):
        return DomainStatus.VERIFIED
    return DomainStatus.PENDING if row.lapsed_at is None else DomainStatus.LAPSED


async def verified_domain_names(session: AsyncSession, account_id: int) -> list[str]:
    """The account's verified connected domains, lowercase, sorted: e.g. the origins allowed
    to frame its pages, or to call the API as same-origin (C35)."""
    rows = await session.scalars(
        select(func.lower(ConnectedDomain.domain))
        .where(ConnectedDomain.account_id == account_id, verified_domain())
        .order_by(func.lower(ConnectedDomain.domain))
    )
    return list(rows)


async def verified_domain_account(session: AsyncSession, host: str) -> int | None:
    """The account whose verified connected domain `host` is (no port), or None."""
    found: int | None = await session.scalar(
        select(ConnectedDomain.account_id).where(
            func.lower(ConnectedDomain.domain) == host.lower()[:253], verified_domain()
        )
    )
    return found
