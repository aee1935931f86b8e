"""``hotline check`` for IVR menus, and the loader the drivers use.

Strategy: ``ivr.loader`` reads the files and reports schema errors; this module
adds the checks that look across nodes, menus and files (references, prompts
and their languages, keys, bounds, templates, intents, reachability and loops
that never wait for the caller). Every check appends located errors and goes
on, so one run lists everything. ``load_menus`` is the same run, raising when
anything is wrong, so a running system only ever holds menus that passed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from hotline.yamlconf import ConfigError, ConfigErrors, LineDict, line_of
from ivr.commands import Prompt
from ivr.graph import loops, reachable
from ivr.intent import IntentRules
from ivr.loader import MenuSource, TenantSource, read_conf, read_rules
from ivr.model import (
    DTMF_KEYS,
    LEAVING_NODES,
    PLACEHOLDER,
    WAITING_NODES,
    BackNode,
    CollectNode,
    GotoNode,
    Menu,
    MenuNode,
    PromptTable,
    SetNode,
)

__all__ = ["check_ivr", "load_intents", "load_menus"]

_SLOT = re.compile(r"slot\.\w[\w-]*")
Vertex = tuple[str, str]  # (menu, node)


def _hint(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"did you mean {close[0]!r}?" if close else ""


def _raw_loc(raw: Any, loc: Sequence[Any]) -> list[Any]:
    """``loc`` with each key spelled as in the YAML (``1`` for the text ``"1"``), so ``line_of`` finds it."""
    out, node = [], raw
    for part in loc:
        if isinstance(node, LineDict) and part not in node:
            part = next((k for k in node if str(k) == str(part)), part)
        out.append(part)
        node = node.get(part) if isinstance(node, LineDict) else None
    return out


class _Report:
    """Collects errors for one menu file, located by a path into its YAML."""

    def __init__(self, errors: list[ConfigError], menu: MenuSource) -> None:
        self.errors, self.menu = errors, menu

    def __call__(self, loc: Sequence[Any], message: str, hint: str = "") -> None:
        line = line_of(self.menu.raw, _raw_loc(self.menu.raw, loc))
        self.errors.append(ConfigError(self.menu.file, line, message, hint))


def _check_head(menu: MenuSource, report: _Report) -> None:
    head = menu.head
    if head.language not in head.required_languages():
        report(("language",), f"default language {head.language!r} is not among languages {head.languages}")
    if head.start not in menu.node_ids:
        report(("start",), f"start node {head.start!r} does not exist", _hint(head.start, menu.node_ids))


def _check_refs(menu: MenuSource, tenant: TenantSource, report: _Report) -> None:
    sources = tenant.menus
    for node_id, node in menu.nodes.items():
        for loc, target in node.refs():
            if target not in menu.node_ids:
                report(("nodes", node_id, *loc), f"node {node_id!r}: {loc[0]} leads to unknown node {target!r}",
                       _hint(target, menu.node_ids))
        if not isinstance(node, GotoNode):
            continue
        if node.menu is None and node.node is None:
            report(("nodes", node_id), f"node {node_id!r}: goto needs a node, a menu or both")
        elif node.menu is not None and node.menu not in tenant.menu_names:
            report(("nodes", node_id, "menu"), f"node {node_id!r}: goto to unknown menu {node.menu!r}",
                   _hint(node.menu, tenant.menu_names))
        elif node.menu in sources and node.node is not None and node.node not in sources[node.menu].node_ids:
            report(("nodes", node_id, "node"),
                   f"node {node_id!r}: menu {node.menu!r} has no node {node.node!r}",
                   _hint(node.node, sources[node.menu].node_ids))


def _merged_prompts(menu: MenuSource, tenant: TenantSource) -> PromptTable:
    return {**tenant.prompts, **menu.head.prompts}


def _check_prompts(menu: MenuSource, tenant: TenantSource, report: _Report, errors: list[ConfigError]) -> None:
    prompts = _merged_prompts(menu, tenant)
    used: set[str] = set()
    for node_id, node in menu.nodes.items():
        for loc, name in node.prompt_refs():
            used.add(name)
            if name not in prompts:
                report(("nodes", node_id, *loc), f"node {node_id!r}: unknown prompt {name!r}", _hint(name, prompts))
    languages = menu.head.required_languages()
    for name, variants in prompts.items():
        own = name in menu.head.prompts
        if not own and name not in used:
            continue
        for lang in languages:
            if lang in variants:
                continue
            message = f"prompt {name!r} has no {lang!r} variant"
            if own:
                report(("prompts", name), message, f"menu languages are {', '.join(languages)}")
            else:
                errors.append(ConfigError(
                    tenant.prompts_file, line_of(tenant.prompts_raw, ("prompts", name)),
                    f"{message} (menu {menu.name!r} needs it)"))


def _check_keys(menu: MenuSource, report: _Report) -> None:
    for node_id, node in menu.nodes.items():
        if not isinstance(node, MenuNode):
            continue
        raw_keys = menu.raw["nodes"][node_id]["keys"]  # node ids are text: MenuFile checked them
        seen: dict[str, Any] = {}
        for raw_key in raw_keys:
            key = str(raw_key)
            loc = ("nodes", node_id, "keys", raw_key)
            if len(key) != 1 or key not in DTMF_KEYS:
                report(loc, f"node {node_id!r}: {key!r} is not a DTMF key",
                       "one of 0-9 * # A-D, one key each; quote '*' and '#' in YAML")
            if key in seen:
                report(loc, f"node {node_id!r}: key {key!r} is mapped twice",
                       f"also on line {raw_keys.lines[seen[key]]} (1 and '1' are the same key)")
            seen.setdefault(key, raw_key)


def _check_bounds(menu: MenuSource, report: _Report) -> None:
    for node_id, node in menu.nodes.items():
        if isinstance(node, CollectNode) and node.min_digits > node.max_digits:
            report(("nodes", node_id, "min_digits"),
                   f"node {node_id!r}: min_digits {node.min_digits} is more than max_digits {node.max_digits}")
        if not isinstance(node, SetNode):
            continue
        for name, spec in node.fields.items():
            loc = ("nodes", node_id, "fields", name)
            if spec.min is not None and spec.max is not None and spec.min > spec.max:
                report((*loc, "min"), f"node {node_id!r}: field {name!r} min {spec.min} is more than max {spec.max}")
            for bound_name, bound in (("min", spec.min), ("max", spec.max)):
                if bound is None:
                    continue
                if spec.type == "int" and bound != bound.to_integral_value():
                    report((*loc, bound_name), f"node {node_id!r}: field {name!r} is int but {bound_name} is {bound}")
                if spec.type == "str" and bound < 0:
                    report((*loc, bound_name), f"node {node_id!r}: field {name!r} {bound_name} length is negative")


def _check_templates(menu: MenuSource, report: _Report) -> None:
    collects = {n for n, node in menu.nodes.items() if isinstance(node, CollectNode)}
    for node_id, node in menu.nodes.items():
        if not isinstance(node, SetNode):
            continue
        templates = [(("fields", name, "value"), spec.value) for name, spec in node.fields.items()]
        templates += [(("variables", name), text) for name, text in node.variables.items()]
        for loc, template in templates:
            for name in PLACEHOLDER.findall(template):
                source, _, key = name.partition(".")
                if name == "digits" or _SLOT.fullmatch(name) or (source == "input" and key in collects):
                    continue
                hint = (f"collect nodes here: {', '.join(sorted(collects)) or 'none'}" if source == "input"
                        else "use {digits}, {input.<collect node>} or {slot.<name>}")
                report(("nodes", node_id, *loc), f"node {node_id!r}: unknown placeholder {{{name}}}", hint)


def _check_intents(menu: MenuSource, rules: IntentRules | None, report: _Report) -> None:
    if rules is None:
        return  # intents.yaml is broken and reported; do not repeat it for every set node
    for node_id, node in menu.nodes.items():
        if isinstance(node, SetNode) and node.intent is not None and node.intent not in rules.intents:
            report(("nodes", node_id, "intent"), f"node {node_id!r}: intent {node.intent!r} has no rule",
                   "add it under 'intents:' in conf/intents.yaml with its ticket template")


def _edges(tenant: TenantSource) -> dict[Vertex, list[Vertex]]:
    """Where each node can lead.

    ``back`` leads to a menu node the caller was in (which waits), or, when
    there is none, to ``otherwise``/start: only that second edge can make a loop.
    """
    edges: dict[Vertex, list[Vertex]] = {}
    for menu in tenant.menus.values():
        for node_id, node in menu.nodes.items():
            out = [(menu.name, target) for _, target in node.refs()]
            if isinstance(node, BackNode) and node.otherwise is None:
                out.append((menu.name, menu.head.start))
            if isinstance(node, GotoNode) and node.menu in tenant.menus:
                target_menu = tenant.menus[node.menu]
                out.append((node.menu, node.node or target_menu.head.start))
            edges[(menu.name, node_id)] = out
    return edges


def _check_graph(tenant: TenantSource, reports: dict[str, _Report]) -> None:
    edges = _edges(tenant)
    seen = reachable(((m.name, m.head.start) for m in tenant.menus.values()), edges)
    for menu in tenant.menus.values():
        if len(menu.nodes) < len(menu.node_ids) or menu.head.start not in menu.node_ids:
            continue  # a broken node or start may be the missing link; its own error says so
        for node_id in menu.nodes:
            if (menu.name, node_id) not in seen:
                reports[menu.name](("nodes", node_id), f"node {node_id!r} is never reached from {menu.head.start!r}",
                                   "link it from another node or delete it")
    passive = [(m.name, n) for m in tenant.menus.values() for n, node in m.nodes.items()
               if not isinstance(node, WAITING_NODES + LEAVING_NODES)]
    for loop in loops(passive, edges):
        menu_name, node_id = loop[0]
        names = ", ".join(n if m == menu_name else f"{m}/{n}" for m, n in loop)
        reports[menu_name](("nodes", node_id), f"loop with no exit: {names} go round without waiting for the caller",
                           "put a menu or collect node in the loop, or leave it by route, transfer or hangup"
                           " (a 'back' reached before any menu goes to 'otherwise' or the start)")


def _run(conf_dir: Path) -> tuple[list[ConfigError], dict[str, TenantSource]]:
    conf = read_conf(conf_dir)
    errors = list(conf.errors)
    for tenant in conf.tenants.values():
        reports = {name: _Report(errors, menu) for name, menu in tenant.menus.items()}
        for name, menu in tenant.menus.items():
            report = reports[name]
            _check_head(menu, report)
            _check_refs(menu, tenant, report)
            _check_prompts(menu, tenant, report, errors)
            _check_keys(menu, report)
            _check_bounds(menu, report)
            _check_templates(menu, report)
            _check_intents(menu, conf.rules, report)
        _check_graph(tenant, reports)
    return sorted(dict.fromkeys(errors), key=lambda e: (e.file, e.line)), conf.tenants


def check_ivr(conf_dir: Path) -> list[ConfigError]:
    """Every problem in ``conf_dir/intents.yaml`` and ``conf_dir/ivr/**`` with file and line; ``[]`` if none.

    Errors come sorted by file and line, each once.
    """
    return _run(conf_dir)[0]


def _menu(menu: MenuSource, tenant: TenantSource) -> Menu:
    prompts = _merged_prompts(menu, tenant)
    table = {lang: {name: Prompt(v[lang].sound, v[lang].text) for name, v in prompts.items() if lang in v}
             for lang in menu.head.required_languages()}
    return Menu(menu.tenant, menu.name, menu.head.language, menu.head.start, menu.head.answer, table, menu.nodes)


def load_menus(conf_dir: Path) -> dict[tuple[str, str], Menu]:
    """All menus by ``(tenant, menu)``, ready for ``ivr.engine.call_script``.

    Raises ``ConfigErrors`` with every error ``check_ivr`` would report, so a
    broken deploy is refused whole rather than half-loaded.
    """
    errors, tenants = _run(conf_dir)
    if errors:
        raise ConfigErrors(errors)
    return {(t.tenant, m.name): _menu(m, t) for t in tenants.values() for m in t.menus.values()}


def load_intents(conf_dir: Path) -> IntentRules:
    """The intent rules of ``conf_dir/intents.yaml`` (defaults when absent); raises ``ConfigErrors``."""
    rules, errors = read_rules(conf_dir)
    if rules is None:
        raise ConfigErrors(errors)
    return rules
