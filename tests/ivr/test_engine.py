"""The call script, driven by feeding results: the shipped demo menu and small menus for each node type."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.check import load_intents, load_menus
from ivr.commands import (
    Answer, Collect, Done, GetVariable, Hangup, HungUp, Play, Prompt, Route, RouteKind, SetVariable,
    Timeout, Transfer, Variable,
)
from ivr.engine import RESULTS_FOR, UnexpectedResult, UnknownMenu, call_script
from ivr.intent import Priority, resolve
from ivr.trajectory import Outcome, StepKind
from tests.ivr.fakepbx import HANGUP, Barge, FakePbx, menus_from

PROMPTS = """
prompts:
  hello: {en: {sound: t/hello, text: Hello}}
  menu: {en: {sound: t/menu, text: Menu}}
  bye: {en: {sound: t/bye, text: Bye}}
"""


@pytest.fixture
def demo(conf_dir: Path):
    return load_menus(conf_dir)


def kinds(record, kind: StepKind) -> list[str]:
    return [s.value for s in record.steps if s.kind is kind]


def test_fee_reduction_keys_2_then_500_hash_route_to_reduction_with_amount(demo, conf_dir):
    pbx = FakePbx(["2", "500"])
    record = pbx.run(call_script(demo, "demo", "main"))

    assert pbx.commands[0] == Answer()
    assert Route("reduction") in pbx.commands
    menu_wait, collect = [c for c in pbx.commands if isinstance(c, Collect)]
    assert (menu_wait.prompt, menu_wait.max_digits, menu_wait.terminator) == (None, 1, "")
    assert collect.prompt.sound == "hotline/enter-amount"
    assert (collect.max_digits, collect.min_digits, collect.terminator) == (6, 1, "#")
    assert record.outcome is Outcome.ROUTED and record.end_node == "reduction-queue"
    resolution = resolve(record, "c1", [], load_intents(conf_dir), now=1000.0)
    assert resolution.intent == "fee_reduction"
    assert resolution.fields == {"amount": 500} and type(resolution.fields["amount"]) is int
    assert (resolution.template, resolution.priority) == ("fee_reduction", Priority.HIGH)


def test_invalid_key_twice_ends_at_general_queue(demo):
    pbx = FakePbx(["9", "9"])
    record = pbx.run(call_script(demo, "demo", "main"))

    assert pbx.commands[-1] == Route("general")
    assert record.outcome is Outcome.ROUTED and record.end_node == "agent"
    assert kinds(record, StepKind.INVALID) == ["9", "9"]
    assert kinds(record, StepKind.PROMPT).count("invalid") == 2
    assert kinds(record, StepKind.FALLBACK) == ["agent"]
    assert record.summary()["queue"] == "general"


def test_no_key_twice_ends_at_general_queue(demo):
    record = FakePbx([None, None]).run(call_script(demo, "demo", "main"))

    assert record.count(StepKind.TIMEOUT) == 2 and record.count(StepKind.RETRY) == 1
    assert record.end_node == "agent" and record.summary()["queue"] == "general"


def test_hang_up_during_collect_is_abandoned_at_that_node(demo):
    pbx = FakePbx(["2", HANGUP], step_ms=700)
    record = pbx.run(call_script(demo, "demo", "main"))

    assert isinstance(pbx.commands[-1], Collect)
    assert record.outcome is Outcome.ABANDONED
    assert (record.end_menu, record.end_node) == ("main", "amount")
    assert record.steps[-1].kind is StepKind.ABANDON and record.ended_ms == 700 * len(pbx.commands)


def test_hang_up_before_answer_is_abandoned_at_start(demo):
    record = FakePbx([HANGUP]).run(call_script(demo, "demo", "main"))
    assert (record.outcome, record.end_node) == (Outcome.ABANDONED, "welcome")


def test_barge_in_during_menu_prompt_skips_the_wait(demo):
    pbx = FakePbx([Barge("1")])
    record = pbx.run(call_script(demo, "demo", "main"))

    menu_play = pbx.commands[2]
    assert isinstance(menu_play, Play) and "1" in menu_play.escape_digits
    assert not any(isinstance(c, Collect) for c in pbx.commands)
    assert pbx.commands[-1] == Route("billing")
    assert record.path() == ["welcome", "main", "bill", "billing"]


def test_collect_timeout_plays_retry_prompt_then_accepts(demo):
    pbx = FakePbx(["2", None, "42"])
    record = pbx.run(call_script(demo, "demo", "main"))

    assert kinds(record, StepKind.RETRY) == ["1"]
    assert [s.value for s in record.steps if s.kind is StepKind.SET] == ["fee_reduction"]
    assert record.steps[-2].data is None and pbx.commands[-1] == Route("reduction")
    set_step = next(s for s in record.steps if s.kind is StepKind.SET)
    assert set_step.data == {"amount": 42}


def test_collect_out_of_retries_falls_back_to_general(demo):
    record = FakePbx(["2", None, "1234567"]).run(call_script(demo, "demo", "main"))

    assert kinds(record, StepKind.INVALID) == ["1234567"]
    assert kinds(record, StepKind.FALLBACK) == ["agent"] and record.summary()["queue"] == "general"


def test_amount_out_of_bounds_asks_again(demo):
    record = FakePbx(["2", "0", "300"]).run(call_script(demo, "demo", "main"))

    assert kinds(record, StepKind.INVALID) == ["amount"]
    assert record.path() == ["welcome", "main", "amount", "reduction", "amount", "reduction", "reduction-queue"]
    assert [s.data for s in record.steps if s.kind is StepKind.SET] == [{"amount": 300}]


def test_language_comes_from_the_channel_with_fallback_to_default(demo):
    zh = FakePbx(["0"])
    zh.run(call_script(demo, "demo", "main", language="zh_CN"))
    assert zh.commands[1] == Play((Prompt("hotline/welcome", "欢迎致电演示热线。"),))

    fr = FakePbx(["0"])
    record = fr.run(call_script(demo, "demo", "main", language="fr"))
    assert record.language == "en" and fr.commands[1].prompts[0].text == "Welcome to the demo hotline."


def test_times_come_from_the_results(demo):
    record = FakePbx(["0"], step_ms=250).run(call_script(demo, "demo", "main"))
    assert [s.at_ms for s in record.steps if s.kind is StepKind.ENTER] == [250, 500, 1000]
    assert record.ended_ms == 1250


@pytest.mark.parametrize(("kind", "outcome"), [
    (RouteKind.TRUNK, Outcome.ROUTED),
    (RouteKind.DIVERSION, Outcome.DIVERTED),
    (RouteKind.HARDPHONE, Outcome.HARDPHONE),
])
def test_route_decision_kind_sets_the_outcome(demo, kind, outcome):
    record = FakePbx(["0"], route=kind).run(call_script(demo, "demo", "main"))
    assert record.outcome is outcome and record.route.kind is kind


def test_result_that_cannot_answer_the_command_is_the_drivers_bug(demo):
    script = call_script(demo, "demo", "main")
    assert next(script) == Answer()
    with pytest.raises(UnexpectedResult, match="Variable cannot answer Answer"):
        script.send(Variable("x", elapsed_ms=1))


def test_unknown_menu_fails_before_the_first_command(demo):
    with pytest.raises(UnknownMenu, match="no IVR menu 'nope' for tenant 'demo'"):
        call_script(demo, "demo", "nope")


def test_transition_table_covers_every_command():
    table = {cmd.__name__: [r.__name__ for r in results] for cmd, results in RESULTS_FOR.items()}
    print(table)
    assert set(table) == {"Answer", "Play", "Collect", "GetVariable", "SetVariable", "Route", "Transfer", "Hangup"}
    assert table["Collect"] == ["Digits", "Timeout"] and table["Play"] == ["Done", "Digits"]


BOT_MENU = """
start: bot
nodes:
  bot:
    type: bot
    intents: {fee_reduction: reduce, balance: bye}
    default: agent
  reduce:
    type: set
    intent: fee_reduction
    fields:
      amount: {value: "{slot.amount}", type: int, min: 1}
    variables: {HOTLINE_INTENT: fee_reduction, HOTLINE_AMOUNT: "{slot.amount}"}
    on_invalid: agent
    next: queue
  queue: {type: route, queue: reduction}
  agent: {type: transfer, destination: "8000"}
  bye: {type: hangup, prompts: [bye]}
"""
INTENTS = "intents:\n  fee_reduction: {template: fee_reduction}\n"


@pytest.fixture
def bot_menus(tmp_path):
    return menus_from(tmp_path, {"intents.yaml": INTENTS, "ivr/t/bot.yaml": BOT_MENU + PROMPTS})


def test_bot_intent_and_slots_branch_and_fill_fields(bot_menus):
    pbx = FakePbx([], variables={"BOT_INTENT": "fee_reduction", "BOT_SLOTS": '{"amount": "300"}'})
    record = pbx.run(call_script(bot_menus, "t", "bot"))

    assert pbx.commands[1:3] == [GetVariable("BOT_INTENT"), GetVariable("BOT_SLOTS")]
    assert SetVariable("HOTLINE_AMOUNT", "300") in pbx.commands
    assert record.summary()["bot_intent"] == "fee_reduction"
    assert [s.data for s in record.steps if s.kind is StepKind.SET] == [{"amount": 300}]
    assert record.outcome is Outcome.ROUTED


def test_bot_without_slots_takes_on_invalid(bot_menus):
    pbx = FakePbx([], variables={"BOT_INTENT": "fee_reduction", "BOT_SLOTS": "not json"})
    record = pbx.run(call_script(bot_menus, "t", "bot"))
    assert pbx.commands[-1] == Transfer("8000")
    assert (record.outcome, record.end_node) == (Outcome.TRANSFERRED, "agent")


def test_bot_unknown_intent_takes_default(bot_menus):
    record = FakePbx([]).run(call_script(bot_menus, "t", "bot"))
    assert kinds(record, StepKind.BOT) == [""] and record.outcome is Outcome.TRANSFERRED


def test_hangup_node_says_goodbye_and_a_hung_up_answer_is_not_an_abandon(bot_menus):
    script = call_script(bot_menus, "t", "bot")
    command = next(script)
    results = iter([Done(elapsed_ms=1), Variable("balance", elapsed_ms=2), Variable(None, elapsed_ms=3),
                    Done(elapsed_ms=4), HungUp(elapsed_ms=5)])
    seen = []
    with pytest.raises(StopIteration) as stop:
        while True:
            seen.append(command)
            command = script.send(next(results))
    assert seen[-2:] == [Play((Prompt("t/bye", "Bye"),)), Hangup()]
    record = stop.value.value
    assert (record.outcome, record.end_node) == (Outcome.HUNG_UP, "bye")
    assert record.steps[-1].kind is StepKind.HANGUP


GOTO_MAIN = """
start: top
nodes:
  top:
    type: menu
    prompts: [menu]
    keys: {3: to-sub, 4: again, 0: out}
    on_failure: out
  to-sub: {type: goto, menu: sub}
  again: {type: goto, node: top}
  out: {type: route, queue: general}
"""
GOTO_SUB = """
start: sub-menu
answer: false
nodes:
  sub-menu:
    type: menu
    prompts: [hello]
    keys: {9: up, 1: deeper}
    on_failure: up
  up: {type: back}
  deeper: {type: goto, menu: sub2, node: leaf}
"""
GOTO_SUB2 = """
start: leaf
nodes:
  leaf:
    type: menu
    prompts: [bye]
    keys: {9: up}
    on_failure: up
  up: {type: back}
"""


@pytest.fixture
def goto_menus(tmp_path):
    return menus_from(tmp_path, {"ivr/t/_prompts.yaml": PROMPTS, "ivr/t/main.yaml": GOTO_MAIN,
                                 "ivr/t/sub.yaml": GOTO_SUB, "ivr/t/sub2.yaml": GOTO_SUB2})


def test_goto_other_menu_and_back_returns_to_the_caller_menu(goto_menus):
    record = FakePbx(["3", "9", "0"]).run(call_script(goto_menus, "t", "main"))
    assert record.path() == ["top", "to-sub", "sub/sub-menu", "sub/up", "top", "out"]
    assert record.summary()["queue"] == "general"


def test_back_twice_unwinds_two_menus(goto_menus):
    record = FakePbx(["3", "1", "9", "9", "0"]).run(call_script(goto_menus, "t", "main"))
    assert record.path() == ["top", "to-sub", "sub/sub-menu", "sub/deeper", "sub2/leaf", "sub2/up",
                             "sub/sub-menu", "sub/up", "top", "out"]


def test_goto_same_menu_node_and_abandon_in_submenu(goto_menus):
    record = FakePbx(["4", "3", HANGUP]).run(call_script(goto_menus, "t", "main"))
    assert record.path()[:4] == ["top", "again", "top", "to-sub"]
    assert (record.outcome, record.end_menu, record.end_node) == (Outcome.ABANDONED, "sub", "sub-menu")


def test_timeout_result_to_menu_wait_counts_as_failure(goto_menus):
    script = call_script(goto_menus, "t", "main")
    assert next(script) == Answer()
    assert isinstance(script.send(Done(elapsed_ms=1)), Play)
    wait = script.send(Done(elapsed_ms=2))
    assert wait == Collect(None, 1, "", 5000, 5000, 1)
    assert isinstance(script.send(Timeout(elapsed_ms=5002)), Play)


def test_back_before_any_menu_goes_to_otherwise(tmp_path):
    menus = menus_from(tmp_path, {"ivr/t/m.yaml": """
start: info
nodes:
  info: {type: play, prompts: [hello], next: up}
  up: {type: back, otherwise: bye}
  bye: {type: hangup, prompts: [bye]}
""" + PROMPTS})
    record = FakePbx([]).run(call_script(menus, "t", "m"))
    assert record.path() == ["info", "up", "bye"] and record.outcome is Outcome.HUNG_UP


def test_back_from_an_info_node_of_a_submenu_returns_to_the_menu_before(tmp_path):
    menus = menus_from(tmp_path, {"ivr/t/_prompts.yaml": PROMPTS, "ivr/t/main.yaml": GOTO_MAIN,
                                  "ivr/t/sub.yaml": """
start: info
nodes:
  info: {type: play, prompts: [hello], next: up}
  up: {type: back, otherwise: info-end}
  info-end: {type: hangup}
"""})
    record = FakePbx(["3", "0"]).run(call_script(menus, "t", "main"))
    assert record.path() == ["top", "to-sub", "sub/info", "sub/up", "top", "out"]
