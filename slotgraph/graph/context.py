"""The per-request context: the sessionmaker (never a shared session), the viewer, the
use cases' `Services` and this operation's DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

from strawberry.types import Info as StrawberryInfo

from slotgraph.graph.loaders import Loaders

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from slotgraph.usecases.services import Services
    from slotgraph.usecases.viewer import Viewer


@dataclass
class Context:
    sessionmaker: async_sessionmaker[AsyncSession]
    public_base_url: str
    viewer: Viewer | None
    request_id: str
    services: Services
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] | None = None
    # Who is calling, as the limits on public operations count it (C25): the socket's
    # peer, or a trusted proxy's forwarded address (`slotgraph.limits.addresses`).
    client_address: str | None = None
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.reset_loaders()

    def reset_loaders(self) -> None:
        """Fresh caches: called per operation, since a websocket reuses one context."""
        self.loaders = Loaders(self.sessionmaker, self.viewer, self.public_base_url)


Info = StrawberryInfo[Context, None]
