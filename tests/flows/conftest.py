"""Fixtures for flow tests: a tenant with the demo org and flow, and an API client that acts as people."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flows.intake import intake
from tests.flows.helpers import NOW, catalog, intent_event, setup_demo


@dataclass
class Desk:
    """Acts through the real API as the people of one tenant."""

    api: Any
    tenant: str
    sessions: async_sessionmaker[AsyncSession]

    async def headers(self, name: str, role: str = "agent") -> dict[str, str]:
        return await self.api.headers(self.tenant, role, name=name)

    async def get(self, path: str, name: str = "viewer", role: str = "viewer") -> Any:
        response = await self.api.client.get(path, headers=await self.headers(name, role))
        return response.status, await response.json()

    async def act(
        self,
        task: dict[str, Any],
        action: str,
        body: dict[str, Any] | None = None,
        as_: str | None = None,
        role: str = "agent",
    ) -> tuple[int, Any]:
        headers = await self.headers(as_ or task["assignee"], role)
        response = await self.api.client.post(
            f"/api/v1/tasks/{task['id']}/actions/{action}", json=body or {}, headers=headers
        )
        return response.status, await response.json()

    async def ticket(self, ticket_id: int) -> dict[str, Any]:
        status, body = await self.get(f"/api/v1/tickets/{ticket_id}")
        assert status == 200, body
        return body

    async def open_tasks(self, ticket_id: int) -> list[dict[str, Any]]:
        return [t for t in (await self.ticket(ticket_id))["tasks"] if t["state"] in ("pending", "claimed")]

    async def new_ticket(
        self, call_id: str, amount: Any = 500, template: str = "fee_reduction", caller: str = "13800138000"
    ) -> int:
        """A ticket opened through the intake, as the stream consumer would."""
        event = intent_event(self.tenant, call_id, caller, amount, template=template)
        async with self.sessions.begin() as session:
            await intake(
                session, self.tenant, [event], catalog=await catalog(self.sessions, self.tenant), now=NOW
            )
        status, body = await self.get(f"/api/v1/tickets?caller={caller}")
        assert status == 200, body
        return next(t["id"] for t in body["tickets"] if t["call_id"] == call_id)


@pytest.fixture
async def desk(api: Any, sessions: async_sessionmaker[AsyncSession], tenant: str) -> Desk:
    await setup_demo(sessions, tenant)
    return Desk(api, tenant, sessions)
