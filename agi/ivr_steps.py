"""Each IVR command as AGI commands, and the replies as IVR results (sans-IO, see agi/session.py).

Strategy: one sub-generator per IVR command in ``STEPS``. Replies are read the
way res_agi writes them (tests/transcripts/ASTERISK.md):

* ``STREAM FILE`` / ``WAIT FOR DIGIT``: ``result`` is the ASCII code of the key
  (0: none). ``GET DATA``: ``result`` is the digits (``#`` not included),
  ``result= (timeout)`` is nothing pressed, digits with ``(timeout)`` is a
  partial entry.
* ``result=-1`` means "failed or hung up" (a missing sound file gives it too, on
  a live channel). One ``CHANNEL STATUS`` tells them apart: 511 on a dead
  channel. A HANGUP notice or 511 on any command is ``HungUp``.
* A failed prompt is skipped (logged) so a missing recording never strands a
  caller; a failed read counts as a timeout, so the menu's retries and fallback
  apply. Note a missing file makes AGISTATUS=FAILURE for the rest of the call:
  the dialplan trusts ``HOTLINE_ROUTE`` before AGISTATUS.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from agi.protocol import Reply
from agi.session import PBX_KIND, CallContext, EffectFailed, Op, RouteCall, agi, is_hung_up
from agi.variables import FALLBACK_ROUTE
from hotline.logs import get_logger
from ivr.commands import (
    Answer,
    Collect,
    Command,
    Digits,
    Done,
    GetVariable,
    Hangup,
    HungUp,
    Play,
    Result,
    Route,
    RouteDecision,
    RouteKind,
    SetVariable,
    Timeout,
    Transfer,
    Variable,
)

__all__ = ["STEPS", "perform"]

log = get_logger(__name__)
#: Played by GET DATA when a Collect has no prompt (Asterisk core sound).
SILENCE = "silence/1"
Step = Generator[Op, Any, Result]


def _failed(call: CallContext, reply: Any) -> Generator[Op, Any, bool]:
    """After ``result=-1``: True if the channel is gone (one CHANNEL STATUS probe)."""
    if is_hung_up(call, reply):
        return True
    probe = yield from agi("CHANNEL STATUS")
    return is_hung_up(call, probe)


def _answer(call: CallContext, _command: Answer) -> Step:
    reply = yield from agi("ANSWER")
    if is_hung_up(call, reply) or (reply.number == -1 and (yield from _failed(call, reply))):
        return HungUp(elapsed_ms=call.elapsed_ms())
    return Done(elapsed_ms=call.elapsed_ms())


def _play(call: CallContext, command: Play) -> Step:
    for prompt in command.prompts:
        reply = yield from agi("STREAM FILE", prompt.sound, command.escape_digits)
        if is_hung_up(call, reply):
            return HungUp(elapsed_ms=call.elapsed_ms())
        code = reply.number
        if code == -1:
            if (yield from _failed(call, reply)):
                return HungUp(elapsed_ms=call.elapsed_ms())
            log.warning("prompt could not be played; skipped", sound=prompt.sound)
        elif code:
            return Digits(chr(code), elapsed_ms=call.elapsed_ms())
    return Done(elapsed_ms=call.elapsed_ms())


def _collect(call: CallContext, command: Collect) -> Step:
    if command.prompt is None and command.max_digits == 1:
        reply = yield from agi("WAIT FOR DIGIT", command.first_timeout_ms)
        digits = chr(reply.number) if isinstance(reply, Reply) and (reply.number or 0) > 0 else ""
    else:
        sound = command.prompt.sound if command.prompt else SILENCE
        reply = yield from agi("GET DATA", sound, command.first_timeout_ms, command.max_digits)
        digits = reply.result if isinstance(reply, Reply) and reply.result != "-1" else ""
    if is_hung_up(call, reply):
        return HungUp(elapsed_ms=call.elapsed_ms())
    if isinstance(reply, Reply) and reply.result == "-1":
        if (yield from _failed(call, reply)):
            return HungUp(elapsed_ms=call.elapsed_ms())
        log.warning("digit read failed; counted as a timeout", command=type(command).__name__)
    if not digits:
        return Timeout(elapsed_ms=call.elapsed_ms())
    return Digits(digits, elapsed_ms=call.elapsed_ms())


def _get_variable(call: CallContext, command: GetVariable) -> Step:
    reply = yield from agi("GET VARIABLE", command.name)
    if is_hung_up(call, reply):
        return HungUp(elapsed_ms=call.elapsed_ms())
    value = (reply.data or "") if reply.result == "1" else None
    return Variable(value, elapsed_ms=call.elapsed_ms())


def _set_variable(call: CallContext, command: SetVariable) -> Step:
    value = command.value.replace("\x00", " ").replace("\r", " ").replace("\n", " ")
    reply = yield from agi("SET VARIABLE", command.name, value)
    if is_hung_up(call, reply):
        return HungUp(elapsed_ms=call.elapsed_ms())
    return Done(elapsed_ms=call.elapsed_ms())


def _route(call: CallContext, command: Route) -> Step:
    decision = yield RouteCall(call.tenant, command.queue, call.call_id, call.query.get("pbx", PBX_KIND))
    if isinstance(decision, EffectFailed):
        log.error("router failed; falling back to the dialplan's hard phones", queue=command.queue,
                  error=repr(decision.error))
        return RouteDecision(RouteKind.HARDPHONE, FALLBACK_ROUTE, elapsed_ms=call.elapsed_ms())
    call.route_probe = bool(getattr(decision, "probe", False))
    return RouteDecision(RouteKind(decision.kind), decision.name, decision.dial, decision.target,
                         elapsed_ms=call.elapsed_ms())


def _transfer(call: CallContext, command: Transfer) -> Step:
    """Blind transfer is the dialplan's Dial(${HOTLINE_DIAL}); nothing to send now."""
    call.transfer_to = command.destination
    return Done(elapsed_ms=call.elapsed_ms())
    yield  # a step is a generator even when it sends nothing


def _hangup(call: CallContext, _command: Hangup) -> Step:
    reply = yield from agi("HANGUP")
    if isinstance(reply, Reply) and reply.code == 200:
        return Done(elapsed_ms=call.elapsed_ms())
    return HungUp(elapsed_ms=call.elapsed_ms())


STEPS: dict[type, Callable[[CallContext, Any], Step]] = {
    Answer: _answer,
    Play: _play,
    Collect: _collect,
    GetVariable: _get_variable,
    SetVariable: _set_variable,
    Route: _route,
    Transfer: _transfer,
    Hangup: _hangup,
}
"""IVR command type → its AGI step; each returns exactly one result the engine accepts for it."""


def perform(call: CallContext, command: Command) -> Step:
    """The result of one IVR command; ``HungUp`` as soon as the channel is known to be gone."""
    if call.conn.hung_up:
        return HungUp(elapsed_ms=call.elapsed_ms())
    return (yield from STEPS[type(command)](call, command))
