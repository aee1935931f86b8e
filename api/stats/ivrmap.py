"""The IVR map: a menu as nodes and edges, with how many callers went through each and where they hung up.

Strategy: the graph comes from the menu model (``Node.refs()``, the same
definition the checker uses); the figures come from finished calls'
trajectories (``[at_ms, kind, menu, node, value(, data)]`` rows): a node's
callers are the calls that entered it at least once, an edge's count is how
often one ``enter`` followed another, and a node's hang-ups are the calls
whose caller hung up there. Pure: the caller fetches the calls.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from itertools import pairwise
from typing import Any

from ivr.model import GotoNode, Menu, RouteNode, TransferNode
from ivr.trajectory import Outcome, StepKind

__all__ = ["ivr_map"]

#: Edge labels for the fields a node names its targets in (menu keys and bot intents are their own label).
_LABELS = {"next": "", "fallback": "fallback", "on_failure": "failure", "on_invalid": "invalid",
           "otherwise": "otherwise", "default": "default", "node": ""}


def _label(path: tuple[str | int, ...]) -> str:
    if path[0] in ("keys", "intents") and len(path) > 1:
        return str(path[1])
    return _LABELS.get(str(path[0]), str(path[0]))


def _detail(node: Any) -> str:
    if isinstance(node, RouteNode):
        return f"queue {node.queue}"
    if isinstance(node, TransferNode):
        return f"to {node.destination}"
    if isinstance(node, GotoNode) and node.menu:
        return f"menu {node.menu}"
    return ""


def _graph(menu: Menu) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    nodes = [{"id": nid, "type": node.type, "detail": _detail(node)} for nid, node in menu.nodes.items()]
    edges = [{"from": nid, "to": target, "label": _label(path)}
             for nid, node in menu.nodes.items() for path, target in node.refs()]
    for nid, node in menu.nodes.items():
        if isinstance(node, GotoNode) and node.menu and node.menu != menu.name:
            outside = f"{node.menu}/{node.node or ''}".rstrip("/")
            nodes.append({"id": outside, "type": "menu", "detail": "another menu"})
            edges.append({"from": nid, "to": outside, "label": ""})
    return nodes, edges


def ivr_map(menu: Menu, calls: Iterable[tuple[str | None, str | None, list[Any]]]) -> dict[str, Any]:
    """The map of ``menu`` over ``calls``: ``(outcome, outcome_node, trajectory)`` of each finished call.

    Returns ``{"menu", "start", "calls", "nodes": [{id, type, detail, callers, hangups}],
    "edges": [{from, to, label, calls}]}``; ``calls`` counts the calls that entered the menu.
    """
    callers: Counter[str] = Counter()
    hangups: Counter[str] = Counter()
    moves: Counter[tuple[str, str]] = Counter()
    total = 0
    for outcome, outcome_node, trajectory in calls:
        entered = [row[3] for row in trajectory if row[1] == StepKind.ENTER and row[2] == menu.name]
        if not entered:
            continue
        total += 1
        callers.update(set(entered))
        moves.update(pairwise(entered))
        abandon = [row for row in trajectory if row[1] == StepKind.ABANDON]
        if abandon:
            if abandon[-1][2] == menu.name:
                hangups[abandon[-1][3]] += 1
        elif outcome == Outcome.ABANDONED and outcome_node in menu.nodes:
            hangups[outcome_node] += 1
    nodes, edges = _graph(menu)
    for node in nodes:
        node["callers"], node["hangups"] = callers[node["id"]], hangups[node["id"]]
    for edge in edges:
        edge["calls"] = moves[(edge["from"], edge["to"])]
    return {"menu": menu.name, "start": menu.start, "calls": total, "nodes": nodes, "edges": edges}
