"""Many rows in one statement: the flow engine's and the SLA clock's write paths.

Strategy: on PostgreSQL a batch is one ``INSERT ... SELECT ... FROM
unnest($1::t1[], $2::t2[], ...)`` (or one ``UPDATE ... FROM unnest(...)``)
whose text does not depend on the batch size. SQLAlchemy's executemany sends
an Execute per row when there is no RETURNING, and with RETURNING renders a
multi-row VALUES statement whose text (and so its parse and plan) changes with
the batch size; measured on the batched intake, PostgreSQL spent ~270 µs of
CPU per ticket that way. One fixed text is prepared once per connection
(asyncpg's statement cache), planned once, and its rows travel as binary
arrays. On SQLite (in-process: no round trips to save) both functions use
SQLAlchemy's own executemany.

Values pass through each column type's bind processor, so JSON, UTC
timestamps and string enums are stored exactly as SQLAlchemy would store
them; Python-side column defaults fill the columns a batch leaves out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, Column, Row, Table, TextClause, bindparam, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["insert_rows", "update_rows"]

Processor = Callable[[Any], Any] | None


def _unnest(dialect: Dialect, table: Table, names: Sequence[str]) -> tuple[str, str]:
    """``unnest(...) AS u(...)`` for ``names``, and the select list; JSON travels as text, cast per row."""

    def array(column: Column[Any]) -> str:
        return "TEXT[]" if isinstance(column.type, JSON) else f"{column.type.compile(dialect=dialect)}[]"

    arrays = ", ".join(f"CAST(:{n} AS {array(table.c[n])})" for n in names)
    columns = ", ".join(f"u.{n}::json" if isinstance(table.c[n].type, JSON) else f"u.{n}" for n in names)
    return f"unnest({arrays}) AS u({', '.join(names)})", columns


@lru_cache(maxsize=128)
def _insert_sql(
    dialect: Dialect, table: Table, names: tuple[str, ...], conflict: tuple[str, ...], returning: tuple[str, ...]
) -> TextClause:
    source, columns = _unnest(dialect, table, names)
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {columns} FROM {source}"
    if conflict:
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    return text(sql)


@lru_cache(maxsize=128)
def _update_sql(dialect: Dialect, table: Table, key: str, names: tuple[str, ...], bump: str | None) -> TextClause:
    source, _ = _unnest(dialect, table, (key, *names))
    sets = [f"{n} = u.{n}::json" if isinstance(table.c[n].type, JSON) else f"{n} = u.{n}" for n in names]
    if bump:
        sets.append(f"{bump} = {table.name}.{bump} + 1")
    return text(f"UPDATE {table.name} SET {', '.join(sets)} FROM {source} WHERE {table.name}.{key} = u.{key}")


@lru_cache(maxsize=512)
def _processor(dialect: Dialect, column: Column[Any]) -> Processor:
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def _arrays(
    dialect: Dialect,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    names: Sequence[str],
    constants: Mapping[str, Any] | None = None,
) -> dict[str, list[Any]]:
    """One list per column, through its bind processor; ``constants`` fill columns the rows leave out."""
    out: dict[str, list[Any]] = {}
    for name, value in (constants or {}).items():
        process = _processor(dialect, table.c[name])
        out[name] = [process(value) if process else value] * len(rows)
    for name in names:
        process = _processor(dialect, table.c[name])
        values = [row[name] for row in rows]
        out[name] = [process(v) for v in values] if process else values
    return out


def _defaults(table: Table, rows: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The rows' columns (the first row's; every row must have the same), and the Python-side defaults
    of the columns they leave out, evaluated once for the batch."""
    given = tuple(rows[0])
    for row in rows:
        if len(row) != len(given) or any(k not in row for k in given):
            raise ValueError(f"bulk insert into {table.name}: every row needs the same columns as the first")
    missing = {
        c.name: c.default.arg(None) if c.default.is_callable else c.default.arg  # type: ignore[union-attr]
        for c in table.c
        if c.name not in given and c.default is not None and (c.default.is_callable or c.default.is_scalar)
    }
    return given, missing


async def insert_rows(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> list[Row[Any]]:
    """Insert ``rows`` (all with the same keys); ``conflict`` columns make it ``ON CONFLICT DO NOTHING``.

    Returns the ``returning`` columns of the rows inserted, in no particular
    order: match them back by a unique key, never by position.
    """
    if not rows:
        return []
    if conn.dialect.name != "postgresql":
        statement = sqlite.insert(table)
        if conflict:
            statement = statement.on_conflict_do_nothing(index_elements=list(conflict))
        if returning:
            result = await conn.execute(statement.returning(*(table.c[n] for n in returning)), list(rows))
            return list(result.all())
        await conn.execute(statement, list(rows))
        return []
    names, missing = _defaults(table, rows)
    statement = _insert_sql(conn.dialect, table, names + tuple(missing), tuple(conflict), tuple(returning))
    result = await conn.execute(statement, _arrays(conn.dialect, table, rows, names, missing))
    return list(result.all()) if returning else []


async def update_rows(
    conn: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]], *, key: str = "id", bump: str | None = None
) -> None:
    """Set each row's columns where ``key`` matches; ``bump`` names a counter column to add 1 to."""
    if not rows:
        return
    names = tuple(n for n in rows[0] if n != key)
    if conn.dialect.name != "postgresql":
        values: dict[str, Any] = {n: bindparam(f"b_{n}") for n in names}
        if bump:
            values[bump] = table.c[bump] + 1
        statement = table.update().where(table.c[key] == bindparam("b_key")).values(values)
        await conn.execute(statement, [{"b_key": r[key], **{f"b_{n}": r[n] for n in names}} for r in rows])
        return
    await conn.execute(_update_sql(conn.dialect, table, key, names, bump), _arrays(conn.dialect, table, rows, (key, *names)))
