"""Connected domains: the operator's indexing choice and the robots.txt it yields (S15).

S15 lets operators keep scheduling pages out of search engines by putting
`Disallow: /meetings*` in that domain's robots.txt. Slotgraph answers `/robots.txt` for
every host it serves, so the choice is a per-domain flag: on a connected domain with the
flag set, crawlers are told to stay off `/meetings*`; everywhere else (the app domain,
unknown hosts) everything is allowed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlalchemy import select

from slotgraph.models import ConnectedDomain
from slotgraph.models.enums import Scope
from slotgraph.usecases.scoped_rows import RowLookup
from slotgraph.usecases.scoped_rows import in_account
from slotgraph.usecases.verified_domains import verified_domain
from slotgraph.usecases.viewer import Viewer
from slotgraph.usecases.viewer import require_viewer

if TYPE_CHECKING:
    from slotgraph.usecases.services import Services

ALLOW_ALL = "User-agent: *\nDisallow:\n"
DISALLOW_MEETINGS = "User-agent: *\nDisallow: /meetings*\n"


async def robots_txt(services: Services, host: str) -> str:
    """The robots.txt for a request's host name (no port)."""
    async with services.sessionmaker() as session:
        disallow = (
            await session.execute(
                select(ConnectedDomain.robots_disallow_meetings).where(
                    func.lower(ConnectedDomain.domain) == host.lower()[:253],
                    verified_domain(),  # several accounts may hold it pending (C40)
                )
            )
        ).scalar_one_or_none()
    return DISALLOW_MEETINGS if disallow else ALLOW_ALL


# A domain of the viewer's account; a foreign id is NotFound like a missing one (C9).
DOMAINS = RowLookup(ConnectedDomain, in_account(ConnectedDomain.account_id), "connected domain")


async def update_connected_domain(
    services: Services,
    viewer: Viewer | None,
    domain_id: int,
    *,
    disallow_meetings_indexing: bool | None,
) -> ConnectedDomain:
    viewer = require_viewer(viewer, Scope.SETTINGS_WRITE)
    async with services.sessionmaker.begin() as session:
        domain = await DOMAINS.one(session, viewer, domain_id)
        if disallow_meetings_indexing is not None:
            domain.robots_disallow_meetings = disallow_meetings_indexing
    return domain
