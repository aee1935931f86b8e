"""The few statements whose SQL differs between PostgreSQL and SQLite, in one place.

Claims are one ``DELETE``/``UPDATE ... WHERE id IN (SELECT ... LIMIT n FOR
UPDATE SKIP LOCKED) RETURNING``. On PostgreSQL the row locks let any number of
workers claim side by side, each skipping the rows another holds. SQLite
ignores ``FOR UPDATE``; there the claim statement is the transaction's first
statement and a write, so it takes the database's single write lock at once
(waiting out the busy timeout) and the read inside it can never be stale:
that is SQLite's single-writer path, with the same code.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["dialect", "insert_ignore"]


def dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def insert_ignore(session: AsyncSession, table: Table, conflict_columns: list[str], **values: Any) -> Any:
    """An INSERT that does nothing when ``conflict_columns`` already hold these values (the dedup key).

    Without ``values`` the statement takes its rows as execute parameters (one or many).
    """
    ins = postgresql.insert(table) if dialect(session) == "postgresql" else sqlite.insert(table)
    if values:
        ins = ins.values(**values)
    return ins.on_conflict_do_nothing(index_elements=conflict_columns)
