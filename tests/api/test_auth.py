"""Tokens on every route: 401 without, 403 for a weak role, 404 for another tenant's objects."""

from __future__ import annotations

from datetime import UTC, datetime

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from api.app import make_app
from hotline.models import Call
from hotline.tokens import Role, revoke_token
from tests.conftest import free_port


async def add_call(sessions, tenant: str, call_id: str, caller: str = "5551234") -> None:  # noqa: ANN001
    async with sessions.begin() as session:
        session.add(Call(tenant=tenant, call_id=call_id, caller=caller, menu="main",
                         started_at=datetime(2026, 11, 28, 9, 0, tzinfo=UTC), outcome="routed",
                         trajectory=[{"t": 0, "step": "enter", "node": "welcome"}]))


async def test_missing_and_bad_tokens_get_401_json(api) -> None:  # noqa: ANN001
    resp = await api.client.get("/api/v1/calls")
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "unauthorized"
    resp = await api.client.get("/api/v1/calls", headers={"Authorization": "Bearer hl_nonsense"})
    assert resp.status == 401
    assert (await resp.json()) == {"error": {"code": "unauthorized", "message": "unknown or revoked token"}}


async def test_revoked_token_is_refused(api) -> None:  # noqa: ANN001
    headers = await api.headers("acme", Role.VIEWER)
    assert (await api.client.get("/api/v1/calls", headers=headers)).status == 200
    async with api.sessions.begin() as session:
        from sqlalchemy import select

        from hotline.models import ApiToken

        token_id = (await session.execute(select(ApiToken.id).order_by(ApiToken.id.desc()))).scalars().first()
        assert await revoke_token(session, token_id)
    assert (await api.client.get("/api/v1/calls", headers=headers)).status == 401


async def test_role_that_may_not_act_gets_403(api) -> None:  # noqa: ANN001
    resp = await api.client.get("/api/v1/audit", headers=await api.headers("acme", Role.AGENT))
    assert resp.status == 403
    assert (await resp.json())["error"] == {"code": "forbidden", "message": "role 'agent' may not do this; needs one of: admin"}
    assert (await api.client.get("/api/v1/audit", headers=await api.headers("acme", Role.ADMIN))).status == 200


async def test_other_tenants_call_is_404_and_absent_from_lists(api) -> None:  # noqa: ANN001
    await add_call(api.sessions, "tenant-a", "call-a")
    await add_call(api.sessions, "tenant-b", "call-b")
    a = await api.headers("tenant-a", Role.VIEWER)
    own = await api.client.get("/api/v1/calls/call-a", headers=a)
    assert own.status == 200 and (await own.json())["trajectory"][0]["node"] == "welcome"
    other = await api.client.get("/api/v1/calls/call-b", headers=a)
    assert other.status == 404 and (await other.json())["error"]["code"] == "not_found"
    listed = await (await api.client.get("/api/v1/calls?caller=5551234", headers=a)).json()
    assert [c["id"] for c in listed["calls"]] == ["call-a"]


async def test_bad_query_gets_400_with_the_reason(api) -> None:  # noqa: ANN001
    resp = await api.client.get("/api/v1/calls?since=yesterday", headers=await api.headers("acme"))
    assert resp.status == 400
    assert (await resp.json())["error"]["message"] == "since: not an ISO 8601 time: 'yesterday'"


async def test_unknown_route_is_json_404(api) -> None:  # noqa: ANN001
    resp = await api.client.get("/api/v1/nothing-here", headers=await api.headers("acme"))
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"


async def test_healthz_needs_no_token_and_reports_each_part(api) -> None:  # noqa: ANN001
    resp = await api.client.get("/healthz")
    body = await resp.json()
    assert resp.status == 200 and body["sql"]["status"] == body["redis"]["status"] == "ok"
    assert body["sql"]["latency_ms"] >= 0


async def test_healthz_is_503_when_redis_is_down(api_settings, engine) -> None:  # noqa: ANN001
    dead = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    client = TestClient(TestServer(make_app(api_settings, engine, dead), host="127.0.0.1"))
    await client.start_server()
    try:
        resp = await client.get("/healthz")
        body = await resp.json()
    finally:
        await client.close()
        await dead.aclose()
    assert resp.status == 503
    assert body["redis"]["status"] == "down" and body["sql"]["status"] == "ok"
