"""Load and check ``conf/routing.yaml``, reporting every problem with file and line.

Strategy: pydantic checks each field (with the line ``hotline.yamlconf`` kept);
the cross-references pydantic cannot see (a queue naming a trunk that does not
exist, a name used twice) are checked here against the raw YAML, so each error
points at the item that is wrong rather than at the top of the file, and both
kinds are reported in the same run.

``hotline check`` (``check_routing``) also looks for the IVR menu each
``menu`` diversion names, as ``conf/ivr/<tenant>/<menu>.yaml``. Only the file's
existence: ``router/`` does not import ``ivr/``, and whether the menu is valid
is the ivr check's report. Loading does not look, because the router never
opens a menu and a call diverted to a missing one still reaches the hard phones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hotline.yamlconf import ConfigError, ConfigErrors, line_of, load_yaml, validate_model
from router.model import RoutingConfig

__all__ = ["ROUTING_FILE", "check_routing", "load_routing_config", "tenant_regions"]

ROUTING_FILE = "routing.yaml"
IVR_DIR = "ivr"  # conf/ivr/<tenant>/<menu>.yaml, as ivr.loader reads them


def load_routing_config(conf_dir: Path) -> RoutingConfig:
    """The routing config of ``conf_dir``; raises ``ConfigErrors`` carrying every problem found."""
    return _load(conf_dir, None)


def tenant_regions(conf_dir: Path) -> dict[str, str]:
    """Tenant → the ``region`` its national phone numbers are read in, for readers of other files (people.yaml).

    Empty when routing.yaml does not load: its own check says why, and until it
    is fixed only numbers in +<country code> form are taken.
    """
    try:
        tenants = load_routing_config(conf_dir).tenants
    except ConfigErrors:
        return {}
    return {name: routing.region for name, routing in tenants.items() if routing.region is not None}


def check_routing(conf_dir: Path) -> list[ConfigError]:
    """Every problem in ``conf_dir/routing.yaml``, menu diversions to missing menus included (empty when
    the file is good); never raises for a bad file."""
    try:
        _load(conf_dir, conf_dir / IVR_DIR)
    except ConfigErrors as exc:
        return exc.errors
    return []


def _load(conf_dir: Path, ivr_dir: Path | None) -> RoutingConfig:
    """``load_routing_config``, also checking menu diversions against ``ivr_dir`` unless it is ``None``."""
    path = conf_dir / ROUTING_FILE
    data = load_yaml(path)
    errors = _cross_check_all(data, str(path), ivr_dir)
    try:
        config = validate_model(RoutingConfig, data, str(path))
    except ConfigErrors as exc:
        raise ConfigErrors(sorted(exc.errors + errors, key=lambda e: e.line)) from exc
    if errors:
        raise ConfigErrors(errors)
    return config


def _items(raw: Any, section: str, field: str) -> list[tuple[tuple[Any, ...], Any]]:
    """``(loc, value)`` of ``field`` in each mapping of list ``section``, skipping malformed items.

    Works on the raw YAML so cross-references are checked even when pydantic
    rejected some other field: the operator sees every error in one run.
    """
    items = raw.get(section) if isinstance(raw, dict) else None
    if not isinstance(items, list):
        return []
    return [
        ((section, i, field), item[field])
        for i, item in enumerate(items)
        if isinstance(item, dict) and field in item
    ]


def _cross_check_all(data: Any, file: str, ivr_dir: Path | None) -> list[ConfigError]:
    tenants = data.get("tenants") if isinstance(data, dict) else None
    if not isinstance(tenants, dict):
        return []
    return [
        error
        for name, raw in tenants.items()
        if isinstance(raw, dict)
        for error in _cross_check(name, raw, file, None if ivr_dir is None else ivr_dir / str(name))
    ]


def _cross_check(tenant: str, raw: dict[str, Any], file: str, menus: Path | None) -> list[ConfigError]:
    def error(loc: tuple[Any, ...], message: str, hint: str = "") -> ConfigError:
        return ConfigError(file, line_of(raw, loc), f"tenants.{tenant}: {message}", hint)

    trunks = _items(raw, "trunks", "name")
    targets = trunks + _items(raw, "diversions", "name")
    hardphones = raw.get("hardphones")
    if isinstance(hardphones, dict) and "name" in hardphones:
        targets.append((("hardphones", "name"), hardphones["name"]))
    out = _duplicates(
        targets, error, "route target name", "trunks, diversions and hard phones share one name space"
    )
    out += _duplicates(_items(raw, "queues", "name"), error, "queue name")
    out += _duplicates(
        _items(raw, "diversions", "level"),
        error,
        "diversion level",
        "each diversion needs its own level so the overflow order is clear",
    )
    known = {name for _, name in trunks}
    queues = raw.get("queues")
    for qi, queue in enumerate(queues if isinstance(queues, list) else []):
        entries = queue.get("trunks") if isinstance(queue, dict) else None
        used = [
            ((qi, ti), _trunk_ref(e)) for ti, e in enumerate(entries if isinstance(entries, list) else [])
        ]
        label = f"queue '{queue.get('name', qi)}'" if isinstance(queue, dict) else f"queue {qi}"
        for (q, t), name in used:
            if name is not None and name not in known:
                out.append(
                    error(
                        ("queues", q, "trunks", t),
                        f"{label} uses unknown trunk '{name}'",
                        f"known trunks: {', '.join(sorted(map(str, known))) or 'none'}",
                    )
                )
        out += _duplicates(
            [(("queues", q, "trunks", t), n) for (q, t), n in used if n is not None], error, f"{label} trunk"
        )
    if menus is not None:
        out += _missing_menus(raw, menus, error)
    return out


def _missing_menus(raw: dict[str, Any], folder: Path, error: Any) -> list[ConfigError]:
    """An error at the ``target`` of each ``menu`` diversion that has no menu file in ``folder``."""
    known = sorted(p.stem for p in folder.glob("*.yaml") if not p.stem.startswith("_"))  # _prompts.yaml: no menu
    diversions = raw.get("diversions")
    return [
        error(
            ("diversions", i, "target"),
            f"diversion '{item.get('name', i)}' goes to IVR menu '{item['target']}', which does not exist",
            f"menus in {folder}: {', '.join(known) or 'none'}",
        )
        for i, item in enumerate(diversions if isinstance(diversions, list) else [])
        if isinstance(item, dict) and item.get("kind") == "menu" and isinstance(item.get("target"), str)
        and item["target"] not in known
    ]


def _trunk_ref(entry: Any) -> Any:
    """The trunk name of a queue entry: a plain name or a mapping with ``trunk``."""
    return entry.get("trunk") if isinstance(entry, dict) else entry


def _duplicates(
    items: list[tuple[tuple[Any, ...], Any]], error: Any, what: str, hint: str = ""
) -> list[ConfigError]:
    """An error at each repeat (not the first use) of a value that must be unique."""
    seen: set[Any] = set()
    out = []
    for loc, value in items:
        if isinstance(value, (str, int)) and value in seen:
            out.append(error(loc, f"{what} '{value}' is used more than once", hint))
        if isinstance(value, (str, int)):
            seen.add(value)
    return out
