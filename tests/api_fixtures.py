"""A real aiohttp server on loopback over the test database and Redis, plus tokens to call it.

Use ``api.get(path, token=...)`` style calls through ``api.client`` and
``await api.headers(tenant, role)`` to get an ``Authorization`` header for a
freshly created token of that tenant and role.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.app import make_app
from hotline.settings import Settings
from hotline.tokens import Role, create_token

REPO = Path(__file__).resolve().parent.parent


@dataclass
class ApiHarness:
    client: TestClient
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings

    async def headers(self, tenant: str, role: Role | str = Role.ADMIN, name: str = "") -> dict[str, str]:
        async with self.sessions.begin() as session:
            token, _ = await create_token(session, tenant, Role(role), name or f"{role}@{tenant}")
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api_settings(db_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return Settings(conf_dir=REPO / "conf", data_dir=tmp_path, database_url=db_url, redis_url=redis_url)


@pytest.fixture
async def api(api_settings: Settings, engine: AsyncEngine, async_redis, sessions) -> AsyncIterator[ApiHarness]:  # noqa: ANN001
    app = make_app(api_settings, engine, async_redis)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield ApiHarness(client, sessions, api_settings)
    finally:
        await client.close()
