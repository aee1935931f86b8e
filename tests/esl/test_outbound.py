"""The outbound socket end to end: simulated FreeSWITCH calls into a real ``hotline esl`` process and Redis."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from hotline import keys
from ivr.events import IntentEvent
from ivr.trajectory import Outcome
from router.check import load_routing_config
from router.model import Breaker
from router.sync import Router
from tests.esl.conftest import EslServer
from tests.sim.freeswitch import Caller, Fault, SimCall, SimResult

DEMO = ["2", "500#"]


def call(server: EslServer, tenant: str, caller: Caller | None = None, **kw) -> tuple[SimCall, SimResult]:
    sim = SimCall(variables={"hotline_tenant": tenant, "hotline_menu": "main"}, caller=caller or Caller(list(DEMO)),
                  **kw)
    result = asyncio.run(asyncio.wait_for(sim.run("127.0.0.1", server.port), 15))
    return sim, result


def intent_events(redis, tenant: str) -> list[IntentEvent]:
    return [IntentEvent.from_fields(fields) for _, fields in redis.xrange(keys.intents_stream(tenant))]


def router_for(server: EslServer, redis) -> Router:
    return Router(redis, load_routing_config(server.conf), node="test")


def test_demo_call_is_bridged_to_the_routers_trunk_with_its_intent_event(esl_server, esl_tenant, sync_redis):
    sim, result = call(esl_server, esl_tenant)

    assert result.bridged == ["sofia/gateway/primary/4002"]
    assert {k: v for k, v in result.variables.items() if k.startswith("hotline_") and "input" not in k} == {
        "hotline_tenant": esl_tenant, "hotline_menu": "main", "hotline_call_id": sim.uuid,
        "hotline_intent": "fee_reduction", "hotline_outcome": "routed", "hotline_route": "primary",
        "hotline_dial": "sofia/gateway/primary/4002"}
    assert result.variables["continue_on_fail"] == "true" and result.exited
    [event] = intent_events(sync_redis, esl_tenant)
    assert (event.call_id, event.caller, event.intent, event.fields, event.outcome) == (
        sim.uuid, "5551234", "fee_reduction", {"amount": 500}, Outcome.ROUTED)
    assert event.summary["path"] == ["welcome", "main", "amount", "reduction", "reduction-queue"]
    assert sync_redis.hget(keys.route_calls(esl_tenant), sim.uuid) is None  # released after the bridge
    lines = esl_server.process.records(call_id=sim.uuid)
    assert {r["event"] for r in lines} >= {"call left the IVR", "bridge ended"}
    assert all(r["tenant"] == esl_tenant for r in lines)


def test_every_execute_carries_event_lock_and_its_own_event_uuid(esl_server, esl_tenant):
    _, result = call(esl_server, esl_tenant)
    executes = [dict(c.headers) for c in result.commands if c.line == "sendmsg"]
    assert executes and all(h["event-lock"] == "true" and h["Event-UUID"] for h in executes)
    assert len({h["Event-UUID"] for h in executes}) == len(executes)
    assert [c.line for c in result.commands[:3]] == ["connect", "myevents", "linger"]
    assert result.commands[-1].line == "exit"
    pagd = [h["execute-app-arg"] for h in executes if h["execute-app-name"] == "play_and_get_digits"]
    assert pagd[1] == "1 6 1 6000 # hotline/enter-amount.wav silence_stream://250 hotline_input_2 [0-9*#A-D]+ 4000"
    assert all(len(arg.split(" ")) == 10 for arg in pagd)  # transfer_on_fail left out, never "None"


def test_lease_is_held_while_bridged_and_renewal_ticks_do_not_end_the_bridge(esl_server, esl_tenant, sync_redis):
    async def run() -> tuple[SimCall, bytes | None]:
        sim = SimCall(variables={"hotline_tenant": esl_tenant}, caller=Caller(list(DEMO)), talk_ms=60_000)
        task = asyncio.create_task(sim.run("127.0.0.1", esl_server.port))
        held = None
        for _ in range(200):
            await asyncio.sleep(0.01)
            if sim.result.bridged:
                held = await asyncio.to_thread(sync_redis.hget, keys.route_calls(esl_tenant), sim.uuid)
                break
        await asyncio.wait_for(task, 10)
        return sim, held

    sim, held = asyncio.run(run())
    assert held is not None and held.decode().startswith("primary|")
    assert sync_redis.hget(keys.route_calls(esl_tenant), sim.uuid) is None


@pytest.mark.parametrize("caller", [Caller(list(DEMO)), Caller(["500#"], barge={1: "2"})], ids=["after", "barge-in"])
def test_same_trajectory_and_intent_event_as_the_asterisk_path(esl_server, esl_tenant, sync_redis, redis_url,
                                                                caller):
    """The same demo call through FastAGI (agi/fastagi.py, simulated res_agi) and through the outbound socket."""
    from agi.effects import AsyncEffects, effects_client
    from agi.fastagi import FastAgiServer
    from ivr.check import load_intents, load_menus
    from router.aio import AsyncRouter
    from tests.sim.asterisk_agi import AsteriskChannel, call_fastagi
    from tests.sim.asterisk_agi import Caller as AsteriskCaller

    agi_tenant = esl_server.take_tenant()

    async def asterisk() -> None:
        router = AsyncRouter.from_url(redis_url, load_routing_config(esl_server.conf), node="test-agi")
        client = effects_client(redis_url)
        server = FastAgiServer("127.0.0.1", 0, effects=AsyncEffects(router, client, load_intents(esl_server.conf)),
                               menus=load_menus(esl_server.conf))
        await server.start()
        try:
            await call_fastagi(server.port, AsteriskChannel(f"{agi_tenant}/ivr/main", AsteriskCaller(keys=list(DEMO)),
                                                            uniqueid="1795832832.46"))
        finally:
            await server.close(grace_s=1.0)
            await router.client.aclose()
            await client.aclose()

    asyncio.run(asterisk())
    call(esl_server, esl_tenant, caller)
    [via_agi] = intent_events(sync_redis, agi_tenant)
    [via_esl] = intent_events(sync_redis, esl_tenant)

    def timeless(e: IntentEvent) -> dict:
        fields = e.to_fields()
        for name in ("call_id", "tenant", "started_at", "ended_at"):
            fields.pop(name)
        fields["steps"] = [s.as_list()[1:] for s in e.steps]
        fields["summary"] = {**e.summary, "duration_ms": None}
        return fields

    assert timeless(via_esl) == timeless(via_agi)
    assert via_esl.summary["route"] == {"kind": "trunk", "name": "primary", "dial": "PJSIP/4002@carrier-a",
                                        "target": None}  # the router's decision, whatever FreeSWITCH dials


@pytest.mark.parametrize("app, nth, keys_pressed, where", [
    ("answer", 0, DEMO, "welcome"),
    ("playback", 0, DEMO, "welcome"),
    ("playback", 1, DEMO, "main"),
    ("play_and_get_digits", 0, [None], "main"),
    ("play_and_get_digits", 1, ["2", None], "amount"),
])
def test_hang_up_during_the_ivr_is_an_abandoned_call(esl_server, esl_tenant, sync_redis, app, nth, keys_pressed,
                                                     where):
    sim, result = call(esl_server, esl_tenant, Caller(list(keys_pressed), hangup_on=(app, nth), hangup_after_ms=500),
                       sounds={"hotline/welcome.wav": 3000, "hotline/main-menu.wav": 3000,
                               "hotline/enter-amount.wav": 3000})
    [event] = intent_events(sync_redis, esl_tenant)
    assert (event.outcome, event.outcome_node, event.intent) == (Outcome.ABANDONED, where, None)
    assert result.hangup_cause == "NORMAL_CLEARING" and not result.bridged
    after = result.commands[[c.line for c in result.commands].index("sendmsg"):]
    assert result.exited and after[-1].line == "exit"  # the lingering session is ended by us
    assert not [c for c in after if dict(c.headers).get("execute-app-arg", "").startswith("hotline_outcome")]
    esl_server.process.wait_for_log(call_id=sim.uuid, event="call left the IVR", outcome="abandoned")


def test_hang_up_while_bridged_releases_the_lease(esl_server, esl_tenant, sync_redis):
    sim, result = call(esl_server, esl_tenant, Caller(list(DEMO), hangup_on=("bridge", 0), hangup_after_ms=100),
                       talk_ms=60_000)
    assert result.hangup_cause == "NORMAL_CLEARING" and result.bridged
    [event] = intent_events(sync_redis, esl_tenant)
    assert event.outcome is Outcome.ROUTED
    assert sync_redis.hget(keys.route_calls(esl_tenant), sim.uuid) is None
    esl_server.process.wait_for_log(call_id=sim.uuid, event="bridge ended", disposition="SUCCESS")


def test_barge_in_on_the_menu_prompt(esl_server, esl_tenant, sync_redis):
    _, result = call(esl_server, esl_tenant, Caller(["500#"], barge={1: "2"}))
    [event] = intent_events(sync_redis, esl_tenant)
    assert event.intent == "fee_reduction" and event.summary["keys"] == ["2", "500"]
    assert result.variables["playback_terminators"] == "0123456789*#ABCD"


def test_no_key_twice_goes_to_the_general_queue(esl_server, esl_tenant, sync_redis):
    _, result = call(esl_server, esl_tenant, Caller([None, None]))
    [event] = intent_events(sync_redis, esl_tenant)
    assert event.summary["timeouts"] == 2 and event.summary["queue"] == "general"
    assert result.bridged == ["sofia/gateway/primary/4000"]


def test_failed_bridges_feed_the_breaker_and_hand_the_call_back(esl_server, esl_tenant, sync_redis):
    router = router_for(esl_server, sync_redis)
    for _ in range(5):  # the demo trunk's breaker opens after 5 failures in 30 s
        sim, result = call(esl_server, esl_tenant, bridges={"primary": "CHAN_NOT_IMPLEMENTED"})
        assert result.variables["hotline_outcome"] == "bridge_failed:CHAN_NOT_IMPLEMENTED"
        assert result.hangup_cause == "" and result.exited  # continue_on_fail: the dialplan takes the call
        assert sync_redis.hget(keys.route_calls(esl_tenant), sim.uuid) is None
    primary = next(s for s in router.status(esl_tenant) if s.name == "primary")
    assert primary.breaker is Breaker.OPEN

    _, result = call(esl_server, esl_tenant)
    assert result.bridged == ["sofia/gateway/carrier_b/4002"]  # backup is a FreeSWITCH trunk: its own template


def test_full_trunks_divert_by_transfer_and_keep_the_lease(esl_server, esl_tenant, sync_redis):
    router = router_for(esl_server, sync_redis)
    router.set_live(esl_tenant, "primary", limit=0)
    router.set_live(esl_tenant, "backup", limit=0)
    sim, result = call(esl_server, esl_tenant)
    assert result.transferred == "divert-menu XML hotline" and not result.bridged
    assert (result.variables["hotline_outcome"], result.variables["hotline_target"]) == ("diverted", "selfservice")
    assert sync_redis.hget(keys.route_calls(esl_tenant), sim.uuid) is not None  # the event client frees it
    router.release(esl_tenant, sim.uuid)


@pytest.mark.parametrize("kind", ["bad-length", "no-content-type", "close-mid-body", "silent", "oversize"])
def test_bad_input_ends_that_session_only(esl_server, esl_tenant, sync_redis, kind):
    started = time.monotonic()
    sim, result = call(esl_server, esl_tenant, fault=Fault(kind, at=2))
    assert time.monotonic() - started < 5
    record = esl_server.process.wait_for_log(call_id=sim.uuid, event="session ended: bad input or silence from "
                                                                       "FreeSWITCH")
    assert record["level"] == "warning" and record["tenant"] == esl_tenant
    assert not intent_events(sync_redis, esl_tenant) and not result.bridged and result.closed_by

    _, good = call(esl_server, esl_tenant)  # the server keeps serving
    assert good.bridged == ["sofia/gateway/primary/4002"]


@pytest.mark.parametrize("first, low, high", [
    (b"", 0.8, 3),  # silence: given up after esl_reply_timeout_s (1 s here)
    (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\n\n", 0, 0.5),  # not a frame: dropped at once
])
def test_peer_that_never_sends_channel_data_is_dropped(esl_server, first, low, high):
    with socket.create_connection(("127.0.0.1", esl_server.port), timeout=5) as sock:
        assert sock.recv(100) == b"connect\n\n"
        started = time.monotonic()
        sock.sendall(first)
        rest = sock.recv(100)
        waited = time.monotonic() - started
    assert rest == b"" and low < waited < high
    esl_server.process.wait_for_log(event="session ended before the channel data arrived")


@pytest.mark.parametrize("key, action, target", [
    ("1", "hangup", ""),
    ("2", "transfer", "1000 XML default"),
    ("3", "bridge", "sofia/gateway/operator/5550100"),
])
def test_the_ivrs_own_exits(esl_server, esl_tenant, sync_redis, key, action, target):
    sim = SimCall(variables={"hotline_tenant": esl_tenant, "hotline_menu": "edges"}, caller=Caller([key]))
    result = asyncio.run(asyncio.wait_for(sim.run("127.0.0.1", esl_server.port), 15))
    [event] = intent_events(sync_redis, esl_tenant)
    outcome = {"hangup": Outcome.HUNG_UP, "transfer": Outcome.TRANSFERRED, "bridge": Outcome.TRANSFERRED}[action]
    assert event.outcome is outcome and result.variables["hotline_outcome"] == str(outcome)
    if action == "hangup":
        assert result.hangup_cause == "NORMAL_CLEARING" and not result.transferred
        assert [c for c in result.commands if dict(c.headers).get("call-command") == "hangup"]
    elif action == "transfer":
        assert result.transferred == target and result.variables["hotline_dial"] == "1000"
    else:
        assert result.bridged == [target] and result.variables["hotline_route"] == "transfer"
    assert sync_redis.hget(keys.route_calls(esl_tenant), sim.uuid) is None


def test_bot_results_are_read_with_uuid_getvar(esl_server, esl_tenant, sync_redis):
    slots = '{"amount": 500,\n "currency": "CNY"}'  # a raw newline would break a getvar reply
    sim = SimCall(variables={"hotline_tenant": esl_tenant, "hotline_menu": "edges", "BOT_INTENT": "operator",
                             "BOT_SLOTS": slots}, caller=Caller(["4"]))
    result = asyncio.run(asyncio.wait_for(sim.run("127.0.0.1", esl_server.port), 15))
    [event] = intent_events(sync_redis, esl_tenant)
    bot = next(s for s in event.steps if s.kind == "bot")
    assert (bot.value, bot.data) == ("operator", {"amount": "500", "currency": "CNY"})
    assert result.bridged == ["sofia/gateway/operator/5550100"]
    assert [c.line for c in result.commands if c.line.startswith("api")] == [
        f"api uuid_getvar {sim.uuid} BOT_INTENT", f"api uuid_getvar {sim.uuid} BOT_SLOTS"]


def test_missing_prompts_are_skipped_and_the_keys_still_read(esl_server, esl_tenant, sync_redis):
    sim, result = call(esl_server, esl_tenant, sounds={})  # not one prompt file exists
    [event] = intent_events(sync_redis, esl_tenant)
    assert (event.intent, event.fields) == ("fee_reduction", {"amount": 500})
    pagd = [arg for app, arg in result.apps if app == "play_and_get_digits"]
    assert [a.split(" ")[5] for a in pagd] == ["silence", "hotline/enter-amount.wav", "silence"]
    esl_server.process.wait_for_log(call_id=sim.uuid, event="prompt not played; reading the keys without it")
