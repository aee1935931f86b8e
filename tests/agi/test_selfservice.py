"""Both trunks full: a FastAGI call is diverted to the keypad self-service menu, which the dialplan then runs.

The simulated res_agi plays one AGI() at a time, so the test follows
conf/asterisk/extensions_hotline.conf by hand: ``diverted`` goes to
``[hotline-divert]`` at the extension named by HOTLINE_ROUTE, whose AGI() URL is
read from the file with the channel's variables filled in.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from agi.fastagi import FastAgiServer
from hotline.keys import intents_stream
from ivr.events import IntentEvent
from ivr.trajectory import Outcome
from tests.sim.asterisk_agi import AsteriskChannel, Caller, call_fastagi


def divert_script(conf_dir: Path, tenant: str, variables: dict[str, str]) -> str:
    """The script path ``[hotline-divert]`` runs over FastAGI for the route in ``variables``."""
    dialplan = (conf_dir / "asterisk" / "extensions_hotline.conf").read_text()
    section = dialplan.split("[hotline-divert]")[1].split("\n[")[0]
    route = re.escape(variables["HOTLINE_ROUTE"])
    path = re.search(rf"^exten => {route},1,AGI\(\$\{{HOTLINE_AGI\}}/([^?)]+)", section, re.MULTILINE)
    assert path, f"[hotline-divert] runs no AGI for {variables['HOTLINE_ROUTE']!r}"
    return re.sub(r"\$\{(\w+)\}", lambda m: tenant if m[1] == "HOTLINE_TENANT" else variables[m[1]], path[1])


async def test_full_trunks_divert_to_selfservice_whose_keys_make_the_intent_event(
        agi_server: FastAgiServer, edge, tenant: str, conf_dir: Path, async_redis) -> None:
    effects, _ = edge
    for trunk in ("primary", "backup"):
        await effects.router.set_live(tenant, trunk, limit=0)
    uniqueid = f"{time.time():.6f}"

    main = await call_fastagi(agi_server.port, AsteriskChannel(f"{tenant}/ivr/main", Caller(keys=["0"]),
                                                               uniqueid=uniqueid))
    assert {k: main.variables[k] for k in ("HOTLINE_OUTCOME", "HOTLINE_ROUTE", "HOTLINE_TARGET")} == {
        "HOTLINE_OUTCOME": "diverted", "HOTLINE_ROUTE": "keypad", "HOTLINE_TARGET": "selfservice"}

    script = divert_script(conf_dir, tenant, main.variables)
    assert script == f"{tenant}/ivr/selfservice"
    channel = AsteriskChannel(script, Caller(keys=["2", "300#"]), uniqueid=uniqueid, variables=dict(main.variables))
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
