"""The end-of-call event the flow engine turns into a ticket.

One entry per call on ``keys.intents_stream(tenant)``; every field is text
(Redis stream fields), JSON where the value is structured::

    v                 "1"                       shape version; bump on incompatible change
    call_id           "1732790000.42"           PBX call id (Asterisk uniqueid, FreeSWITCH uuid)
    tenant, menu      "demo", "main"            tenant and the menu the call started in
    caller            "13800138000"             caller number ("" when withheld)
    language          "zh"                      language the IVR spoke
    started_at        "1732790000.25"           epoch seconds (float), from the driver
    ended_at          "1732790042.5"
    outcome           "routed"                  ivr.trajectory.Outcome
    outcome_node      "route_reduction"         node the call left from ("menu/node" outside the first menu)
    intent            "fee_reduction"           "" when the caller expressed none
    template          "fee_reduction"           ticket template from conf/intents.yaml ("" if none)
    priority          "high"                    ivr.intent.Priority ("" if none)
    fields            {"amount": 500}           JSON object; int stays a number, decimal travels as a string
    repeat            "1" / "0"                 same intent from this caller within the window
    earlier_call_ids  ["1732700000.1"]          JSON list, oldest first
    summary           {...}                     JSON: CallRecord.summary() (path, keys, route, chat_link...)
    steps             [[at_ms, kind, menu, node, value(, data)], ...]   JSON: the whole trajectory

The flow engine's idempotency key is ``call_id`` + ``template``: this event may
be delivered more than once. ``from_fields`` accepts what XRANGE/XREADGROUP
return, bytes or text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from ivr.intent import Priority, Resolution
from ivr.trajectory import CallRecord, Outcome, Step

__all__ = ["EVENT_VERSION", "IntentEvent"]

EVENT_VERSION = "1"


def _json(value: Any) -> str:
    """Compact UTF-8 JSON through orjson: the flow engine parses four of these per event, at every intake."""
    return orjson.dumps(value, default=_decimal, option=orjson.OPT_NON_STR_KEYS).decode()


def _decimal(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class IntentEvent:
    """What one finished call hands to the flow engine (see the module docstring for the wire shape)."""

    call_id: str
    tenant: str
    caller: str
    menu: str
    language: str
    started_at: float
    ended_at: float
    outcome: Outcome
    outcome_node: str
    intent: str | None
    template: str | None
    priority: Priority | None
    fields: dict[str, Any]
    repeat: bool
    earlier_call_ids: tuple[str, ...]
    summary: dict[str, Any] = field(default_factory=dict)
    steps: tuple[Step, ...] = ()

    @classmethod
    def from_call(cls, record: CallRecord, resolution: Resolution, *, call_id: str, caller: str,
                  started_at: float, ended_at: float) -> IntentEvent:
        """Build the event of a finished call script (``record.outcome`` must be set)."""
        if record.outcome is None:
            raise ValueError("the call script has not finished: its record has no outcome")
        node = record.end_node if record.end_menu == record.menu else f"{record.end_menu}/{record.end_node}"
        return cls(
            call_id=call_id, tenant=record.tenant, caller=caller, menu=record.menu,
            language=record.language, started_at=started_at, ended_at=ended_at,
            outcome=record.outcome, outcome_node=node, intent=resolution.intent,
            template=resolution.template, priority=resolution.priority, fields=dict(resolution.fields),
            repeat=resolution.repeat, earlier_call_ids=resolution.earlier_call_ids,
            summary=record.summary(), steps=tuple(record.steps),
        )

    def to_fields(self) -> dict[str, str]:
        """Stream fields for XADD."""
        return {
            "v": EVENT_VERSION,
            "call_id": self.call_id,
            "tenant": self.tenant,
            "caller": self.caller,
            "menu": self.menu,
            "language": self.language,
            "started_at": repr(self.started_at),
            "ended_at": repr(self.ended_at),
            "outcome": str(self.outcome),
            "outcome_node": self.outcome_node,
            "intent": self.intent or "",
            "template": self.template or "",
            "priority": str(self.priority) if self.priority else "",
            "fields": _json(self.fields),
            "repeat": "1" if self.repeat else "0",
            "earlier_call_ids": _json(list(self.earlier_call_ids)),
            "summary": _json(self.summary),
            "steps": _json([step.as_list() for step in self.steps]),
        }

    @classmethod
    def from_fields(cls, raw: Mapping[str, str] | Mapping[bytes, bytes]) -> IntentEvent:
        """Parse stream fields back; raises ``ValueError`` on an unknown version or a malformed entry."""
        f = {_text(k): _text(v) for k, v in raw.items()}
        if f.get("v") != EVENT_VERSION:
            raise ValueError(f"intent event version {f.get('v')!r} is not {EVENT_VERSION!r}")
        try:
            return cls(
                call_id=f["call_id"], tenant=f["tenant"], caller=f["caller"], menu=f["menu"],
                language=f["language"], started_at=float(f["started_at"]), ended_at=float(f["ended_at"]),
                outcome=Outcome(f["outcome"]), outcome_node=f["outcome_node"], intent=f["intent"] or None,
                template=f["template"] or None, priority=Priority(f["priority"]) if f["priority"] else None,
                fields=orjson.loads(f["fields"]), repeat=f["repeat"] == "1",
                earlier_call_ids=tuple(orjson.loads(f["earlier_call_ids"])),
                summary=orjson.loads(f["summary"]),
                steps=tuple(Step.from_list(row) for row in orjson.loads(f["steps"])),
            )
        except KeyError as exc:
            raise ValueError(f"intent event lacks field {exc.args[0]!r}") from exc
