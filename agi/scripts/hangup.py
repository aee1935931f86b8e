"""``<tenant>/hangup`` from the ``h`` extension: release the call's trunk lease and record the hang-up.

Query (all optional, from the dialplan): ``dialstatus`` (``${DIALSTATUS}``),
``cause`` (``${HANGUPCAUSE}``), ``route``/``outcome``/``probe`` (the
``HOTLINE_*`` the IVR left), ``pbx`` (the PBX's name, as in the AMI config). A trunk that answered ``CHANUNAVAIL`` or
``CONGESTION`` feeds its breaker; a probe call that was answered closes it.
The channel is already dead here: no AGI command is needed.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from agi.session import PBX_KIND, CallContext, EffectFailed, Op, RecordHangup, ReleaseCall, ReportDial
from hotline.logs import get_logger
from hotline.pbx_events import PbxEvent, PbxEventKind

__all__ = ["run"]

log = get_logger(__name__)
TRUNK_FAILURES = frozenset({"CHANUNAVAIL", "CONGESTION"})


def run(call: CallContext) -> Generator[Op, Any, None]:
    q = call.query
    released = yield ReleaseCall(call.tenant, call.call_id)
    if isinstance(released, EffectFailed):
        log.warning("lease release failed; it lapses on its TTL", error=repr(released.error))
    dialstatus = q.get("dialstatus", "")
    if q.get("outcome") == "routed" and q.get("route"):
        ok = dialstatus == "ANSWER"
        if dialstatus in TRUNK_FAILURES or (ok and q.get("probe") == "1"):
            yield ReportDial(call.tenant, q["route"], call.call_id, ok)
    event = PbxEvent(
        tenant=call.tenant, pbx=q.get("pbx", PBX_KIND), kind=PbxEventKind.HANGUP,
        call_id=call.call_id, ts=call.clock(), channel=call.env.channel, caller=call.caller,
        exten=call.env.get("dnid") if call.env.get("dnid") != "unknown" else "", cause=q.get("cause", ""),
        raw={"source": "h-extension", "dialstatus": dialstatus, "route": q.get("route", ""),
             "outcome": q.get("outcome", "")},
    )
    recorded = yield RecordHangup(event)
    if isinstance(recorded, EffectFailed):
        log.warning("hang-up not recorded", error=repr(recorded.error))
    log.info("call hung up", released=released is True, dialstatus=dialstatus, cause=q.get("cause", ""))
