"""What each role's tokens may do (C23, C37): the one table both token issuing and the
per-request check read, so a token never does more than its user's role allows now."""

from __future__ import annotations

from slotgraph.models.enums import Role
from slotgraph.models.enums import Scope


def role_scopes(role: Role) -> frozenset[Scope]:
    """Everything for an admin; a member may do all but the admin operations."""
    if role is Role.ADMIN:
        return frozenset(Scope)
    return frozenset(Scope) - {Scope.ADMIN}
