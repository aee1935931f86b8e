"""Both trunks full: a call on the outbound socket is diverted to the keypad self-service menu and runs it.

The simulated FreeSWITCH only records the ``transfer``, so the test follows
conf/freeswitch/hotline.xml by hand: the extension the transfer names sets its
variables from the channel's, then hands the same channel to ``hotline esl``
again with its socket application.
"""

from __future__ import annotations

import asyncio
import re
from xml.etree import ElementTree

from ivr.trajectory import Outcome
from tests.esl.conftest import ROOT, EslServer
from tests.esl.test_outbound import intent_events, router_for
from tests.sim.freeswitch import Caller, SimCall, SimResult


def run(server: EslServer, sim: SimCall) -> SimResult:
    return asyncio.run(asyncio.wait_for(sim.run("127.0.0.1", server.port), 15))


def transferred_variables(result: SimResult) -> dict[str, str]:
    """The channel's variables once the extension ``result.transferred`` names has run up to its socket app."""
    extension, _, context = result.transferred.split(" ")
    root = ElementTree.parse(ROOT / "conf" / "freeswitch" / "hotline.xml").getroot()
    [condition] = [c for c in root.iterfind(f"context[@name='{context}']/extension/condition")
                   if re.fullmatch(c.get("expression", ""), extension)]
    variables = dict(result.variables)
    for action in condition.iter("action"):
        if action.get("application") == "socket":
            return variables
        if action.get("application") == "set":
            name, _, value = action.get("data", "").partition("=")
            variables[name] = re.sub(r"\$\{(\w+)\}", lambda m: variables.get(m[1], ""), value)
    raise AssertionError(f"extension {extension} never hands the call back to hotline esl")


def test_full_trunks_divert_to_selfservice_whose_keys_make_the_intent_event(esl_server, esl_tenant, sync_redis):
    router = router_for(esl_server, sync_redis)
    router.set_live(esl_tenant, "primary", limit=0)
    router.set_live(esl_tenant, "backup", limit=0)
    main = SimCall(variables={"hotline_tenant": esl_tenant, "hotline_menu": "main"}, caller=Caller(["0"]))
    diverted = run(esl_server, main)
    assert diverted.transferred == "divert-menu XML hotline"

    variables = transferred_variables(diverted)
    assert variables["hotline_menu"] == "selfservice"
    selfservice = run(esl_server, SimCall(variables=variables, uuid=main.uuid, caller=Caller(["2", "300#"])))

    played = [arg for app, arg in selfservice.apps if app == "playback"]
    assert played[:2] == ["hotline/selfservice-busy.wav", "hotline/selfservice-menu.wav"]
    assert played[-1] == "hotline/reduction-recorded.wav" and selfservice.hangup_cause == "NORMAL_CLEARING"
    assert not selfservice.bridged and not selfservice.transferred  # not the hard phones, not diverted again
    assert (selfservice.variables["hotline_outcome"], selfservice.variables["hotline_intent"]) == (
        "hung_up", "fee_reduction")
    first, second = intent_events(sync_redis, esl_tenant)
    assert (first.call_id, first.menu, first.outcome, first.intent) == (main.uuid, "main", Outcome.DIVERTED, None)
    assert (second.call_id, second.menu, second.outcome, second.intent, second.fields, second.outcome_node) == (
        main.uuid, "selfservice", Outcome.HUNG_UP, "fee_reduction", {"amount": 300}, "recorded")
    assert router.release(esl_tenant, main.uuid)  # the keypad lease lasted the whole menu; the event client frees it
