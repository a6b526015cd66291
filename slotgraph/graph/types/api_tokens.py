"""An API token as its owner sees it (C23): never the secret or its digest."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import strawberry

from slotgraph.graph.relay import Node
from slotgraph.graph.rows import from_columns

if TYPE_CHECKING:
    from slotgraph.models import ApiToken as TokenRow


@strawberry.type(description="One of the viewer's API tokens; its secret was shown only once.")
class ApiToken(Node):
    name: str
    scopes: list[str]
    created_at: dt.datetime
    last_used_at: dt.datetime | None = strawberry.field(
        description="When a request last used it, to the minute (C48)."
    )
    expires_at: dt.datetime | None = strawberry.field(description="Null: it does not expire.")
    revoked_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: TokenRow) -> ApiToken:
        return from_columns(cls, row, scopes=list(row.scopes))
