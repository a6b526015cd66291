"""Who is calling: the authenticated user of an API token, and what the token allows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from slotgraph.models.enums import Scope
from slotgraph.usecases.errors import PermissionDeniedError


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: int
    account_id: int
    scopes: frozenset[Scope]
    token_id: int
    # When the token stops working (C23): open subscriptions end then.
    expires_at: dt.datetime | None = None

    def require(self, scope: Scope) -> Viewer:
        if scope not in self.scopes:
            raise PermissionDeniedError(
                f"This API token lacks the '{scope.value}' scope; create a token with it "
                f"(`slotgraph create-token --scope {scope.value}`).",
                required_scope=scope.value,
            )
        return self


def require_viewer(viewer: Viewer | None, scope: Scope) -> Viewer:
    """The signed-in viewer holding `scope`, or a PermissionDenied saying how to sign in."""
    if viewer is None:
        raise PermissionDeniedError(
            "Sign in: send an API token as `Authorization: Bearer <token>`.",
            required_scope=scope.value,
        )
    return viewer.require(scope)
