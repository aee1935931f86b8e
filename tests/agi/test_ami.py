"""AmiClient against the AMI simulator: login, actions, timeouts, watchdog, reconnects, events to the stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from agi.ami import AmiClient, AmiError, AmiPbx, AmiTimeout, parse_ami_url
from hotline.keys import pbx_events_stream
from hotline.pbx_events import PbxEvent, PbxEventKind
from tests.sim.asterisk_ami import AmiSimulator, hangup_event

FAST = {"action_timeout": 0.5, "ping_interval": 0.1, "ping_timeout": 0.2, "login_timeout": 0.3,
        "connect_timeout": 0.5, "backoff_min": 0.05, "backoff_max": 0.2}


async def _until(predicate, timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


@pytest.fixture
async def sim() -> AsyncIterator[AmiSimulator]:
    simulator = AmiSimulator()
    await simulator.start()
    yield simulator
    await simulator.stop()


def _pbx(sim: AmiSimulator, tenant: str = "demo", secret: str = "secret") -> AmiPbx:
    port = sim.server.sockets[0].getsockname()[1]
    return AmiPbx("pbx1", "127.0.0.1", port, "hotline", secret, tenant)


class FakeRouter:
    """Records the lease calls AmiClient makes (the real router is exercised in test_fastagi)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    async def release(self, tenant: str, call_id: str) -> bool:
        self.calls.append(("release", tenant, call_id))
        return True

    async def renew(self, tenant: str, call_id: str) -> bool:
        self.calls.append(("renew", tenant, call_id))
        return True

    async def reconcile(self, tenant: str, pbx: str, live: set[str]) -> list[str]:
        self.calls.append(("reconcile", tenant, pbx, frozenset(live)))
        return []

    def count(self, method: str) -> int:
        return sum(1 for c in self.calls if c[0] == method)


@pytest.fixture
async def client(sim: AmiSimulator, async_redis, tenant: str) -> AsyncIterator[AmiClient]:
    ami = AmiClient(_pbx(sim, tenant), async_redis, router=FakeRouter(), renew_interval=0.1, **FAST)
    await ami.start()
    await asyncio.wait_for(ami.logged_in.wait(), 3)
    yield ami
    await ami.close()


def test_ami_url_carries_host_credentials_and_tenant() -> None:
    pbx = parse_ami_url("ami://hotline:s%40cret@10.0.0.5:5039/?tenant=demo&name=pbx-a")
    assert (pbx.host, pbx.port, pbx.username, pbx.secret, pbx.tenant, pbx.name) == (
        "10.0.0.5", 5039, "hotline", "s@cret", "demo", "pbx-a")
    assert "s@cret" not in repr(pbx)
    with pytest.raises(ValueError):
        parse_ami_url("ami://host:5038/")


async def test_redirect_and_originate_get_asterisk_replies(client: AmiClient, sim: AmiSimulator) -> None:
    reply = await client.redirect("PJSIP/x-1", context="hotline-inbound", exten="s")
    assert reply.message == "Redirect successful"
    queued = await client.originate("Local/6001@hotline", context="hotline-alerts", exten="s",
                                    variables={"ALERT_ID": "42"})
    assert queued.message == "Originate successfully queued"
    answered = await client.originate("Local/6001@hotline", context="hotline-alerts", exten="s", wait_answer=True)
    assert [m.get("Event", m.get("Response")) for m in answered] == ["Success", "OriginateResponse"]
    originate = next(a for a in sim.actions if a.get("action") == "Originate")
    assert originate["variable"] == "ALERT_ID=42"


async def test_error_response_is_an_ami_error(client: AmiClient) -> None:
    with pytest.raises(AmiError, match="Invalid/unknown command"):
        await client.action({"Action": "NoSuchAction"})


async def test_unanswered_action_times_out_and_is_not_resent_after_reconnect(client: AmiClient,
                                                                            sim: AmiSimulator) -> None:
    sim.ignore.add("redirect")
    with pytest.raises(AmiTimeout):
        await client.redirect("PJSIP/x-1", context="c", exten="s")
    sim.ignore.clear()
    sim.drop_all()
    await _until(lambda: sim.logins == 2)
    await asyncio.sleep(0.2)  # panoramisk resends pending actions on FullyBooted
    assert len([a for a in sim.actions if a.get("action") == "Redirect"]) == 1


async def test_watchdog_drops_a_silent_connection_and_recovers(client: AmiClient, sim: AmiSimulator) -> None:
    sim.silent = True  # TCP stays up, nothing comes back: the case panoramisk's ping never notices
    await _until(lambda: sim.connections >= 2)
    assert not client.logged_in.is_set()
    sim.silent = False
    await _until(lambda: client.logged_in.is_set() and sim.logins >= 2)
    reply = await client.action({"Action": "Ping"})
    assert reply.ping == "Pong"


async def test_reconnects_after_the_server_drops_us(client: AmiClient, sim: AmiSimulator) -> None:
    sim.drop_all()
    await _until(lambda: sim.logins == 2)
    assert (await client.action({"Action": "Ping"})).ping == "Pong"
    assert client.reconnects == 1


async def test_wrong_secret_keeps_retrying_and_actions_time_out(sim: AmiSimulator, async_redis) -> None:
    ami = AmiClient(_pbx(sim, secret="wrong"), async_redis, **FAST)
    await ami.start()
    try:
        await _until(lambda: sim.connections >= 3)
        with pytest.raises(AmiTimeout):
            await ami.action({"Action": "Ping"}, 0.2)
        assert sim.logins == 0
    finally:
        await ami.close()
    count = sim.connections
    await asyncio.sleep(0.4)
    assert sim.connections == count  # closed means closed: no reconnect scheduled behind our back


async def test_nothing_listening_then_server_appears(async_redis, unused_tcp_port: int) -> None:
    ami = AmiClient(AmiPbx("p", "127.0.0.1", unused_tcp_port, "hotline", "secret", "demo"), async_redis, **FAST)
    await ami.start()
    late = AmiSimulator()
    try:
        await asyncio.sleep(0.3)
        await late.start(unused_tcp_port)
        await asyncio.wait_for(ami.logged_in.wait(), 3)
    finally:
        await ami.close()
        await late.stop()


async def test_events_are_normalized_onto_the_tenant_stream_and_hangup_releases(
        client: AmiClient, sim: AmiSimulator, async_redis, tenant: str) -> None:
    sim.emit({"Event": "Newchannel", "Channel": "PJSIP/carrier-a-00000001", "ChannelState": "0",
              "CallerIDNum": "5551234", "Exten": "4001", "Uniqueid": "1700000000.1", "Linkedid": "1700000000.1"})
    sim.emit({"Event": "VarSet", "Variable": "X", "Value": "1", "Uniqueid": "1700000000.1"})
    sim.emit({"Event": "DTMFEnd", "Digit": "5", "Direction": "Received", "DurationMs": "120",
              "Uniqueid": "1700000000.1"})
    sim.emit(hangup_event("1700000000.1"))
    stream = pbx_events_stream(tenant)
    router = client.leases.router
    await _until(lambda: router.count("release") == 1)
    entries = await async_redis.xrange(stream)
    events = [PbxEvent.from_fields({k.decode(): v.decode() for k, v in fields.items()}) for _, fields in entries]
    assert [e.kind for e in events] == [PbxEventKind.CHANNEL_CREATED, PbxEventKind.DTMF, PbxEventKind.HANGUP]
    assert events[0].caller == "5551234" and events[0].exten == "4001" and events[0].tenant == tenant
    assert events[1].digit == "5" and events[2].cause == "16"
    assert json.loads(entries[2][1][b"raw"])["Cause-txt"] == "Normal Clearing"
    assert ("release", tenant, "1700000000.1") in router.calls


async def test_events_wait_in_the_queue_while_redis_is_down(sim: AmiSimulator, tenant: str, redis_url: str) -> None:
    import redis.asyncio as aioredis

    dead = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.1)
    ami = AmiClient(_pbx(sim, tenant), dead, **FAST)
    await ami.start()
    try:
        await asyncio.wait_for(ami.logged_in.wait(), 3)
        sim.emit(hangup_event("1700000000.2"))
        await asyncio.sleep(0.3)
        live = aioredis.Redis.from_url(redis_url)
        ami.redis = live
        await _until(lambda: ami.events.empty())
        await asyncio.sleep(1.2)  # the retry after the failed write
        assert await live.xlen(pbx_events_stream(tenant)) == 1
        await live.aclose()
    finally:
        await ami.close()
        await dead.aclose()


async def test_live_calls_are_renewed_until_hangup_and_reconciled_after_login(client: AmiClient,
                                                                              sim: AmiSimulator, tenant: str) -> None:
    router = client.leases.router
    await _until(lambda: router.count("reconcile") == 1)  # first login: nothing live
    sim.emit({"Event": "Newchannel", "Uniqueid": "1700000000.7", "Linkedid": "1700000000.7", "ChannelState": "0"})
    await _until(lambda: ("renew", tenant, "1700000000.7") in router.calls)
    sim.emit(hangup_event("1700000000.7"))
    await _until(lambda: ("release", tenant, "1700000000.7") in router.calls)
    renewed = router.count("renew")
    await asyncio.sleep(0.3)
    assert router.count("renew") == renewed  # no longer live
    sim.channels = {"1700000000.8": "PJSIP/carrier-a-00000008"}  # a call that came up while we were away
    sim.drop_all()
    await _until(lambda: router.count("reconcile") == 2)
    assert ("reconcile", tenant, "pbx1", frozenset({"1700000000.8"})) in router.calls
    await _until(lambda: ("renew", tenant, "1700000000.8") in router.calls)


async def test_ami_hangup_releases_a_real_lease_taken_over_fastagi(agi_server, edge, sim: AmiSimulator,
                                                                   async_redis, tenant: str) -> None:
    from tests.sim.asterisk_agi import AsteriskChannel, Caller, call_fastagi

    effects, _ = edge
    routed = await call_fastagi(agi_server.port, AsteriskChannel(f"{tenant}/ivr/main?pbx=pbx1",
                                                                 Caller(keys=["2", "500#"]), uniqueid="1700000001.1"))
    assert routed.variables["HOTLINE_ROUTE"] == "primary"
    sim.channels = {"1700000001.1": "PJSIP/carrier-a-00000001"}
    ami = AmiClient(_pbx(sim, tenant), async_redis, router=effects.router, renew_interval=0.1, **FAST)
    await ami.start()
    try:
        await _until(lambda: ami.leases.live == {"1700000001.1"})
        assert await effects.router.renew(tenant, "1700000001.1") is True  # still held after reconcile
        sim.emit(hangup_event("1700000001.1"))
        await _until(lambda: not ami.leases.live and ami.events.empty())
        await asyncio.sleep(0.1)
        assert await effects.router.release(tenant, "1700000001.1") is False  # AMI released it already
    finally:
        await ami.close()
