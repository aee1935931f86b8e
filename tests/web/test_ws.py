"""``/ws/monitor``: tenant-scoped live snapshots, routing changes within a second, slow clients dropped."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
from aiohttp import WSCloseCode, WSMsgType
from aiohttp.test_utils import TestClient, TestServer

from api.app import make_app
from api.monitor import CLIENT_QUEUE, Client, Feed
from api.stats.offers import TrunkMatcher
from hotline.pbx_events import PbxEvent, PbxEventKind
from hotline.streams import Entry
from hotline.tokens import Role
from tests.timing import LoopStalls
from tests.web.conftest import browser_login
from tests.web.test_stats import recorder_of


async def next_snapshot(ws: aiohttp.ClientWebSocketResponse, timeout: float = 2.0) -> dict[str, Any]:
    msg = await ws.receive(timeout=timeout)
    assert msg.type is WSMsgType.TEXT, msg
    return json.loads(msg.data)


def capacity(snapshot: dict[str, Any], name: str) -> int | None:
    return next(t["capacity"] for t in snapshot["routing"]["targets"] if t["name"] == name)


async def test_a_client_sees_a_threshold_change_within_one_second(api, tenant) -> None:
    headers = await api.headers(tenant, Role.ADMIN)
    async with api.client.ws_connect("/ws/monitor", headers=headers) as ws:
        first = await next_snapshot(ws)
        assert capacity(first, "primary") == 100 and first["routing"]["diversion"] == {"level": 0, "name": None}
        with LoopStalls() as stalls:
            started = time.monotonic()
            resp = await api.client.patch("/api/v1/routing/trunks/primary", json={"limit": 42}, headers=headers)
            assert resp.status == 200
            while capacity(snapshot := await next_snapshot(ws), "primary") != 42:
                pass
        took = time.monotonic() - started
        assert took < stalls.bound(1.0), stalls.explain("the change reaching the client", took)
        assert next(t for t in snapshot["routing"]["targets"] if t["name"] == "primary")["capacity_source"] == "live"


async def test_figures_are_pushed_and_stay_in_their_tenant(api, engine, async_redis, tenant) -> None:
    join = PbxEvent(tenant=tenant, pbx="ast-1", kind=PbxEventKind.QUEUE_JOIN, call_id="c1", ts=time.time(),
                    queue="billing")
    async with api.client.ws_connect("/ws/monitor", headers=await api.headers(tenant, Role.VIEWER)) as ws:
        assert (await next_snapshot(ws))["figures"] == {}
        recorder = await recorder_of(engine, async_redis, tenant, TrunkMatcher({}))
        await recorder.handle([Entry("1-0", join.to_fields())])
        assert (await next_snapshot(ws))["figures"]["queue"]["billing"]["waiting"] == 1
    async with api.client.ws_connect("/ws/monitor", headers=await api.headers("someone-else", Role.ADMIN)) as ws:
        other = await next_snapshot(ws)
        assert other["figures"] == {} and other["routing"] == {"error": "no routing configured for this tenant",
                                                                "targets": []}


async def test_the_socket_needs_a_token_or_a_session(api, tenant) -> None:
    try:
        await api.client.ws_connect("/ws/monitor")
    except aiohttp.WSServerHandshakeError as exc:
        assert exc.status == 401
    else:
        raise AssertionError("an anonymous socket was accepted")
    await browser_login(api.client, (await api.headers(tenant))["Authorization"].removeprefix("Bearer "))
    async with api.client.ws_connect("/ws/monitor") as ws:
        assert capacity(await next_snapshot(ws), "backup") == 50
    try:
        await api.client.ws_connect("/ws/monitor", headers={"Origin": "https://evil.example"})
    except aiohttp.WSServerHandshakeError as exc:
        assert exc.status == 403
    else:
        raise AssertionError("a cross-site socket was accepted")


async def test_a_slow_client_is_dropped_and_never_slows_the_others() -> None:
    count = 0

    async def read(tenant: str) -> dict[str, Any]:
        nonlocal count
        count += 1
        return {"n": count}

    dropped: list[str] = []

    async def drop(reason: str) -> None:
        dropped.append(reason)

    feed = Feed("t", read)
    slow, quick = Client(drop), Client(drop)
    received: list[str] = []

    async def drain() -> None:
        while True:
            received.append(await quick.queue.get())

    reader = asyncio.create_task(drain())
    feed.join(slow)
    feed.join(quick)
    await asyncio.sleep(0.25 * (CLIENT_QUEUE + 3))
    feed.leave(slow)
    feed.leave(quick)
    reader.cancel()
    await feed.stop()
    assert slow.dropped and dropped == ["too slow: messages piled up"]
    assert not quick.dropped and len(received) >= CLIENT_QUEUE + 2
    assert [json.loads(m)["n"] for m in received] == sorted(json.loads(m)["n"] for m in received)


async def test_stopping_the_server_closes_the_sockets_at_once(api_settings, engine, async_redis, tenant,
                                                            sessions) -> None:
    from hotline.tokens import create_token

    async with sessions.begin() as session:
        token, _ = await create_token(session, tenant, Role.VIEWER, "v")
    client = TestClient(TestServer(make_app(api_settings, engine, async_redis), host="127.0.0.1"))
    await client.start_server()
    try:
        ws = await client.ws_connect("/ws/monitor", headers={"Authorization": f"Bearer {token}"})
        await next_snapshot(ws)
        started = time.monotonic()
        await client.server.close()
        assert time.monotonic() - started < 3, "shutdown waited for the open socket"
        closing = await ws.receive(timeout=1)
        assert (closing.type, closing.data, closing.extra) == (WSMsgType.CLOSE, WSCloseCode.GOING_AWAY, "server stopping")
    finally:
        await client.close()
