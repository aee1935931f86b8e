"""Node types: the built-in ones and those other packages register.

Strategy: a node type is a ``NodeKind`` value that says how the engine treats
the node (``Behaviour``), which outcomes it can end with and, for automatic
nodes, a pure ``decide(fields, options) -> outcome`` function. Packages add
types through the ``hotline.nodes`` entry point group (the entry point's name
is the type name, its object a ``NodeKind``); ``node_kinds()`` reads the group
once per process. A clash with a built-in or a broken entry point is reported,
never silently shadowed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel

from hotline.logs import get_logger

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "Behaviour", "NodeKind", "node_kinds"]

log = get_logger(__name__)
ENTRY_POINT_GROUP = "hotline.nodes"


class Behaviour(StrEnum):
    """How the engine runs a node."""

    AUTO = "auto"  # decides on entry, creates no tasks; its people are notified
    APPROVE = "approve"  # one task per assignee, decided by approve / reject (modes any, all, sequence)
    HANDLE = "handle"  # one task per assignee, completed by handle with an outcome (modes any, all)
    CLOSE = "close"  # ends the ticket with the node's result


Decide = Callable[[Mapping[str, Any], Mapping[str, Any]], str]


@dataclass(frozen=True)
class NodeKind:
    """A node type; ``outcomes[0]`` is the default outcome of a handle action."""

    name: str
    behaviour: Behaviour
    outcomes: tuple[str, ...] = ()
    decide: Decide | None = None
    options: type[BaseModel] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.behaviour is Behaviour.AUTO and self.decide is None and len(self.outcomes) != 1:
            raise ValueError(
                f"node type {self.name!r}: an automatic type needs decide() or exactly one outcome"
            )


def _first(outcome: str) -> Decide:
    return lambda fields, options: outcome


BUILTIN: dict[str, NodeKind] = {
    kind.name: kind
    for kind in (
        NodeKind(
            "create", Behaviour.AUTO, ("created",), _first("created"), description="where every ticket starts"
        ),
        NodeKind(
            "approve",
            Behaviour.APPROVE,
            ("approved", "rejected"),
            description="countersign, or-sign or sequence",
        ),
        NodeKind(
            "handle", Behaviour.HANDLE, ("done",), description="someone does the work and records fields"
        ),
        NodeKind(
            "revisit",
            Behaviour.HANDLE,
            ("reached", "unreached"),
            description="a follow-up call to the customer; may ask the PBX for a callback",
        ),
        NodeKind(
            "remind",
            Behaviour.AUTO,
            ("sent",),
            _first("sent"),
            description="notifies its people and moves on",
        ),
        NodeKind("close", Behaviour.CLOSE, description="ends the ticket"),
    )
}


@cache
def node_kinds() -> tuple[dict[str, NodeKind], tuple[str, ...]]:
    """Every node type by name, and the problems met loading the ``hotline.nodes`` entry points."""
    kinds = dict(BUILTIN)
    problems: list[str] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            kind = ep.load()
        except Exception as exc:  # noqa: BLE001 - any import error of a plug-in is reported, not fatal
            problems.append(f"node type {ep.name!r} ({ep.value}) cannot be loaded: {exc}")
            continue
        if not isinstance(kind, NodeKind) or kind.name != ep.name:
            problems.append(f"node type {ep.name!r} ({ep.value}) is not a NodeKind named {ep.name!r}")
        elif ep.name in kinds:
            problems.append(f"node type {ep.name!r} ({ep.value}) clashes with an existing type")
        else:
            kinds[ep.name] = kind
    for problem in problems:
        log.error("node type plug-in refused", problem=problem)
    return kinds, tuple(problems)
