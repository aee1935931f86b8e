"""Load and check ``conf/routing.yaml``, reporting every problem with file and line.

Strategy: pydantic checks each field (with the line ``hotline.yamlconf`` kept);
the cross-references pydantic cannot see (a queue naming a trunk that does not
exist, a name used twice) are checked here against the raw YAML, so each error
points at the item that is wrong rather than at the top of the file, and both
kinds are reported in the same run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hotline.yamlconf import ConfigError, ConfigErrors, line_of, load_yaml, validate_model
from router.model import RoutingConfig

__all__ = ["ROUTING_FILE", "check_routing", "load_routing_config"]

ROUTING_FILE = "routing.yaml"


def load_routing_config(conf_dir: Path) -> RoutingConfig:
    """The routing config of ``conf_dir``; raises ``ConfigErrors`` carrying every problem found."""
    path = conf_dir / ROUTING_FILE
    data = load_yaml(path)
    errors = _cross_check_all(data, str(path))
    try:
        config = validate_model(RoutingConfig, data, str(path))
    except ConfigErrors as exc:
        raise ConfigErrors(sorted(exc.errors + errors, key=lambda e: e.line)) from exc
    if errors:
        raise ConfigErrors(errors)
    return config


def check_routing(conf_dir: Path) -> list[ConfigError]:
    """Every problem in ``conf_dir/routing.yaml`` (empty when the file is good); never raises for a bad file."""
    try:
        load_routing_config(conf_dir)
    except ConfigErrors as exc:
        return exc.errors
    return []


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


def _cross_check_all(data: Any, file: str) -> list[ConfigError]:
    tenants = data.get("tenants") if isinstance(data, dict) else None
    if not isinstance(tenants, dict):
        return []
    return [
        error
        for name, raw in tenants.items()
        if isinstance(raw, dict)
        for error in _cross_check(name, raw, file)
    ]


def _cross_check(tenant: str, raw: dict[str, Any], file: str) -> list[ConfigError]:
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
    return out


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
