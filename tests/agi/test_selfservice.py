"""Both trunks full: a FastAGI call is diverted to the keypad self-service menu, which the dialplan then runs.

The simulated res_agi plays one AGI() at a time, so the test follows
conf/asterisk/extensions_hotline.conf by hand: ``diverted`` goes to
``[hotline-divert]`` at the extension named by HOTLINE_ROUTE, whose ``Set()``s
change the channel's variables and whose AGI() URL is read from the file with
those variables filled in; a hang-up runs ``[hotline-h]``'s the same way.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from agi.fastagi import FastAgiServer
from hotline.keys import intents_stream, pbx_events_stream
from ivr.events import IntentEvent
from ivr.trajectory import Outcome
from tests.sim.asterisk_agi import AsteriskChannel, Caller, SimResult, call_fastagi

_PRIORITY = re.compile(r"^(?:exten => (?P<exten>[^,]+),1|\s+same => n),(?P<app>\w+)\((?P<data>.*)\)")


def _section(dialplan: str, context: str) -> list[str]:
    return dialplan.split(f"[{context}]\n")[1].split("\n[")[0].splitlines()


def dialplan_agi(conf_dir: Path, context: str, exten: str, tenant: str, variables: dict[str, str]) -> str:
    """Run ``exten`` of ``[context]`` up to its AGI() as Asterisk would: each ``Set()`` changes the channel's
    ``variables``; returns the AGI's script path and query, ``${...}`` filled in (channel, then globals)."""
    dialplan = (conf_dir / "asterisk" / "extensions_hotline.conf").read_text()
    globals_ = dict(line.split(";")[0].strip().split("=", 1) for line in _section(dialplan, "globals")
                    if "=" in line.split(";")[0])
    globals_["HOTLINE_TENANT"] = tenant

    def expand(text: str) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: variables.get(m[1], globals_.get(m[1], "")), text)

    running = False
    for line in _section(dialplan, context):
        found = _PRIORITY.match(line.split(" ; ")[0].rstrip())
        if found is not None and found["exten"] is not None:
            running = found["exten"] == exten
        if found is None or not running:
            continue
        if found["app"] == "AGI":
            return expand(found["data"]).removeprefix(globals_["HOTLINE_AGI"] + "/")
        assert found["app"] == "Set", f"[{context}] {exten}: this test does not follow {found['app']}()"
        name, value = found["data"].split("=", 1)
        variables[name] = expand(value)
    raise AssertionError(f"[{context}] runs no AGI for {exten!r}")


async def diverted_to_selfservice(server: FastAgiServer, edge, tenant: str, uniqueid: str) -> SimResult:
    """Both trunks full, the caller presses 0 in the main menu: the keypad diversion to the self-service menu."""
    effects, _ = edge
    for trunk in ("primary", "backup"):
        await effects.router.set_live(tenant, trunk, limit=0)
    main = await call_fastagi(server.port, AsteriskChannel(f"{tenant}/ivr/main", Caller(keys=["0"]),
                                                           uniqueid=uniqueid))
    assert {k: main.variables[k] for k in ("HOTLINE_OUTCOME", "HOTLINE_ROUTE", "HOTLINE_TARGET")} == {
        "HOTLINE_OUTCOME": "diverted", "HOTLINE_ROUTE": "keypad", "HOTLINE_TARGET": "selfservice"}
    return main


async def test_full_trunks_divert_to_selfservice_whose_keys_make_the_intent_event(
        agi_server: FastAgiServer, edge, tenant: str, conf_dir: Path, async_redis) -> None:
    effects, _ = edge
    uniqueid = f"{time.time():.6f}"
    main = await diverted_to_selfservice(agi_server, edge, tenant, uniqueid)

    variables = dict(main.variables)
    script = dialplan_agi(conf_dir, "hotline-divert", variables["HOTLINE_ROUTE"], tenant, variables)
    assert script == f"{tenant}/ivr/selfservice?pbx=pbx1"
    channel = AsteriskChannel(script, Caller(keys=["2", "300#"]), uniqueid=uniqueid, variables=variables)
    selfservice = await call_fastagi(agi_server.port, channel)

    assert selfservice.commands[1:3] == ['STREAM FILE hotline/selfservice-busy ""',
                                         "STREAM FILE hotline/selfservice-menu 0123456789*#ABCD"]
    assert "GET DATA hotline/reduction-amount 6000 6" in selfservice.commands
    thanks = selfservice.commands.index('STREAM FILE hotline/reduction-recorded ""')
    assert selfservice.commands[thanks + 1] == "HANGUP"
    assert selfservice.agistatus == "HANGUP"  # Hotline hung up: the dialplan goes to h, never to the hard phones
    events = [IntentEvent.from_fields(f) for _, f in await async_redis.xrange(intents_stream(tenant))]
    assert [(e.call_id, e.menu, e.outcome, e.intent, e.fields) for e in events] == [
        (uniqueid, "main", Outcome.DIVERTED, None, {}),
        (uniqueid, "selfservice", Outcome.HUNG_UP, "fee_reduction", {"amount": 300})]
    assert events[1].template == "fee_reduction" and events[1].outcome_node == "recorded"
    assert await effects.router.release(tenant, uniqueid)  # the keypad lease lasted the whole menu


async def test_a_caller_who_hangs_up_in_selfservice_is_not_recorded_as_diverted(
        agi_server: FastAgiServer, edge, tenant: str, conf_dir: Path, async_redis) -> None:
    """The menu sets no HOTLINE_* once the channel is gone, so the ``h`` extension must not find the first
    session's ``diverted`` there: it records what a hang-up in the main menu records, no outcome."""
    uniqueid = f"{time.time():.6f}"
    variables = dict((await diverted_to_selfservice(agi_server, edge, tenant, uniqueid)).variables)
    script = dialplan_agi(conf_dir, "hotline-divert", variables["HOTLINE_ROUTE"], tenant, variables)
    channel = AsteriskChannel(script, Caller(keys=["2"], hangup_on=3), uniqueid=uniqueid, variables=variables)
    selfservice = await call_fastagi(agi_server.port, channel)
    assert selfservice.commands[3] == "GET DATA hotline/reduction-amount 6000 6"
    assert selfservice.agistatus == "HANGUP"  # the dialplan goes to h

    variables |= {"HANGUPCAUSE": "16"}
    h = dialplan_agi(conf_dir, "hotline-h", "h", tenant, variables)
    assert (await call_fastagi(agi_server.port, AsteriskChannel(h, uniqueid=uniqueid))).ended == "app-closed"
    [(_, hangup)] = await async_redis.xrange(pbx_events_stream(tenant))
    assert json.loads(hangup[b"raw"]) == {"source": "h-extension", "dialstatus": "", "route": "keypad",
                                          "outcome": ""}
    events = [IntentEvent.from_fields(f) for _, f in await async_redis.xrange(intents_stream(tenant))]
    assert [(e.menu, e.outcome, e.outcome_node) for e in events] == [
        ("main", Outcome.DIVERTED, "agent"), ("selfservice", Outcome.ABANDONED, "amount")]
