"""The outbound-socket driver: one call, from ``connect`` to ``exit``, driving the IVR engine.

Strategy (ivr.engine's driver contract): connect, read the channel data
(``hotline_tenant``, ``hotline_menu``, caller, uuid), step the call script,
performing each command with ``esl.apps`` and answering ``HungUp`` once the
caller is gone; then hand the trajectory to the flow engine
(``hotline.handoff``), and let ``esl.handover`` set the variables and bridge,
transfer or hang up. Whatever happens, the lease is released unless the call
still needs it, and the session ends with ``exit`` (a lingering session never
closes by itself). Bad input or a silent FreeSWITCH ends this session only;
the log line carries tenant and call id.
"""

from __future__ import annotations

import time
from typing import Any

from esl.apps import Apps
from esl.channel import CallGone, Channel, CommandFailed, SessionTimeout
from esl.framing import EslRemoteError
from esl.handover import Routed, leave
from hotline.handoff import CallEnd, finish_call_sync
from hotline.logs import bind_call, get_logger
from ivr.commands import Hangup, HungUp, RouteDecision, RouteKind, Transfer
from ivr.engine import IvrError, call_script
from ivr.intent import intent_of
from router.decision import RouterError

__all__ = ["BAD_INPUT", "serve_call"]

log = get_logger(__name__)
BAD_INPUT = (SessionTimeout, EslRemoteError, CommandFailed)


def serve_call(sock: Any, edge: Any) -> None:
    """Drive the call on ``sock`` (FreeSWITCH's socket app connected to us) to its end."""
    ch = Channel(sock, reply_timeout=edge.reply_timeout)
    try:
        data = ch.connect()
    except (CallGone, *BAD_INPUT) as exc:
        log.warning("session ended before the channel data arrived", error=str(exc))
        ch.close()
        return
    tenant = data.variable("hotline_tenant") or edge.default_tenant
    with bind_call(tenant, data.unique_id):
        routed = Routed()
        try:
            _drive(ch, edge, tenant, data.variable("hotline_menu") or "main", routed)
        except CallGone as exc:
            log.info("caller gone", reason=str(exc))
        except BAD_INPUT as exc:
            log.warning("session ended: bad input or silence from FreeSWITCH", error=str(exc))
        except (IvrError, RouterError) as exc:
            log.error("call handed back to the dialplan", error=str(exc))
        finally:
            try:
                if routed.decision is not None and not routed.keep_lease:
                    edge.router.release(tenant, ch.uuid)
            finally:
                ch.close()


def _drive(ch: Channel, edge: Any, tenant: str, menu: str, routed: Routed) -> None:
    started_at = time.time()

    def route(queue: str, elapsed_ms: int) -> RouteDecision:
        routed.decision, routed.queue = edge.router.decide(tenant, queue, ch.uuid, pbx=edge.pbx), queue
        d = routed.decision
        return RouteDecision(RouteKind(d.kind), d.name, dial=d.dial, target=d.target, elapsed_ms=elapsed_ms)

    apps = Apps(ch, route, prompt_timeout=edge.prompt_timeout)
    script = call_script(edge.menus, tenant, menu, language=ch.variable("language"))
    command = next(script)
    try:
        while True:
            try:
                result = apps.perform(command)
            except CallGone:
                result = HungUp(elapsed_ms=ch.elapsed_ms())
            if isinstance(command, Transfer | Hangup):
                routed.deferred = command
            command = script.send(result)
    except StopIteration as stop:
        record = stop.value
    caller = ch.data.headers.get("Caller-Caller-ID-Number", "") if ch.data else ""
    intent = _hand_off(edge, CallEnd(record, ch.uuid, caller, started_at, time.time()))
    routed.keep_lease = leave(ch, edge, tenant, record, intent, routed)


def _hand_off(edge: Any, end: CallEnd) -> str | None:
    """The intent as resolved with the caller's history; without Redis, the one the IVR recorded."""
    try:
        event = finish_call_sync(edge.redis, end, edge.rules).event
    except edge.redis_faults as exc:
        log.error("intent event not written", error=repr(exc))
        return intent_of(end.record)[0]
    log.info("call left the IVR", outcome=str(event.outcome), intent=event.intent or "", repeat=event.repeat)
    return event.intent
