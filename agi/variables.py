"""Channel variables Hotline sets or reads, by name (they must match conf/asterisk/extensions_hotline.conf)."""

from __future__ import annotations

__all__ = [
    "FALLBACK_ROUTE",
    "HOTLINE_ALERT_TEXT",
    "HOTLINE_CALL_ID",
    "HOTLINE_DIAL",
    "HOTLINE_ERROR",
    "HOTLINE_INTENT",
    "HOTLINE_OUTCOME",
    "HOTLINE_PROBE",
    "HOTLINE_ROUTE",
    "HOTLINE_TARGET",
    "OUTCOME_ERROR",
]

#: Route target the call goes to: a trunk, a diversion or the hard-phone group name,
#: ``transfer`` for a fixed transfer, or ``FALLBACK_ROUTE`` when Hotline could not decide.
HOTLINE_ROUTE = "HOTLINE_ROUTE"
#: Dial() argument: the trunk's dial template with the queue number filled in, or a transfer target.
HOTLINE_DIAL = "HOTLINE_DIAL"
#: Where a diversion sends the call (IVR menu id, bot dial string, chat link).
HOTLINE_TARGET = "HOTLINE_TARGET"
#: The caller's resolved intent (``fee_reduction``), empty when none.
HOTLINE_INTENT = "HOTLINE_INTENT"
#: How the call left the IVR (``routed``, ``diverted``, ``hardphone``, ``transferred``,
#: ``hung_up``, ``abandoned``) or ``OUTCOME_ERROR``.
HOTLINE_OUTCOME = "HOTLINE_OUTCOME"
#: Hotline's call id (``agi_uniqueid``); the ``h`` extension and AMI use it to release the lease.
HOTLINE_CALL_ID = "HOTLINE_CALL_ID"
#: ``1`` when the router let this call through a half-open breaker: the ``h`` extension passes it
#: back with ``DIALSTATUS`` so the trunk's breaker learns whether the probe call worked.
HOTLINE_PROBE = "HOTLINE_PROBE"
#: One word saying what went wrong when ``HOTLINE_OUTCOME`` is ``OUTCOME_ERROR``.
HOTLINE_ERROR = "HOTLINE_ERROR"

#: The text of a voice alert, on calls Hotline originates into the ``hotline-alerts`` context.
HOTLINE_ALERT_TEXT = "HOTLINE_ALERT_TEXT"

FALLBACK_ROUTE = "fallback"
OUTCOME_ERROR = "error"
