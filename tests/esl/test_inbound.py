"""The inbound event client against a simulated FreeSWITCH event socket and a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest

from esl.inbound import SUBSCRIPTION, EslUnavailable, InboundClient, esl_inbound
from hotline import keys
from hotline.pbx_events import PbxEvent, PbxEventKind
from hotline.settings import load_settings
from router.aio import AsyncRouter
from router.check import load_routing_config
from tests.conftest import free_port
from tests.esl.conftest import write_conf
from tests.sim.freeswitch import SimSwitch

CALL = [("Unique-ID", "c-1"), ("Channel-Name", "sofia/internal/1000@x"), ("Caller-Caller-ID-Number", "13800138000"),
        ("Caller-Destination-Number", "4000"), ("Channel-Call-UUID", "c-1")]


@pytest.fixture
async def switch() -> AsyncIterator[SimSwitch]:
    sim = SimSwitch(free_port())
    await sim.start()
    yield sim
    await sim.stop()


def client_for(sim: SimSwitch, redis, tenant: str, **kw) -> InboundClient:
    options = {"command_timeout": 1.0, "backoff_max": 0.2, **kw}
    return InboundClient("127.0.0.1", sim.port, sim.password, redis, tenant=tenant, pbx="fs1", **options)


async def stream(redis, tenant: str, count: int, timeout: float = 3.0) -> list[PbxEvent]:
    for _ in range(int(timeout / 0.02)):
        entries = await redis.xrange(keys.pbx_events_stream(tenant))
        if len(entries) >= count:
            break
        await asyncio.sleep(0.02)
    return [PbxEvent.from_fields({k.decode(): v.decode() for k, v in fields.items()}) for _, fields in entries]


async def test_subscribes_and_puts_normalized_events_on_the_tenant_stream(switch, async_redis, tenant):
    client = client_for(switch, async_redis, tenant)
    await client.start()
    try:
        await asyncio.wait_for(client.connected.wait(), 3)
        assert switch.commands == ["auth ClueCon", f"event json {SUBSCRIPTION}"]
        await switch.emit("CHANNEL_CREATE", CALL)
        await switch.emit("CHANNEL_ANSWER", CALL)
        await switch.emit("DTMF", [*CALL, ("DTMF-Digit", "2")])
        await switch.emit("CUSTOM", [("CC-Action", "member-queue-start"), ("CC-Queue", "billing@default"),
                                     ("CC-Member-Session-UUID", "c-1"), ("CC-Member-CID-Number", "13800138000")],
                          subclass="callcenter::info")
        await switch.emit("CUSTOM", [("CC-Action", "agent-status-change")], subclass="callcenter::info")
        assert await switch.emit("CUSTOM", [("x", "y")], subclass="hotline::result") == 0  # not subscribed
        await switch.emit("CHANNEL_HANGUP_COMPLETE", [*CALL, ("Hangup-Cause", "USER_BUSY"),
                                                      ("variable_hangup_cause_q850", "17")])
        events = await stream(async_redis, tenant, 5)
    finally:
        await client.close()
    assert [(e.kind, e.call_id) for e in events] == [
        (PbxEventKind.CHANNEL_CREATED, "c-1"), (PbxEventKind.ANSWERED, "c-1"), (PbxEventKind.DTMF, "c-1"),
        (PbxEventKind.QUEUE_JOIN, "c-1"), (PbxEventKind.HANGUP, "c-1")]
    assert (events[2].digit, events[3].queue, events[4].cause) == ("2", "billing@default", "17")
    assert (events[0].caller, events[0].channel, events[0].exten, events[0].pbx) == (
        "13800138000", "sofia/internal/1000@x", "4000", "fs1")
    assert events[4].raw["Hangup-Cause"] == "USER_BUSY"


async def test_hangup_releases_the_calls_lease(switch, async_redis, redis_url, tmp_path, tenant):
    router = AsyncRouter.from_url(redis_url, load_routing_config(write_conf(tmp_path, [tenant])), node="test")
    await router.load()
    decision = await router.decide(tenant, "billing", "c-9", pbx="fs1")
    assert await async_redis.hget(keys.route_calls(tenant), "c-9") is not None
    client = client_for(switch, async_redis, "other-tenant", release=router.release)
    await client.start()
    try:
        await asyncio.wait_for(client.connected.wait(), 3)
        await switch.emit("CHANNEL_HANGUP_COMPLETE", [("Unique-ID", "c-9"), ("variable_hotline_tenant", tenant),
                                                      ("Hangup-Cause", "NORMAL_CLEARING")])
        [event] = await stream(async_redis, tenant, 1)
        for _ in range(100):
            if await async_redis.hget(keys.route_calls(tenant), "c-9") is None:
                break
            await asyncio.sleep(0.02)
    finally:
        await client.close()
        await router.client.aclose()
    assert event.tenant == tenant and decision.name == "primary"
    assert await async_redis.hget(keys.route_calls(tenant), "c-9") is None


async def test_survives_a_freeswitch_restart_and_resubscribes(switch, async_redis, tenant):
    client = client_for(switch, async_redis, tenant)
    await client.start()
    try:
        await asyncio.wait_for(client.connected.wait(), 3)
        await switch.stop()
        for _ in range(100):
            if not client.connected.is_set():
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # a few refused reconnects
        await switch.start()
        for _ in range(300):
            if client.sessions == 2:
                break
            await asyncio.sleep(0.01)
        await switch.emit("CHANNEL_CREATE", [("Unique-ID", "after-restart")])
        [event] = await stream(async_redis, tenant, 1)
    finally:
        await client.close()
    assert event.call_id == "after-restart"
    assert switch.commands.count(f"event json {SUBSCRIPTION}") == 2


async def test_originate_returns_the_job_result(switch, async_redis, tenant):
    switch.originate = lambda args: "-ERR USER_BUSY\n" if "busy" in args else "+OK 4a9b-1\n"
    client = client_for(switch, async_redis, tenant)
    await client.start()
    try:
        ok = await client.originate("{origination_caller_id_number=4000}sofia/gateway/carrier/13800138000",
                                    "&playback(hotline/alert.wav)", timeout=2)
        busy = await client.originate("loopback/busy/default", timeout=2)
        events = await stream(async_redis, tenant, 2)
    finally:
        await client.close()
    assert (ok.ok, ok.call_uuid, busy.ok, busy.cause) == (True, "4a9b-1", False, "USER_BUSY")
    assert [c for c in switch.commands if c.startswith("bgapi")] == [
        ("bgapi originate {origination_caller_id_number=4000}sofia/gateway/carrier/13800138000 "
         "&playback(hotline/alert.wav)"), "bgapi originate loopback/busy/default &park()"]
    assert [(e.kind, e.cause) for e in events] == [(PbxEventKind.ORIGINATE_RESULT, "OK"),
                                                   (PbxEventKind.ORIGINATE_RESULT, "USER_BUSY")]


async def test_originate_times_out_and_fails_fast_without_freeswitch(switch, async_redis, tenant):
    switch.job_delay_ms = 10_000_000
    client = client_for(switch, async_redis, tenant)
    await client.start()
    try:
        with pytest.raises(TimeoutError):
            await client.originate("loopback/x/default", timeout=0.3)
        await switch.stop()
        with pytest.raises(EslUnavailable, match="not connected|dropped|gone|closing"):
            await client.originate("loopback/x/default", timeout=0.3)
    finally:
        await client.close()


async def test_wrong_password_is_retried_with_backoff(switch, async_redis, tenant):
    client = client_for(switch, async_redis, tenant)
    switch.password = "other"
    await client.start()
    await asyncio.sleep(1.0)
    await client.close()
    assert client.sessions == 0 and not client.connected.is_set()
    assert 3 <= switch.connections <= 12  # 0.1, 0.2, 0.2, ... s apart: no tight loop


@pytest.mark.parametrize("when", ["before auth/request", "after subscribing"])
async def test_a_silent_freeswitch_is_dropped_and_reconnected(switch, async_redis, tenant, when):
    client = client_for(switch, async_redis, tenant, ping_interval=0.4, command_timeout=0.3)
    if when == "before auth/request":
        switch.silent = True
    await client.start()
    try:
        if when == "after subscribing":
            await asyncio.wait_for(client.connected.wait(), 3)
            switch.silent = True
        await asyncio.sleep(1.5)
        reconnected = switch.connections
        switch.silent = False
        await asyncio.wait_for(_sessions(client, 2 if when == "after subscribing" else 1), 3)
    finally:
        await client.close()
    assert reconnected >= 2


async def _sessions(client: InboundClient, count: int) -> None:
    while client.sessions < count or not client.connected.is_set():
        await asyncio.sleep(0.01)


async def test_serve_part_is_off_without_a_host_and_runs_the_client_with_one(switch, async_redis, redis_url, tmp_path,
                                                                           tenant, monkeypatch):
    conf = write_conf(tmp_path, [tenant])
    runtime = SimpleNamespace(settings=load_settings(conf), redis=async_redis, redis_url=redis_url)
    async with esl_inbound(runtime):
        assert runtime.freeswitch is None
    monkeypatch.setenv("HOTLINE_FS_PASSWORD", switch.password)
    runtime.settings = load_settings(conf, fs_event_host="127.0.0.1", fs_event_port=switch.port, fs_tenant=tenant)
    async with esl_inbound(runtime):
        await asyncio.wait_for(runtime.freeswitch.connected.wait(), 3)
        assert "is ready" in (await runtime.freeswitch.api("status"))


async def test_hangup_of_a_tenant_the_router_does_not_know_is_logged_and_events_go_on(switch, async_redis, redis_url,
                                                                                     tmp_path, tenant):
    router = AsyncRouter.from_url(redis_url, load_routing_config(write_conf(tmp_path, [tenant])), node="test")
    client = client_for(switch, async_redis, tenant, release=router.release)
    await client.start()
    try:
        await asyncio.wait_for(client.connected.wait(), 3)
        await switch.emit("CHANNEL_HANGUP_COMPLETE", [("Unique-ID", "x-1"), ("variable_hotline_tenant", "nobody")])
        await switch.emit("CHANNEL_CREATE", [("Unique-ID", "x-2")])
        [event] = await stream(async_redis, tenant, 1)
    finally:
        await client.close()
        await router.client.aclose()
        await async_redis.delete(keys.pbx_events_stream("nobody"))
    assert event.call_id == "x-2"


async def test_close_ends_even_when_a_release_swallows_the_cancellation(switch, async_redis, tenant):
    """Python 3.11's wait_for (used by the router) can swallow a cancellation that meets its result."""
    entered = asyncio.Event()

    async def swallowing_release(tenant: str, call_id: str) -> None:
        entered.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return  # what the 3.11 race looks like from outside

    client = client_for(switch, async_redis, tenant, release=swallowing_release)
    await client.start()
    await asyncio.wait_for(client.connected.wait(), 3)
    await switch.emit("CHANNEL_HANGUP_COMPLETE", [("Unique-ID", "c-1")])
    await asyncio.wait_for(entered.wait(), 3)
    await asyncio.wait_for(client.close(), 3)  # before: gather() waited for ever on the publisher
    assert not client.connected.is_set()
