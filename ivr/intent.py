"""What the caller wanted, and whether they already asked for it recently.

Strategy: pure functions over a finished ``CallRecord``, the caller's recent
history and the rules of ``conf/intents.yaml``; ``now`` is a parameter. The
intent is the one recorded by the call's last ``set`` step that named one; its
fields are merged from every ``set`` step in order (a later set wins), then cut
down to the fields the rule carries. A call is a repeat when the caller's
history holds the same intent at a time inside the window ``(now - window, now]``.
``hotline.handoff`` does the Redis side (reading and recording the history).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ivr.trajectory import CallRecord, StepKind

__all__ = [
    "HistoryEntry",
    "IntentRule",
    "IntentRules",
    "Priority",
    "Resolution",
    "intent_of",
    "resolve",
]

_DURATION = re.compile(r"([0-9]+)\s*([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class Priority(StrEnum):
    """Ticket priority the flow engine starts the ticket with."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class IntentRule(BaseModel):
    """How one intent becomes a ticket: template, priority, fields to carry (``None``: all)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    template: str = Field(min_length=1)
    priority: Priority = Priority.NORMAL
    fields: list[str] | None = None


class IntentRules(BaseModel):
    """Schema of ``conf/intents.yaml``.

    ``window`` is how far back a same-intent call makes this one a repeat:
    ``24h``, ``90m``, ``2d``, ``3600s`` or a number of seconds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: float = Field(default=86400.0, gt=0)
    intents: dict[str, IntentRule] = Field(default_factory=dict)

    @field_validator("window", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _DURATION.fullmatch(value.strip())
            if match is None:
                raise ValueError("window must look like 24h, 90m, 2d or 3600s")
            return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        return value


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One earlier call of a caller: kept in Redis as a sorted-set member scored by ``at``."""

    call_id: str
    intent: str | None
    at: float

    def member(self) -> str:
        """The sorted-set member; the time is the score, not part of the member."""
        return json.dumps({"call_id": self.call_id, "intent": self.intent}, separators=(",", ":"))

    @classmethod
    def from_member(cls, member: str | bytes, score: float) -> HistoryEntry:
        data = json.loads(member)
        return cls(data["call_id"], data.get("intent"), float(score))


@dataclass(frozen=True, slots=True)
class Resolution:
    """The intent of a finished call, ready for the event: ``intent is None`` means the caller said nothing."""

    intent: str | None
    template: str | None = None
    priority: Priority | None = None
    fields: dict[str, int | str | Decimal] = field(default_factory=dict)
    repeat: bool = False
    earlier_call_ids: tuple[str, ...] = ()


def intent_of(record: CallRecord) -> tuple[str | None, dict[str, int | str | Decimal]]:
    """The last intent a ``set`` step named, and the fields of all ``set`` steps merged in order."""
    intent: str | None = None
    fields: dict[str, Any] = {}
    for step in record.steps:
        if step.kind is StepKind.SET:
            intent = step.value or intent
            fields.update(step.data or {})
    return intent, fields


def resolve(record: CallRecord, call_id: str, history: Iterable[HistoryEntry], rules: IntentRules,
            now: float) -> Resolution:
    """Resolve ``record``'s intent against the caller's ``history`` (this call's own entry is ignored)."""
    intent, fields = intent_of(record)
    if intent is None:
        return Resolution(None)
    rule = rules.intents.get(intent)
    if rule is not None and rule.fields is not None:
        fields = {name: fields[name] for name in rule.fields if name in fields}
    since = now - rules.window
    earlier = sorted(
        (e for e in history if e.intent == intent and e.call_id != call_id and since < e.at <= now),
        key=lambda e: e.at,
    )
    return Resolution(
        intent,
        template=rule.template if rule else None,
        priority=rule.priority if rule else None,
        fields=fields,
        repeat=bool(earlier),
        earlier_call_ids=tuple(e.call_id for e in earlier),
    )
