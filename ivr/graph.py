"""Graph questions the menu checker asks: what is reachable, and which nodes loop among themselves.

Strategy: plain adjacency dicts and iterative walks (no recursion, so a big
menu cannot hit the recursion limit). Vertices are whatever the caller uses;
``ivr.check`` uses ``(menu, node)`` pairs so ``goto`` edges between files count.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

__all__ = ["loops", "reachable"]

V = TypeVar("V", bound=Hashable)


def reachable(roots: Iterable[V], edges: Mapping[V, Sequence[V]]) -> set[V]:
    """Every vertex reachable from ``roots`` (roots included)."""
    seen: set[V] = set()
    todo = list(roots)
    while todo:
        vertex = todo.pop()
        if vertex not in seen:
            seen.add(vertex)
            todo.extend(edges.get(vertex, ()))
    return seen


def loops(vertices: Sequence[V], edges: Mapping[V, Sequence[V]]) -> list[list[V]]:
    """Groups of ``vertices`` that can go round among themselves for ever (Tarjan's SCCs).

    Only edges between ``vertices`` count. Each loop is a strongly connected
    component with more than one vertex, or one vertex with an edge to itself;
    loops come in the order of their first vertex in ``vertices``, and each
    loop's vertices in that order too.
    """
    order = {v: i for i, v in enumerate(vertices)}
    index: dict[V, int] = {}
    low: dict[V, int] = {}
    stack: list[V] = []
    on_stack: set[V] = set()
    found: list[list[V]] = []
    for root in vertices:
        if root in index:
            continue
        work = [(root, iter([w for w in edges.get(root, ()) if w in order]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            vertex, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter([w for w in edges.get(child, ()) if w in order])))
                elif child in on_stack:
                    low[vertex] = min(low[vertex], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[vertex])
            if low[vertex] == index[vertex]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == vertex:
                        break
                if len(component) > 1 or vertex in edges.get(vertex, ()):
                    found.append(sorted(component, key=order.__getitem__))
    return sorted(found, key=lambda loop: order[loop[0]])
