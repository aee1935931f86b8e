"""Column types shared by the flow tables."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import BigInteger, Enum, Integer

#: BIGINT on PostgreSQL; INTEGER on SQLite so the key is the autoincrementing rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def str_enum(cls: type[StrEnum], length: int = 16) -> Enum:
    """A StrEnum stored as its value in a VARCHAR (no database enum type to migrate)."""
    return Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )
