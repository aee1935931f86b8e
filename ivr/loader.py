"""Reading IVR config files into validated models, collecting every schema error with its line.

Layout::

    conf/intents.yaml                    intent rules (ivr.intent.IntentRules); optional
    conf/ivr/<tenant>/_prompts.yaml      prompts shared by the tenant's menus; optional
    conf/ivr/<tenant>/<menu>.yaml        one menu each (ivr.model.MenuFile)

Strategy: never stop at the first error. A file that does not parse, or whose
head does not validate, is reported and left out of the cross-reference
checks; its nodes are still validated one by one so the operator sees all of
them. ``ivr.check`` then does the checks that span nodes, menus and files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hotline.yamlconf import ConfigError, ConfigErrors, LineDict, line_of, load_yaml, validate_model
from ivr.intent import IntentRules
from ivr.model import NODE_MODELS, MenuFile, Node, PromptTable, TenantPrompts

__all__ = ["ConfSources", "MenuSource", "TenantSource", "read_conf", "read_rules"]

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
"""Tenant and menu names: they end up in Redis keys and hash tags, so no braces, colons or dots."""

PROMPTS_FILE = "_prompts.yaml"


@dataclass
class MenuSource:
    """One menu file whose head validated; ``nodes`` holds the nodes that validated too.

    ``node_ids`` are all the nodes the file declares, valid or not, so a
    reference to a broken node is not reported a second time as unknown.
    """

    tenant: str
    name: str
    file: str
    raw: LineDict
    head: MenuFile
    nodes: dict[str, Node]
    node_ids: set[str]


@dataclass
class TenantSource:
    """A tenant's folder: shared prompts (with their file, for lines) and menus by name.

    ``menu_names`` includes broken menu files, for the same reason as ``MenuSource.node_ids``.
    """

    tenant: str
    prompts: PromptTable = field(default_factory=dict)
    prompts_file: str = ""
    prompts_raw: LineDict | None = None
    menus: dict[str, MenuSource] = field(default_factory=dict)
    menu_names: set[str] = field(default_factory=set)


@dataclass
class ConfSources:
    """Everything read from a conf dir, and the errors found while reading it."""

    tenants: dict[str, TenantSource]
    rules: IntentRules | None  # None when intents.yaml is broken: its own errors say why
    errors: list[ConfigError]


def _validate(model: type, raw: Any, file: str, errors: list[ConfigError]) -> Any:
    try:
        return validate_model(model, raw, file)
    except ConfigErrors as exc:
        errors.extend(exc.errors)
        return None


def _load(path: Path, errors: list[ConfigError]) -> LineDict | None:
    """A YAML file that must hold a mapping; ``None`` (with the errors noted) otherwise."""
    try:
        raw = load_yaml(path)
    except ConfigErrors as exc:
        errors.extend(exc.errors)
        return None
    if not isinstance(raw, LineDict):
        errors.append(ConfigError(str(path), getattr(raw, "line", 1), "the file must hold a mapping of keys"))
        return None
    return raw


def _read_nodes(raw: LineDict, file: str, errors: list[ConfigError]) -> dict[str, Node]:
    raw_nodes = raw.get("nodes")
    if not isinstance(raw_nodes, LineDict):
        return {}  # MenuFile reports a missing or malformed ``nodes``
    nodes: dict[str, Node] = {}
    for node_id, raw_node in raw_nodes.items():
        where = line_of(raw, ("nodes", node_id))
        if not isinstance(raw_node, LineDict):
            errors.append(ConfigError(file, where, f"node {node_id!r} must be a mapping with a 'type'"))
            continue
        model = NODE_MODELS.get(raw_node.get("type"))
        if model is None:
            errors.append(ConfigError(
                file, line_of(raw_node, ("type",)),
                f"node {node_id!r}: unknown or missing type {raw_node.get('type')!r}",
                hint="one of " + ", ".join(NODE_MODELS),
            ))
            continue
        try:
            nodes[str(node_id)] = validate_model(model, raw_node, file)
        except ConfigErrors as exc:
            errors.extend(replace(e, message=f"node {node_id!r}: {e.message}") for e in exc.errors)
    return nodes


def _read_menu(path: Path, tenant: str, errors: list[ConfigError]) -> MenuSource | None:
    file = str(path)
    if not NAME.fullmatch(path.stem):
        errors.append(ConfigError(file, 1, f"menu name {path.stem!r} is not allowed",
                                  hint="letters, digits, '-' and '_' only (it goes into Redis keys)"))
        return None
    raw = _load(path, errors)
    if raw is None:
        return None
    head = _validate(MenuFile, raw, file, errors)
    nodes = _read_nodes(raw, file, errors)
    if head is None:
        return None
    return MenuSource(tenant, path.stem, file, raw, head, nodes, {str(k) for k in head.nodes})


def _read_tenant(folder: Path, errors: list[ConfigError]) -> TenantSource | None:
    if not NAME.fullmatch(folder.name):
        errors.append(ConfigError(str(folder), 0, f"tenant name {folder.name!r} is not allowed",
                                  hint="letters, digits, '-' and '_' only (it is a Redis hash tag)"))
        return None
    source = TenantSource(folder.name)
    shared = folder / PROMPTS_FILE
    if shared.exists():
        source.prompts_file, source.prompts_raw = str(shared), _load(shared, errors)
        parsed = _validate(TenantPrompts, source.prompts_raw, str(shared), errors) if source.prompts_raw else None
        source.prompts = parsed.prompts if parsed else {}
    for path in sorted(folder.glob("*.yaml")):
        if path.name != PROMPTS_FILE:
            source.menu_names.add(path.stem)
            menu = _read_menu(path, folder.name, errors)
            if menu is not None:
                source.menus[menu.name] = menu
    return source


def read_rules(conf_dir: Path) -> tuple[IntentRules | None, list[ConfigError]]:
    """``conf_dir/intents.yaml`` (defaults when there is none), or ``None`` and why not."""
    errors: list[ConfigError] = []
    path = conf_dir / "intents.yaml"
    if not path.exists():
        return IntentRules(), errors
    raw = _load(path, errors)
    return (None if raw is None else _validate(IntentRules, raw, str(path), errors)), errors


def read_conf(conf_dir: Path) -> ConfSources:
    """Read ``conf_dir/intents.yaml`` and every menu under ``conf_dir/ivr/``; reports, never raises."""
    rules, errors = read_rules(conf_dir)
    tenants: dict[str, TenantSource] = {}
    ivr_dir = conf_dir / "ivr"
    for folder in sorted(p for p in ivr_dir.glob("*") if p.is_dir()) if ivr_dir.is_dir() else []:
        tenant = _read_tenant(folder, errors)
        if tenant is not None:
            tenants[tenant.tenant] = tenant
    return ConfSources(tenants, rules, errors)
