"""`KEEP`: the value of an input field the caller did not send (distinct from null)."""

from __future__ import annotations

import enum
from typing import Final
from typing import Literal
from typing import TypeAlias


class _Keep(enum.Enum):
    KEEP = "KEEP"

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Final = _Keep.KEEP
Keep: TypeAlias = Literal[_Keep.KEEP]
