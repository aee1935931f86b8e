"""``<tenant>/ivr/<menu>``: run an IVR menu, hand the intent over, leave HOTLINE_* for the dialplan.

Query: ``lang`` overrides the channel's language (``agi_language``).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from agi.ivr_steps import perform
from agi.scripts._outcome import outcome_variables
from agi.session import CallContext, EffectFailed, FinishCall, Op, ScriptError, set_variables
from hotline.handoff import CallEnd
from hotline.logs import get_logger
from ivr.engine import UnknownMenu, call_script
from ivr.intent import intent_of

__all__ = ["run"]

log = get_logger(__name__)


def run(call: CallContext) -> Generator[Op, Any, None]:
    language = call.query.get("lang") or call.env.get("language") or None
    try:
        script = call_script(call.menus, call.tenant, call.arg, language=language)
    except UnknownMenu as exc:
        raise ScriptError(str(exc)) from exc
    command = next(script)
    while True:
        result = yield from perform(call, command)
        try:
            command = script.send(result)
        except StopIteration as stop:
            record = stop.value
            break
    handoff = yield FinishCall(CallEnd(record, call.call_id, call.caller, call.started_at, call.clock()))
    if isinstance(handoff, EffectFailed):
        log.error("intent hand-off failed; the call still goes on", error=repr(handoff.error))
        intent = intent_of(record)[0]
    else:
        intent = handoff.event.intent
    log.info("ivr finished", menu=call.arg, outcome=str(record.outcome), intent=intent,
             route=record.route.name if record.route else None, ms=record.ended_ms)
    yield from set_variables(call, outcome_variables(call, record.route, str(record.outcome), intent or ""))
