"""Where a scheduling page may show beyond its own tab: inside another site's `<iframe>` (its
embed, under C41's reserved `/meetings/embed/`) and in search engines (S15).

Framing: the embed answers `Content-Security-Policy: frame-ancestors` with the app's own
origin and the origins of the page's account's connected domains, served over https (C18: a
meeting base on a connected domain is `https://<domain>`); no other site can frame it, so
no one can dress a page up as theirs (clickjacking). C40 says a connected domain serves
pages only once its ownership is proven: `_embedding_domains` asks only for domains
`slotgraph.usecases.verified_domains` counts, so a pending or lapsed domain frames nothing.

Indexing: a connected domain whose operator keeps meeting pages out of search engines
(`robots_disallow_meetings`, the same flag `/robots.txt` answers from) gets `noindex` on
its pages too, since a crawler that found a link elsewhere may not read robots.txt first.
The app domain is indexable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import func
from sqlalchemy import select

from slotgraph.models import ConnectedDomain
from slotgraph.usecases.verified_domains import verified_domain

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from slotgraph.usecases.services import Services


@dataclass(frozen=True)
class Embedding:
    frame_ancestors: tuple[str, ...]  # origins, the app's first
    indexable: bool  # on the domain the page was asked on


def app_origin(public_base_url: str) -> str:
    parts = urlsplit(public_base_url)
    return f"{parts.scheme}://{parts.netloc}".lower()


async def _embedding_domains(session: AsyncSession, account_id: int) -> list[tuple[str, bool]]:
    """The account's verified domains (C40), which may frame and serve its pages, with their
    indexing flag."""
    rows = await session.execute(
        select(func.lower(ConnectedDomain.domain), ConnectedDomain.robots_disallow_meetings)
        .where(ConnectedDomain.account_id == account_id, verified_domain())
        .order_by(func.lower(ConnectedDomain.domain))
    )
    return [(domain, disallow) for domain, disallow in rows]


async def page_embedding(services: Services, account_id: int, domain: str | None) -> Embedding:
    """How the page of `account_id`, asked for on `domain` (None: the app domain), may show."""
    async with services.sessionmaker() as session:
        domains = await _embedding_domains(session, account_id)
    asked = (domain or "").lower()
    return Embedding(
        frame_ancestors=(
            app_origin(services.public_base_url),
            *(f"https://{name}" for name, _ in domains),
        ),
        indexable=not any(name == asked and disallow for name, disallow in domains),
    )
