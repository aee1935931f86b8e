"""The shipped self-service menu (conf/ivr/demo/selfservice.yaml), where the keypad diversion sends callers.

Every way out hangs up: trunks were full when the call came here, so no node may route again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.check import load_intents, load_menus
from ivr.commands import Answer, Collect, Hangup, Play, Route
from ivr.engine import call_script
from ivr.intent import resolve
from ivr.trajectory import CallRecord, Outcome, StepKind
from tests.ivr.fakepbx import HANGUP, FakePbx


@pytest.fixture
def demo(conf_dir: Path):
    return load_menus(conf_dir)


def walk(menus, keys: list[str | None]) -> tuple[FakePbx, CallRecord]:
    pbx = FakePbx(list(keys))
    return pbx, pbx.run(call_script(menus, "demo", "selfservice"))


def said(pbx: FakePbx) -> list[str]:
    return [p.sound for c in pbx.commands if isinstance(c, Play) for p in c.prompts]


@pytest.mark.parametrize("keys, end_node, last_prompt", [
    (["1", "0"], "goodbye", "hotline/goodbye"),
    (["3"], "link-sent", "hotline/chat-link-sms"),
    (["9", "9"], "goodbye", "hotline/goodbye"),
    ([None, None], "goodbye", "hotline/goodbye"),
], ids=["balance-then-0", "chat", "invalid-twice", "silent-twice"])
def test_every_way_out_is_a_polite_hang_up(demo, keys, end_node, last_prompt):
    pbx, record = walk(demo, keys)

    assert record.outcome is Outcome.HUNG_UP and record.end_node == end_node
    assert said(pbx)[0] == "hotline/selfservice-busy" and said(pbx)[-1] == last_prompt
    assert pbx.commands[-1] == Hangup() and not [c for c in pbx.commands if isinstance(c, Route)]


def test_balance_plays_the_bill_prompt_then_offers_the_menu_again(demo):
    pbx, _ = walk(demo, ["1", "0"])
    assert said(pbx) == ["hotline/selfservice-busy", "hotline/selfservice-menu", "hotline/balance-info",
                         "hotline/selfservice-menu", "hotline/goodbye"]


def test_fee_reduction_by_keypad_sets_the_intent_that_becomes_a_ticket(demo, conf_dir):
    pbx, record = walk(demo, ["2", "0", "300"])  # 0 yuan is no amount: asked again

    assert record.outcome is Outcome.HUNG_UP and record.end_node == "recorded"
    assert said(pbx)[-1] == "hotline/reduction-recorded"
    assert [s.value for s in record.steps if s.kind is StepKind.INVALID] == ["amount"]
    resolution = resolve(record, "c1", [], load_intents(conf_dir), now=1000.0)
    assert (resolution.intent, resolution.fields, resolution.template) == ("fee_reduction", {"amount": 300},
                                                                         "fee_reduction")


def test_key_3_records_which_chat_diversion_s_link_to_send_and_sends_nothing_itself(demo):
    """The engine asks the PBX for no SMS: the request is a step and the summary's ``chat_link``, for serve."""
    pbx, record = walk(demo, ["3"])

    assert [(s.kind, s.node, s.value) for s in record.steps if s.kind is StepKind.CHAT_LINK] == [
        (StepKind.CHAT_LINK, "chat-link", "chat")]
    assert record.summary()["chat_link"] == "chat"
    assert {type(c) for c in pbx.commands} == {Answer, Play, Collect, Hangup}  # no Route, SetVariable, ...


def test_a_caller_who_hangs_up_during_link_sent_still_gets_the_link_asked_for(demo):
    _, record = walk(demo, ["3", HANGUP])
    assert record.outcome is Outcome.ABANDONED and record.end_node == "link-sent"
    assert record.summary()["chat_link"] == "chat"


@pytest.mark.parametrize("keys", [["2", "300"], ["1", "0"], [None, None]],
                         ids=["fee-reduction", "balance", "silent"])
def test_no_other_way_through_the_menu_asks_for_a_chat_link(demo, keys):
    _, record = walk(demo, keys)
    assert record.summary()["chat_link"] is None
