"""Everything wrong with one flow definition, each with its file and line.

Strategy: the head, every node and every transition are validated on their
own, so a type error in one node does not hide an unknown node in a
transition. Cross-references are then checked on the pieces that passed:
node types, people (against the tenant's ``Directory``), field and node names,
conditions (compiled against the names the flow really has), and the graph:
one start, every node reachable, a close node reachable from every node, a
default (condition-free) transition last out of every node so a ticket can
never stall, and no loop of automatic nodes. ``analyse_flow`` never raises
for a bad definition; it returns the errors.

People are checked against a ``Directory``. A tenant whose people are not
loaded yet (no directory, ``None``) may still deploy a flow that names people,
as its people can come later (people.yaml, ``PUT /api/v1/people``, which then
refuses a directory a deployed flow would not find its people in); each name
it could not check is a warning, located like an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError

from flows.conditions import FUNCTIONS, ConditionError, compile_condition
from flows.definition import RESERVED_NAMES, FieldType, FlowDef, FlowHead, NodeDef, PeopleRef, TransitionDef
from flows.directory import Directory
from flows.nodes import Behaviour, NodeKind, node_kinds
from hotline.yamlconf import ConfigError, LineDict, LineList, line_of

__all__ = ["Analysis", "analyse_flow"]

_TASKS = (Behaviour.APPROVE, Behaviour.HANDLE)


class Analysis(NamedTuple):
    """A flow definition checked: the definition (``None`` if any error), its errors and its warnings."""

    flow: FlowDef | None
    errors: list[ConfigError]
    warnings: list[ConfigError]


class _Report:
    """Collects located errors and warnings against the YAML the definition came from."""

    def __init__(self, data: Any, file: str) -> None:
        self.data = data
        self.file = file
        self.errors: list[ConfigError] = []
        self.warnings: list[ConfigError] = []

    def add(self, loc: tuple[Any, ...], message: str, hint: str = "") -> None:
        self.errors.append(ConfigError(self.file, self.line(loc), message, hint))

    def warn(self, loc: tuple[Any, ...], message: str, hint: str = "") -> None:
        self.warnings.append(ConfigError(self.file, self.line(loc), message, hint))

    def line(self, loc: tuple[Any, ...]) -> int:
        """The line of the key (or list item) at ``loc``, not of the block under it."""
        parent = self.data
        for part in loc[:-1]:
            try:
                parent = parent[part]
            except (KeyError, IndexError, TypeError):
                return line_of(self.data, loc)
        if loc and isinstance(parent, LineDict) and loc[-1] in parent.lines:
            return parent.lines[loc[-1]]
        if loc and isinstance(parent, LineList) and isinstance(loc[-1], int) and 0 <= loc[-1] < len(parent):
            return parent.lines[loc[-1]]
        return line_of(self.data, loc)

    def piece(self, model: type[BaseModel], value: Any, loc: tuple[Any, ...]) -> Any:
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(p) for p in loc + tuple(err["loc"]))
                message = err["msg"].removeprefix("Value error, ")
                line = self.line(loc + tuple(err["loc"]))
                self.errors.append(ConfigError(self.file, line, f"{where}: {message}" if where else message))
            return None


def _split(
    data: Any, report: _Report
) -> tuple[FlowHead | None, dict[str, NodeDef | None], list[TransitionDef | None]]:
    head = report.piece(FlowHead, {k: v for k, v in data.items() if k not in ("nodes", "transitions")}, ())
    raw_nodes = data.get("nodes")
    nodes: dict[str, NodeDef | None] = {}
    if not isinstance(raw_nodes, dict) or not raw_nodes:
        report.add(
            ("nodes",), "nodes: expected a mapping of node key → node", "start with a node of type create"
        )
    else:
        for key, value in raw_nodes.items():
            nodes[str(key)] = report.piece(NodeDef, value, ("nodes", key))
    raw_transitions = data.get("transitions", [])
    transitions: list[TransitionDef | None] = []
    if not isinstance(raw_transitions, list):
        report.add(("transitions",), "transitions: expected a list of {from, to, when}")
    else:
        transitions = [
            report.piece(TransitionDef, t, ("transitions", i)) for i, t in enumerate(raw_transitions)
        ]
    return head, nodes, transitions


def _check_ref(
    report: _Report, ref: PeopleRef, loc: tuple[Any, ...], ctx: _Context, *, warning: bool
) -> None:
    directory = ctx.directory
    if ref.assignee and not warning:
        report.add(loc, "assignee: only warning recipients can name the task's assignee")
    if ref.actor is not None and ctx.behaviours.get(ref.actor) not in _TASKS:
        report.add(loc, f"actor: {ref.actor!r} is not a node with tasks, so it has no actor")
    if ref.field_ is not None:
        field = ctx.head.fields.get(ref.field_) if ctx.head else None
        if field is None or field.type not in (FieldType.PERSON, FieldType.STRING):
            report.add(loc, f"field: {ref.field_!r} is not a person (or string) field of this flow")
    if not ref.users and ref.role is None and ref.unit is None:
        return
    if directory is None:
        report.warn(
            loc,
            f"unknown {_named(ref)}: this tenant has no people loaded yet, so they are not checked",
            "load them (conf/people.yaml or PUT /api/v1/people) before a ticket reaches this step",
        )
        return
    if not directory.people:
        report.add(
            loc, "people are named but this tenant has no people", "add the tenant to conf/people.yaml"
        )
        return
    for user in ref.users or []:
        if user not in directory.people:
            report.add(loc, f"unknown person {user!r}", "people are listed in conf/people.yaml")
    if ref.role is not None and ref.role not in directory.roles:
        report.add(
            loc, f"unknown role {ref.role!r}", f"roles in use: {', '.join(sorted(directory.roles)) or 'none'}"
        )
    if ref.unit is not None and ref.unit not in directory.units:
        report.add(loc, f"unknown org unit {ref.unit!r}")


def _named(ref: PeopleRef) -> str:
    """The people ``ref`` names, as a warning lists them: "person 'ann', person 'bob'", "role 'agent' in
    unit 'billing'", "unit 'billing'"."""
    if ref.users is not None:
        return ", ".join(f"person {user!r}" for user in ref.users)
    role = f"role {ref.role!r}" if ref.role is not None else ""
    unit = f"unit {ref.unit!r}" if ref.unit is not None else ""
    return " in ".join(part for part in (role, unit) if part)


class _Context:
    def __init__(
        self,
        head: FlowHead | None,
        nodes: dict[str, NodeDef | None],
        directory: Directory | None,
        kinds: dict[str, NodeKind],
    ) -> None:
        self.head = head
        self.directory = directory
        self.kinds: dict[str, NodeKind] = {
            k: kinds[n.type] for k, n in nodes.items() if n and n.type in kinds
        }
        self.behaviours = {k: kind.behaviour for k, kind in self.kinds.items()}


def _check_node(report: _Report, key: str, node: NodeDef, ctx: _Context) -> None:
    loc = ("nodes", key)
    kind = ctx.kinds.get(key)
    if kind is None:
        known = ", ".join(sorted(node_kinds()[0]))
        report.add(loc + ("type",), f"node {key!r}: unknown type {node.type!r}", f"known types: {known}")
        return
    b = kind.behaviour
    if b in _TASKS and not node.assignees:
        report.add(loc, f"node {key!r}: a {node.type} node needs assignees")
    if b is Behaviour.CLOSE and (node.assignees or node.cc):
        report.add(loc, f"node {key!r}: a close node has no people")
    if node.mode == "sequence" and b is not Behaviour.APPROVE:
        report.add(loc + ("mode",), f"node {key!r}: mode sequence is for approve nodes")
    if node.mode != "any" and b not in _TASKS:
        report.add(loc + ("mode",), f"node {key!r}: mode applies only to nodes with tasks")
    if node.mode == "sequence" and node.strategy != "direct":
        report.add(loc + ("strategy",), f"node {key!r}: a sequence approval needs strategy direct")
    if node.outcomes is not None and b is not Behaviour.HANDLE:
        report.add(loc + ("outcomes",), f"node {key!r}: outcomes can be chosen only on handle-like nodes")
    if node.callback and node.type != "revisit":
        report.add(loc + ("callback",), f"node {key!r}: callback is for revisit nodes")
    if node.result is not None and b is not Behaviour.CLOSE:
        report.add(loc + ("result",), f"node {key!r}: result is for close nodes")
    if (node.sla or node.warnings) and b not in _TASKS:
        report.add(loc + ("sla",), f"node {key!r}: only nodes with tasks have an SLA")
    if node.warnings and node.sla is None:
        report.add(
            loc + ("warnings",), f"node {key!r}: warning levels need an sla", "add sla: {duration: 1h}"
        )
    _check_warnings(report, key, node)
    if kind.options is not None:
        report.piece(kind.options, node.options, loc + ("options",))
    elif node.options:
        report.add(loc + ("options",), f"node {key!r}: type {node.type!r} takes no options")
    for i, ref in enumerate(node.assignees):
        _check_ref(report, ref, loc + ("assignees", i), ctx, warning=False)
    for i, ref in enumerate(node.cc):
        _check_ref(report, ref, loc + ("cc", i), ctx, warning=False)
    for i, level in enumerate(node.warnings):
        for j, ref in enumerate(level.recipients):
            _check_ref(report, ref, loc + ("warnings", i, "recipients", j), ctx, warning=True)


def _check_warnings(report: _Report, key: str, node: NodeDef) -> None:
    levels = [w.level for w in node.warnings]
    if levels != sorted(set(levels)):
        report.add(
            ("nodes", key, "warnings"),
            f"node {key!r}: warning levels must be distinct and in increasing order",
        )
    afters = [w.after for w in node.warnings]
    if afters != sorted(afters):
        report.add(
            ("nodes", key, "warnings"),
            f"node {key!r}: a higher warning level cannot come sooner than a lower one",
        )


def _check_names(report: _Report, head: FlowHead | None, nodes: Iterable[str]) -> None:
    fields = set(head.fields) if head else set()
    for name in sorted(fields & set(nodes)):
        report.add(
            ("fields", name), f"{name!r} is both a field and a node; conditions could not tell them apart"
        )
    for name in sorted((fields | set(nodes)) & (RESERVED_NAMES | set(FUNCTIONS))):
        loc = ("fields", name) if name in fields else ("nodes", name)
        report.add(loc, f"{name!r} is a reserved name in conditions; rename the field or node")


def _check_graph(
    report: _Report,
    nodes: dict[str, NodeDef | None],
    transitions: list[TransitionDef | None],
    ctx: _Context,
    names: frozenset[str],
) -> None:
    starts = [k for k, n in nodes.items() if n is not None and n.type == "create"]
    if len(starts) != 1:
        report.add(("nodes",), f"a flow needs exactly one node of type create, found {len(starts)}")
    out: dict[str, list[int]] = {k: [] for k in nodes}
    for i, t in enumerate(transitions):
        if t is None:
            continue
        for end, loc in ((t.from_, "from"), (t.to, "to")):
            if end not in nodes:
                report.add(
                    ("transitions", i, loc),
                    f"transition {i + 1}: unknown node {end!r}",
                    f"nodes: {', '.join(nodes)}",
                )
        if t.from_ in nodes:
            out[t.from_].append(i)
            if ctx.behaviours.get(t.from_) is Behaviour.CLOSE:
                report.add(("transitions", i), f"transition {i + 1}: nothing leaves close node {t.from_!r}")
        if t.when is not None:
            try:
                compile_condition(t.when, names)
            except ConditionError as exc:
                col = f" (column {exc.column})" if exc.column else ""
                report.add(
                    ("transitions", i, "when"),
                    f"transition {i + 1}: bad condition{col}: {exc.message}",
                    "conditions may use fields, node outcomes, repeat, outcome and the functions abs, len, lower, max, min, number, round, upper",
                )
    for key, edges in out.items():
        if ctx.behaviours.get(key) in (Behaviour.CLOSE, None):
            continue
        if not edges:
            report.add(("nodes", key), f"node {key!r}: no transition leaves it")
        elif transitions[edges[-1]] is not None and transitions[edges[-1]].when is not None:
            report.add(
                ("transitions", edges[-1]),
                f"node {key!r}: its last transition has a condition",
                "end with a transition without when (the default), so a ticket never stalls",
            )
    if any(t is None for t in transitions) or len(starts) != 1:
        return
    _check_reach(report, starts[0], nodes, transitions, ctx)


def _check_reach(
    report: _Report,
    start: str,
    nodes: dict[str, NodeDef | None],
    transitions: list[TransitionDef | None],
    ctx: _Context,
) -> None:
    edges = [(t.from_, t.to) for t in transitions if t and t.from_ in nodes and t.to in nodes]
    reached, todo = {start}, [start]
    while todo:
        here = todo.pop()
        for a, b in edges:
            if a == here and b not in reached:
                reached.add(b)
                todo.append(b)
    closes = {k for k, b in ctx.behaviours.items() if b is Behaviour.CLOSE}
    if not closes:
        report.add(("nodes",), "the flow has no close node", "add a node of type close")
    ending, todo = set(closes), list(closes)
    while todo:
        here = todo.pop()
        for a, b in edges:
            if b == here and a not in ending:
                ending.add(a)
                todo.append(a)
    for key in nodes:
        if key not in reached:
            report.add(("nodes", key), f"node {key!r} cannot be reached from {start!r}")
        elif closes and key not in ending:
            report.add(("nodes", key), f"node {key!r}: no close node can be reached from it")
    auto = {k for k, b in ctx.behaviours.items() if b is Behaviour.AUTO}
    for key in sorted(auto):
        seen, todo = set(), [key]
        while todo:
            here = todo.pop()
            for a, b in edges:
                if a == here and b in auto and b not in seen:
                    seen.add(b)
                    todo.append(b)
        if key in seen:
            report.add(
                ("nodes", key), f"node {key!r}: automatic nodes loop back to it; a ticket would never stop"
            )
            break


def analyse_flow(
    data: Any, file: str, directory: Directory | None, expected_key: str | None = None
) -> Analysis:
    """Validate a parsed flow YAML against the tenant's people (``None``: not loaded yet, see the module)."""
    report = _Report(data, file)
    if not isinstance(data, dict):
        report.add((), "a flow definition is a mapping (key, name, fields, nodes, transitions, ...)")
        return Analysis(None, report.errors, report.warnings)
    kinds, problems = node_kinds()
    for problem in problems:
        report.add((), problem)
    head, nodes, transitions = _split(data, report)
    if head is not None and expected_key is not None and head.key != expected_key:
        report.add(
            ("key",),
            f"key {head.key!r} does not match {expected_key!r}",
            "the key is the file name without .yaml",
        )
    ctx = _Context(head, nodes, directory, kinds)
    for key, node in nodes.items():
        if node is not None:
            _check_node(report, key, node, ctx)
    _check_names(report, head, nodes)
    names = frozenset(head.fields if head else ()) | frozenset(nodes) | RESERVED_NAMES
    if nodes:
        _check_graph(report, nodes, transitions, ctx, names)
    if report.errors:
        return Analysis(None, report.errors, report.warnings)
    return Analysis(FlowDef.model_validate(data), [], report.warnings)
