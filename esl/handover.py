"""How a call leaves the IVR on FreeSWITCH: the hotline_* variables, then bridge, transfer or hang-up.

Strategy: one batch of queued ``set`` executes (event-lock keeps their order)
puts ``hotline_call_id``, ``hotline_intent``, ``hotline_outcome``,
``hotline_route``, ``hotline_dial`` (and ``hotline_target`` /
``hotline_divert_kind`` for diversions) on the channel, so the dialplan after
the socket app and the CDRs see them. Then:

* trunk or FreeSWITCH hard phones: ``bridge`` with ``continue_on_fail=true``
  (a failed bridge must not hang the caller up) and ``hangup_after_bridge=true``.
  While it lasts the lease is renewed every ``renew_s``. A failure (an
  ``originate_disposition`` other than SUCCESS and the caller's own
  ORIGINATOR_CANCEL) goes to the trunk's breaker, ``hotline_outcome`` becomes
  ``bridge_failed:<disposition>`` and the session exits: conf/freeswitch's
  fallback takes the call;
* a trunk written for Asterisk (``pbx: asterisk``) is reached as
  ``sofia/gateway/<trunk>/<queue number>``: the FreeSWITCH gateway named like the
  trunk. Asterisk hard phones cannot be dialled from here: the session exits
  and the dialplan fallback rings its own desk phones;
* diversion: ``transfer divert-<kind> XML hotline`` (the lease stays; the
  inbound event client releases it on CHANNEL_HANGUP_COMPLETE);
* fixed transfer: ``transfer <dest> XML <caller's context>``, or ``bridge`` if
  the destination is a dial string; IVR hang-up: ``hangup``.

Returns whether the call's lease is still needed (diversion); the driver
releases it otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from esl.channel import Channel
from hotline.logs import get_logger
from ivr.commands import Hangup, Transfer
from ivr.trajectory import CallRecord, Outcome
from router.decision import Decision
from router.model import Pbx, RouteKind, TenantRouting

__all__ = ["CALLER_CAUSES", "Routed", "fs_dial", "leave"]

log = get_logger(__name__)

CALLER_CAUSES = frozenset({"ORIGINATOR_CANCEL", "SUCCESS"})
"""Dispositions that say nothing bad about the trunk."""
DIVERT_CONTEXT = "hotline"
TICK_S = 1.0  # how often a bridged call looks at the shutdown flag


@dataclass
class Routed:
    """What the driver learnt on the way: the router's decision and the IVR's last Transfer/Hangup."""

    decision: Decision | None = None
    queue: str = ""
    deferred: Transfer | Hangup | None = None
    keep_lease: bool = False


def fs_dial(routing: TenantRouting, decision: Decision, queue: str) -> str | None:
    """The dial string FreeSWITCH can bridge for ``decision``, or ``None`` if it cannot reach the target."""
    trunk = routing.trunk(decision.name)
    if trunk is not None:
        if trunk.pbx is Pbx.FREESWITCH:
            return decision.dial
        number = routing.queue(queue).number if routing.queue(queue) else ""
        return f"sofia/gateway/{trunk.name}/{number}"
    if decision.kind is RouteKind.HARDPHONE and routing.hardphones.pbx is Pbx.FREESWITCH:
        return decision.dial
    return None


def _bridge(ch: Channel, edge: Any, tenant: str, dial: str, decision: Decision | None) -> str:
    """Bridge and wait, renewing the lease; returns the outcome to record on the channel."""
    app_id = ch.start_all([("bridge", dial)])
    renewed = ch.clock()
    while (done := ch.completion(app_id, min(edge.renew_s, TICK_S), "the bridge", through_hangup=True)) is None:
        if decision is not None and ch.clock() - renewed >= edge.renew_s:
            edge.router.renew(tenant, ch.uuid)
            renewed = ch.clock()
        if edge.stopping.is_set():
            log.warning("shutting down: bridged call left to FreeSWITCH", dial=dial)
            return "detached"
    disposition = done.variable("originate_disposition") or ch.variable("originate_disposition") or "UNKNOWN"
    if disposition in CALLER_CAUSES:
        if decision is not None and decision.probe and disposition == "SUCCESS":
            edge.router.report_success(tenant, decision.name, ch.uuid)
        log.info("bridge ended", dial=dial, disposition=disposition,
                 cause=done.variable("bridge_hangup_cause") or ch.hangup_cause or "")
        return "bridged"
    if decision is not None and decision.kind is RouteKind.TRUNK:
        edge.router.report_failure(tenant, decision.name, ch.uuid)
    log.warning("bridge failed", dial=dial, disposition=disposition)
    return f"bridge_failed:{disposition}"


def leave(ch: Channel, edge: Any, tenant: str, record: CallRecord, intent: str | None, routed: Routed) -> bool:
    """Carry out how the call leaves the IVR (see the module docstring); True if the lease must be kept."""
    if record.outcome is Outcome.ABANDONED or ch.hangup_cause is not None or ch.gone:
        return False
    variables = {"hotline_call_id": ch.uuid, "hotline_intent": intent or "", "hotline_outcome": str(record.outcome)}
    decision, action, dial = routed.decision, "exit", ""
    if decision is not None:
        routing = edge.router.planner.routing(tenant)
        dial = fs_dial(routing, decision, routed.queue) or ""
        variables.update(hotline_route=decision.name, hotline_dial=dial or decision.dial or "")
        if decision.kind is RouteKind.DIVERSION:
            diversion = routing.diversion(decision.name)
            variables.update(hotline_target=decision.target or "", hotline_divert_kind=str(diversion.kind))
            action, dial = "transfer", f"divert-{diversion.kind} XML {DIVERT_CONTEXT}"
        elif dial:
            action = "bridge"
    elif isinstance(routed.deferred, Transfer):
        dest = routed.deferred.destination
        variables.update(hotline_route="transfer", hotline_dial=dest)
        context = ch.data.headers.get("Caller-Context", "default") if ch.data else "default"
        action, dial = ("bridge", dest) if "/" in dest else ("transfer", f"{dest} XML {context}")
    elif isinstance(routed.deferred, Hangup):
        action = "hangup"
    if action == "bridge":
        variables.update(continue_on_fail="true", hangup_after_bridge="true")
    ch.execute_all([("set", f"{name}={value}") for name, value in variables.items()], ch.reply_timeout)
    if action == "bridge":
        outcome = _bridge(ch, edge, tenant, dial, decision)
        if outcome.startswith("bridge_failed") and not ch.hangup_cause:
            ch.execute("set", f"hotline_outcome={outcome}")
        return outcome == "detached"
    if action == "transfer":
        ch.execute("transfer", dial)
        log.info("call transferred", destination=dial)
        return decision is not None
    if action == "hangup":
        ch.hangup()
    elif decision is not None:
        log.warning("route not reachable from FreeSWITCH; the dialplan fallback takes the call",
                    route=decision.name, dial=decision.dial)
    return False
