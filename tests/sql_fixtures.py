"""Real SQL databases for tests: a SQLite file each, and PostgreSQL when configured.

``db_url`` is parametrized over the backends available in this run: SQLite
always, PostgreSQL when ``HOTLINE_TEST_POSTGRES_URL`` is set (CI sets it). For
PostgreSQL a template database is migrated once per run and each test gets a
fresh clone of it, so tests never see each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hotline.db import create_engine, session_factory, upgrade

POSTGRES_URL = os.environ.get("HOTLINE_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]


def _admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_exec(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(_admin_dsn(url))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """Name of a migrated template database on the test PostgreSQL server."""
    assert POSTGRES_URL, "pg_template needs HOTLINE_TEST_POSTGRES_URL"
    name = f"hotline_tmpl_{os.getpid()}"

    async def build() -> None:
        await _pg_exec(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
        engine = create_engine(make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False))
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(build())
    yield name
    asyncio.run(_pg_exec(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each available backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'hotline.sqlite3'}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"hotline_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_exec(POSTGRES_URL, f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_pg_exec(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(db_url)
    await upgrade(eng)
    yield eng
    await eng.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres`` exercise PostgreSQL-only behaviour (row locks, schema refusal): their SQLite
    case, and all of them when no PostgreSQL is configured, are deselected rather than skipped, so a run's
    count shows only tests that really ran (CI always configures PostgreSQL)."""
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        postgres_only = item.get_closest_marker("postgres") is not None
        (drop if postgres_only and (not POSTGRES_URL or params.get("db_url") == "sqlite") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
