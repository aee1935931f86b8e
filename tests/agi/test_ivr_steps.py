"""Each IVR command's AGI steps, driven with recorded-style replies through a real ``AgiConnection`` (no I/O)."""

from __future__ import annotations

import pytest

from agi.ivr_steps import perform
from agi.protocol import AgiConnection, Command
from agi.session import CallContext, EffectFailed, RouteCall
from ivr.commands import (
    Answer,
    Collect,
    Digits,
    Done,
    GetVariable,
    Hangup,
    HungUp,
    Play,
    Prompt,
    Route,
    RouteDecision,
    RouteKind,
    SetVariable,
    Timeout,
    Transfer,
    Variable,
)

ENV = b"agi_network: yes\nagi_network_script: demo/ivr/main\nagi_uniqueid: 1.1\nagi_callerid: 5551234\n\n"


def _call() -> CallContext:
    conn = AgiConnection()
    conn.receive_data(ENV)
    env = conn.next_event()
    return CallContext(env, "demo", "ivr", "main", {}, conn, clock=lambda: 100.0)


def run(call: CallContext, command, wire: list[bytes], effects: dict | None = None):
    """Perform ``command``; each AGI command gets the next bytes of ``wire`` (notices included)."""
    steps = perform(call, command)
    sent: list[str] = []
    answer = None
    try:
        while True:
            op = steps.send(answer)
            if isinstance(op, Command):
                call.conn.send(op)
                sent.append(str(op))
                call.conn.receive_data(wire.pop(0))
                answer = call.conn.next_event()
                while type(answer).__name__ == "HangupNotice":
                    answer = call.conn.next_event()
                while type(call.conn.next_event()).__name__ == "HangupNotice":
                    pass  # as the drivers do: notices buffered behind the reply count at once
            else:
                answer = (effects or {})[type(op)]
    except StopIteration as stop:
        assert not wire
        return stop.value, sent


def test_play_with_barge_in_key_is_digits() -> None:
    play = Play((Prompt("hotline/welcome"), Prompt("hotline/main-menu")), "12")
    result, sent = run(_call(), play, [b"200 result=0 endpos=18023\n", b"200 result=50 endpos=7520\n"])
    assert result == Digits("2", elapsed_ms=0)
    assert sent == ["STREAM FILE hotline/welcome 12", "STREAM FILE hotline/main-menu 12"]


def test_missing_prompt_is_told_from_a_hangup_by_one_probe() -> None:
    play = Play((Prompt("no-such-file"), Prompt("hotline/welcome")))
    result, sent = run(_call(), play, [b"200 result=-1 endpos=0\n", b"200 result=6\n", b"200 result=0 endpos=1\n"])
    assert result == Done(elapsed_ms=0) and sent[1] == "CHANNEL STATUS"
    result, _ = run(_call(), play, [b"200 result=-1 endpos=0\n",
                                    b"511 Command Not Permitted on a dead channel or intercept routine\n"])
    assert result == HungUp(elapsed_ms=0)


def test_hangup_notice_after_minus_one_needs_no_probe() -> None:
    result, sent = run(_call(), Collect(None, 1, "", 3000, 3000), [b"200 result=-1\nHANGUP\n"])
    assert result == HungUp(elapsed_ms=0) and sent == ["WAIT FOR DIGIT 3000"]


@pytest.mark.parametrize("reply, expected", [
    (b"200 result=500\n", Digits("500", elapsed_ms=0)),
    (b"200 result= (timeout)\n", Timeout(elapsed_ms=0)),
    (b"200 result=12 (timeout)\n", Digits("12", elapsed_ms=0)),
    (b"200 result=0123\n", Digits("0123", elapsed_ms=0)),
])
def test_get_data_results(reply: bytes, expected) -> None:
    collect = Collect(Prompt("hotline/enter-amount"), 6, "#", 6000, 4000)
    result, sent = run(_call(), collect, [reply])
    assert result == expected and sent == ["GET DATA hotline/enter-amount 6000 6"]


def test_menu_read_without_prompt_is_wait_for_digit() -> None:
    assert run(_call(), Collect(None, 1, "", 5000, 5000), [b"200 result=55\n"])[0] == Digits("7", elapsed_ms=0)
    assert run(_call(), Collect(None, 1, "", 5000, 5000), [b"200 result=0\n"])[0] == Timeout(elapsed_ms=0)


def test_variables_and_answer_and_hangup() -> None:
    assert run(_call(), GetVariable("BOT_INTENT"), [b"200 result=0\n"])[0] == Variable(None, elapsed_ms=0)
    assert run(_call(), GetVariable("X"), [b"200 result=1 (a b)\n"])[0] == Variable("a b", elapsed_ms=0)
    assert run(_call(), SetVariable("X", "two\nlines"), [b"200 result=1\n"])[1] == ['SET VARIABLE X "two lines"']
    assert run(_call(), Answer(), [b"200 result=0\n"])[0] == Done(elapsed_ms=0)
    assert run(_call(), Hangup(), [b"200 result=1\nHANGUP\n"])[0] == Done(elapsed_ms=0)


def test_route_converts_the_router_decision_or_falls_back() -> None:
    class Decision:
        kind, name, dial, target, probe = "trunk", "primary", "PJSIP/4002@carrier-a", None, True

    call = _call()
    result, sent = run(call, Route("reduction"), [], {RouteCall: Decision()})
    assert result == RouteDecision(RouteKind.TRUNK, "primary", "PJSIP/4002@carrier-a", elapsed_ms=0)
    assert sent == [] and call.route_probe
    failed, _ = run(_call(), Route("reduction"), [], {RouteCall: EffectFailed(RuntimeError("x"))})
    assert failed.kind is RouteKind.HARDPHONE and failed.name == "fallback"


def test_transfer_sends_nothing_and_remembers_the_destination() -> None:
    call = _call()
    assert run(call, Transfer("PJSIP/6001"), []) == (Done(elapsed_ms=0), [])
    assert call.transfer_to == "PJSIP/6001"


def test_nothing_is_sent_once_the_channel_is_gone() -> None:
    call = _call()
    call.conn.receive_data(b"HANGUP\n")
    call.conn.next_event()
    assert run(call, Play((Prompt("x"),)), []) == (HungUp(elapsed_ms=0), [])
