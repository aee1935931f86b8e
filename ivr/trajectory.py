"""Where a caller went in the IVR: timed steps, and how and where the call left.

Strategy: the engine appends one small ``Step`` per thing that happened, with
``at_ms`` taken from the last driver result (the engine has no clock). The
finished ``CallRecord`` is the ``StopIteration`` value of a call script; the
intent resolver reads its ``set`` steps and the event builder its summary.
Steps are slotted and share their strings with the menu model, so a live call
costs a few hundred bytes, not kilobytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ivr.commands import RouteDecision

__all__ = ["CallRecord", "Outcome", "Step", "StepKind"]


class StepKind(StrEnum):
    """What a trajectory step records; ``value`` holds the detail named in each comment."""

    ENTER = "enter"  # a node was entered; value: node type
    PROMPT = "prompt"  # a prompt was played; value: prompt name
    KEYS = "keys"  # the caller pressed keys; value: the keys
    TIMEOUT = "timeout"  # nothing pressed in time
    INVALID = "invalid"  # input not accepted; value: the keys, or the field that failed
    RETRY = "retry"  # asking again; value: failure count so far
    FALLBACK = "fallback"  # out of retries; value: the node taken
    BOT = "bot"  # a speech bot's result; value: its intent ("" if none)
    SET = "set"  # intent and fields recorded; value: intent ("" if none), data: fields
    CHAT_LINK = "chat_link"  # the caller asked for a chat link by SMS; value: the chat diversion's name
    ROUTE = "route"  # router asked; value: queue
    TRANSFER = "transfer"  # value: destination
    HANGUP = "hangup"  # the IVR hung up
    ABANDON = "abandon"  # the caller hung up


class Outcome(StrEnum):
    """How the call left the IVR."""

    ROUTED = "routed"  # router chose a trunk
    DIVERTED = "diverted"  # router diverted to another number
    HARDPHONE = "hardphone"  # router degraded to the hard-phone group
    TRANSFERRED = "transferred"  # fixed transfer node
    HUNG_UP = "hung_up"  # a hangup node ended the call
    ABANDONED = "abandoned"  # the caller hung up inside the IVR


@dataclass(slots=True)
class Step:
    """One timed event of the call; ``menu`` changes only after a ``goto`` to another file."""

    at_ms: int
    kind: StepKind
    menu: str
    node: str
    value: str = ""
    data: dict[str, Any] | None = None

    def as_list(self) -> list[Any]:
        """Compact form for the event stream: ``[at_ms, kind, menu, node, value(, data)]``."""
        row: list[Any] = [self.at_ms, str(self.kind), self.menu, self.node, self.value]
        if self.data is not None:
            row.append(self.data)
        return row

    @classmethod
    def from_list(cls, row: list[Any]) -> Step:
        """Inverse of ``as_list``."""
        at_ms, kind, menu, node, value, *rest = row
        return cls(int(at_ms), StepKind(kind), menu, node, value, rest[0] if rest else None)


@dataclass(slots=True)
class CallRecord:
    """The trajectory of one call through the IVR and how it ended.

    ``outcome`` is ``None`` only while the script is running. ``end_menu`` /
    ``end_node`` say where it ended ("abandoned at node amount").
    """

    tenant: str
    menu: str
    language: str
    steps: list[Step] = field(default_factory=list)
    outcome: Outcome | None = None
    end_menu: str = ""
    end_node: str = ""
    ended_ms: int = 0
    route: RouteDecision | None = None

    def add(self, at_ms: int, kind: StepKind, menu: str, node: str, value: str = "",
            data: dict[str, Any] | None = None) -> None:
        self.steps.append(Step(at_ms, kind, menu, node, value, data))

    def finish(self, outcome: Outcome, at_ms: int, menu: str, node: str) -> None:
        self.outcome, self.ended_ms, self.end_menu, self.end_node = outcome, at_ms, menu, node

    def path(self) -> list[str]:
        """Nodes entered in order, ``menu/node`` when outside the first menu."""
        return [s.node if s.menu == self.menu else f"{s.menu}/{s.node}"
                for s in self.steps if s.kind is StepKind.ENTER]

    def count(self, kind: StepKind) -> int:
        return sum(1 for s in self.steps if s.kind is kind)

    def last(self, kind: StepKind) -> str | None:
        """The value of the latest step of ``kind``; None when the call had none."""
        return next((s.value for s in reversed(self.steps) if s.kind is kind), None)

    def summary(self) -> dict[str, Any]:
        """What a flow designer or a report wants without replaying the steps."""
        return {
            "path": self.path(),
            "duration_ms": self.ended_ms,
            "keys": [s.value for s in self.steps if s.kind is StepKind.KEYS],
            "timeouts": self.count(StepKind.TIMEOUT),
            "invalid": self.count(StepKind.INVALID),
            "retries": self.count(StepKind.RETRY),
            "bot_intent": self.last(StepKind.BOT),
            "queue": self.last(StepKind.ROUTE),
            "chat_link": self.last(StepKind.CHAT_LINK),  # the diversion whose link hotline.chat_links sends
            "route": None if self.route is None else {
                "kind": str(self.route.kind), "name": self.route.name,
                "dial": self.route.dial, "target": self.route.target,
            },
        }
