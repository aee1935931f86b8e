"""The ``HOTLINE_*`` variables a script leaves for the dialplan when a call leaves Hotline."""

from __future__ import annotations

from agi.session import CallContext
from agi.variables import (
    HOTLINE_CALL_ID,
    HOTLINE_DIAL,
    HOTLINE_INTENT,
    HOTLINE_OUTCOME,
    HOTLINE_PROBE,
    HOTLINE_ROUTE,
    HOTLINE_TARGET,
)
from ivr.commands import RouteDecision

__all__ = ["outcome_variables"]

TRANSFER_ROUTE = "transfer"


def outcome_variables(call: CallContext, route: RouteDecision | None, outcome: str,
                      intent: str | None = None) -> dict[str, str]:
    """Variables in the order they are set; HOTLINE_OUTCOME last, so a dialplan that sees it sees all."""
    variables = {HOTLINE_CALL_ID: call.call_id}
    if route is not None:
        variables[HOTLINE_ROUTE] = route.name
        variables[HOTLINE_DIAL] = route.dial or ""
        if route.target:
            variables[HOTLINE_TARGET] = route.target
        if call.route_probe:
            variables[HOTLINE_PROBE] = "1"
    elif call.transfer_to:
        variables[HOTLINE_ROUTE] = TRANSFER_ROUTE
        variables[HOTLINE_DIAL] = call.transfer_to
    if intent is not None:
        variables[HOTLINE_INTENT] = intent
    variables[HOTLINE_OUTCOME] = outcome
    return variables
