"""``<tenant>/route/<queue>``: only ask the router; the dialplan dials ``${HOTLINE_DIAL}``."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from agi.ivr_steps import perform
from agi.scripts._outcome import outcome_variables
from agi.session import CallContext, Op, set_variables
from ivr.commands import HungUp, Route
from ivr.engine import ROUTE_OUTCOMES

__all__ = ["run"]


def run(call: CallContext) -> Generator[Op, Any, None]:
    decision = yield from perform(call, Route(call.arg))
    if isinstance(decision, HungUp):
        return
    yield from set_variables(call, outcome_variables(call, decision, str(ROUTE_OUTCOMES[decision.kind])))
