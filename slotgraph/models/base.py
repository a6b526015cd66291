"""Declarative base, naming convention and column helpers shared by every table."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy import DateTime
from sqlalchemy import Enum
from sqlalchemy import ForeignKey
from sqlalchemy import Identity
from sqlalchemy import MetaData
from sqlalchemy import func
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import MappedColumn
from sqlalchemy.orm import mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Every table: explicit constraint names so Alembic migrations stay stable."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every timestamp is a timestamptz: a `Mapped[datetime]` needs no column of its own.
    type_annotation_map = {datetime: DateTime(timezone=True)}


# The columns most tables share, as annotations (`id: Mapped[IntPk]`), so each is written
# once here; nullability follows the annotation as for any mapped column.
IntPk = Annotated[int, mapped_column(BigInteger, Identity(always=True), primary_key=True)]
"""A bigint identity primary key: ids are never reused and never guessable by order alone
across accounts, because every lookup also filters by account (docs/conventions.md,
convention 3)."""
AccountId = Annotated[
    int, mapped_column(BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
]
"""The tenant key of every scoped row: indexed, because every lookup filters by it
(convention 3), and deleted with its account."""
UserId = Annotated[
    int, mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True)
]
"""The user a row belongs to, indexed, deleted with the user."""
CreatedAt = Annotated[datetime, mapped_column(server_default=func.now())]
"""When the row was written, by the database's clock."""


class AccountRow:
    """Mixin: the columns of a row an account owns (convention 3): its id, its tenant key and
    when it was written."""

    id: Mapped[IntPk]
    account_id: Mapped[AccountId]
    created_at: Mapped[CreatedAt]


class UserRow(AccountRow):
    """Mixin: a row a user of the account owns, deleted with the user."""

    user_id: Mapped[UserId]


def reference_column(target: str, *, ondelete: str = "CASCADE", **kwargs: Any) -> MappedColumn[Any]:
    """A bigint foreign key to `target` ("table.id"). Rows go with what they belong to
    (CASCADE) unless the reference is optional and the row outlives it (`ondelete="SET NULL"`);
    nullability follows the `Mapped[...]` annotation, as for any `mapped_column`."""
    return mapped_column(BigInteger, ForeignKey(target, ondelete=ondelete), **kwargs)


def enum_column(enum_type: type[enum.Enum], **kwargs: Any) -> Any:
    """Enums stored as checked text, so adding a member is a one-line migration."""
    return mapped_column(
        Enum(
            enum_type,
            native_enum=False,
            create_constraint=True,
            length=32,
            name=enum_type.__name__.lower(),
            values_callable=lambda members: [member.value for member in members],
            validate_strings=True,
        ),
        **kwargs,
    )
