"""FastAGI server against the simulated res_agi: the demo call, hang-ups, garbage, silent peers, load."""

from __future__ import annotations

import asyncio
import time

import pytest

from agi.effects import AsyncEffects
from agi.fastagi import FastAgiServer
from hotline.keys import intents_stream, pbx_events_stream
from ivr.events import IntentEvent
from ivr.trajectory import Outcome
from tests.agi.conftest import FAST
from tests.sim.asterisk_agi import AsteriskChannel, Caller, SimResult, call_fastagi

DEMO_COMMANDS = 9  # ANSWER, 2× STREAM FILE, GET DATA, 5× SET VARIABLE


async def _demo_call(server: FastAgiServer, tenant: str, **caller) -> SimResult:
    uniqueid = f"{time.time():.6f}"
    channel = AsteriskChannel(f"{tenant}/ivr/main", Caller(keys=["2", "500#"], **caller), uniqueid=uniqueid)
    result = await call_fastagi(server.port, channel)
    assert all("\r" not in c and "\x00" not in c and len(c) < 8190 for c in result.commands)
    return result


def _routed(result: SimResult) -> bool:
    return result.variables.get("HOTLINE_OUTCOME") == "routed" and result.ended == "app-closed"


async def _raw(port: int, data: bytes, *, close: bool = True, read_for: float = 0.2) -> bytes:
    """Send raw bytes as a misbehaving peer and return what came back before EOF or ``read_for``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    if close:
        writer.write_eof()
    try:
        async with asyncio.timeout(read_for):
            return await reader.read()
    except TimeoutError:
        return b"<open>"
    finally:
        writer.close()


async def test_demo_call_pressing_2_then_500_hash_routes_fee_reduction(agi_server: FastAgiServer, tenant: str,
                                                                       async_redis) -> None:
    result = await _demo_call(agi_server, tenant)
    assert result.variables["HOTLINE_INTENT"] == "fee_reduction"
    assert result.variables["HOTLINE_DIAL"] == "PJSIP/4002@carrier-a"
    assert result.variables["HOTLINE_ROUTE"] == "primary"
    assert result.variables["HOTLINE_CALL_ID"] == result.channel.uniqueid
    assert result.agistatus == "SUCCESS" and _routed(result)
    assert result.commands[:4] == ["ANSWER", 'STREAM FILE hotline/welcome ""',
                                   "STREAM FILE hotline/main-menu 0123456789*#ABCD", "GET DATA hotline/enter-amount 6000 6"]
    entries = await async_redis.xrange(intents_stream(tenant))
    assert [(e[1][b"intent"], e[1][b"call_id"]) for e in entries] == [(b"fee_reduction", result.channel.uniqueid.encode())]


async def test_caller_who_presses_nothing_goes_to_the_general_queue(agi_server: FastAgiServer, tenant: str) -> None:
    channel = AsteriskChannel(f"{tenant}/ivr/main", Caller(keys=[]))
    result = await call_fastagi(agi_server.port, channel)
    assert result.variables["HOTLINE_DIAL"] == "PJSIP/4000@carrier-a"
    assert result.variables["HOTLINE_INTENT"] == ""
    assert [c.split()[0] for c in result.commands].count("WAIT") == 2  # menu read twice, then on_failure


async def test_missing_prompt_is_skipped_and_the_call_still_routes(agi_server: FastAgiServer, tenant: str) -> None:
    result = await _demo_call(agi_server, tenant, missing_files=frozenset({"hotline/welcome"}))
    assert "CHANNEL STATUS" in result.commands  # the -1 was told apart from a hang-up
    assert result.variables["HOTLINE_INTENT"] == "fee_reduction"
    assert result.agistatus == "FAILURE"  # sticky in Asterisk; the dialplan trusts HOTLINE_ROUTE first


@pytest.mark.parametrize("step", range(DEMO_COMMANDS))
async def test_hangup_at_every_step_ends_quietly_and_next_call_is_served(agi_server: FastAgiServer, tenant: str,
                                                                        step: int) -> None:
    for variant in ({"hangup_on": step}, {"hangup_when_idle_after": step},
                    {"hangup_on": step, "agisighup": False}, {"hangup_on": step, "exit_on_hangup": True},
                    {"hangup_on": step, "agisighup": False, "exit_on_hangup": True}):
        result = await _demo_call(agi_server, tenant, **variant)
        assert result.agistatus == "HANGUP", variant
        if variant.get("agisighup", True):  # with AGISIGHUP=no a SET VARIABLE on a dead channel looks fine
            assert len(result.commands) <= step + 2, variant  # at most one more: a probe, or one in flight
        assert agi_server.counts["failed"] == 0, variant
        assert _routed(await _demo_call(agi_server, tenant))


async def test_asterisk_closing_the_socket_with_a_command_in_flight_is_a_hang_up(
        agi_server: FastAgiServer, tenant: str, edge, async_redis) -> None:
    """AGIEXITONHANGUP=yes with AGISIGHUP=no: Asterisk closes the socket when the caller hangs up and says
    nothing first, so the command in flight never gets its reply. That is the caller leaving, not a broken
    dialogue: counted as a hang-up, the IVR hands over an abandoned call at the node it was at, and the
    ``h`` extension Asterisk then runs releases the lease the route took."""
    effects, _ = edge
    gone = {"agisighup": False, "exit_on_hangup": True}
    in_menu = await _demo_call(agi_server, tenant, hangup_on=3, **gone)  # GET DATA: -1, then the probe is unread
    assert in_menu.ended == "exit-on-hangup" and in_menu.commands[-1].startswith("GET DATA")
    routed = await _demo_call(agi_server, tenant, hangup_on=4, **gone)  # the first SET VARIABLE, after the route
    assert routed.ended == "exit-on-hangup" and routed.commands[-1].startswith("SET VARIABLE")
    async with asyncio.timeout(2):  # the server's side of a dropped call may still be finishing
        while agi_server.sessions:
            await asyncio.sleep(0.01)
    assert agi_server.counts == {"completed": 0, "failed": 0, "hung_up": 2}

    events = [IntentEvent.from_fields(f) for _, f in await async_redis.xrange(intents_stream(tenant))]
    assert [(e.call_id, e.outcome, e.outcome_node) for e in events] == [
        (in_menu.channel.uniqueid, Outcome.ABANDONED, "amount"),
        (routed.channel.uniqueid, Outcome.ROUTED, "reduction-queue")]
    assert events[0].steps[-1].as_list()[1:4] == ["abandon", "main", "amount"]
    h = AsteriskChannel(f"{tenant}/hangup?cause=16&route=primary&outcome=routed", uniqueid=routed.channel.uniqueid)
    assert (await call_fastagi(agi_server.port, h)).ended == "app-closed"
    assert await effects.router.release(tenant, routed.channel.uniqueid) is False  # released by the h script


async def test_abandoned_call_still_hands_its_trajectory_over(agi_server: FastAgiServer, tenant: str,
                                                              async_redis) -> None:
    await _demo_call(agi_server, tenant, hangup_on=3)  # during GET DATA
    entries = await async_redis.xrange(intents_stream(tenant))
    assert entries[-1][1][b"outcome"] == b"abandoned"


@pytest.mark.parametrize("garbage", [
    b"GET / HTTP/1.1\r\nHost: hotline\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\n\n",
    b"agi_network: yes\nagi_network_scr",  # half a header, then close (panoramisk spins here)
    b"agi_x: " + b"y" * 70_000,
])
async def test_garbage_instead_of_a_header_ends_that_session_only(agi_server: FastAgiServer, tenant: str,
                                                                 garbage: bytes) -> None:
    assert await _raw(agi_server.port, garbage) == b""
    assert _routed(await _demo_call(agi_server, tenant))


async def test_garbage_reply_ends_the_session_and_the_dialplan_falls_back(agi_server: FastAgiServer,
                                                                          tenant: str) -> None:
    header = AsteriskChannel(f"{tenant}/ivr/main").header()
    reader, writer = await asyncio.open_connection("127.0.0.1", agi_server.port)
    writer.write(header)
    assert await reader.readline() == b"ANSWER\n"
    writer.write(b"garbage that is not AGI\n")
    assert await asyncio.wait_for(reader.read(), 2) == b""  # out of step: closed, nothing more sent
    writer.close()
    assert agi_server.counts["failed"] == 1
    assert _routed(await _demo_call(agi_server, tenant))


async def test_unknown_script_path_leaves_fallback_variables(agi_server: FastAgiServer, tenant: str) -> None:
    for path in (f"{tenant}/nosuch", f"{tenant}/ivr/nosuchmenu", "x/ivr", ""):
        result = await call_fastagi(agi_server.port, AsteriskChannel(path))
        assert result.variables["HOTLINE_ROUTE"] == "fallback", path
        assert result.variables["HOTLINE_OUTCOME"] == "error"
        assert result.agistatus == "SUCCESS"


async def test_silent_peers_time_out_while_other_calls_go_on(agi_server: FastAgiServer, tenant: str) -> None:
    silent = asyncio.create_task(_raw(agi_server.port, b"", close=False, read_for=3))
    header = AsteriskChannel(f"{tenant}/ivr/main").header()
    mute = asyncio.create_task(_raw(agi_server.port, header, close=False, read_for=3))
    started = time.monotonic()
    for _ in range(3):
        assert _routed(await _demo_call(agi_server, tenant))
    assert time.monotonic() - started < FAST.header_s
    assert await silent == b""  # header timeout: closed by us
    assert await mute == b"ANSWER\n"  # reply timeout: closed by us
    assert agi_server.counts["failed"] == 1


async def test_route_only_script(agi_server: FastAgiServer, tenant: str) -> None:
    result = await call_fastagi(agi_server.port, AsteriskChannel(f"{tenant}/route/billing"))
    assert result.variables["HOTLINE_DIAL"] == "PJSIP/4001@carrier-a"
    assert result.variables["HOTLINE_OUTCOME"] == "routed"
    assert result.commands[0] == "SET VARIABLE HOTLINE_CALL_ID 1795832832.46"


async def test_h_extension_releases_the_lease_and_records_the_hangup(agi_server: FastAgiServer, tenant: str,
                                                                     edge, async_redis) -> None:
    effects, _ = edge
    routed = await _demo_call(agi_server, tenant)
    uniqueid = routed.channel.uniqueid
    h = AsteriskChannel(f"{tenant}/hangup?dialstatus=ANSWER&cause=16&route=primary&outcome=routed",
                        uniqueid=uniqueid)
    result = await call_fastagi(agi_server.port, h)
    assert result.commands == [] and result.ended == "app-closed"
    assert await effects.router.release(tenant, uniqueid) is False  # already released by the h script
    [(_, fields)] = await async_redis.xrange(pbx_events_stream(tenant))
    assert (fields[b"kind"], fields[b"call_id"], fields[b"cause"]) == (b"hangup", uniqueid.encode(), b"16")


async def test_redis_down_still_routes_every_call(demo_conf, tenant: str, redis_url: str) -> None:
    import redis.asyncio as aioredis

    from ivr import load_intents, load_menus
    from router.aio import AsyncRouter
    from router.check import load_routing_config

    dead_url = "redis://127.0.0.1:1/0"
    dead = aioredis.Redis.from_url(dead_url, socket_connect_timeout=0.2)
    router = AsyncRouter.from_url(dead_url, load_routing_config(demo_conf), node="test-node")
    server = FastAgiServer("127.0.0.1", 0, effects=AsyncEffects(router, dead, load_intents(demo_conf)),
                           menus=load_menus(demo_conf), timeouts=FAST)
    await server.start()
    try:
        result = await _demo_call(server, tenant)
        assert result.variables["HOTLINE_ROUTE"] in ("primary", "desk")  # local decision, then hard phones
        assert result.variables["HOTLINE_INTENT"] == "fee_reduction"  # from the trajectory alone
    finally:
        await server.close()
        await dead.aclose()
        await router.client.aclose()


async def test_1000_calls_at_200_concurrent_all_complete(agi_server: FastAgiServer, tenant: str) -> None:
    limit = asyncio.Semaphore(200)

    async def one(i: int) -> SimResult:
        async with limit:
            channel = AsteriskChannel(f"{tenant}/ivr/main", Caller(keys=["2", "500#"]), uniqueid=f"1800000000.{i}",
                                      callerid=f"555{i:07d}")  # distinct callers: one history each
            return await call_fastagi(agi_server.port, channel, timeout=30)

    results = await asyncio.gather(*(one(i) for i in range(1000)))
    assert sum(r.variables.get("HOTLINE_INTENT") == "fee_reduction" for r in results) == 1000
    assert agi_server.counts == {"completed": 1000, "failed": 0, "hung_up": 0}
