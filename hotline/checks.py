"""The validators ``hotline check`` runs, one per kind of configuration file, and one across two of them.

Each takes the conf dir and returns every ``ConfigError`` it finds (never
raises for a bad file), so one run reports everything at once. The chat link
check is here, in the wiring, because it needs both rooms: a menu's
``chat_link`` node names a ``chat`` diversion of routing.yaml, and ``ivr/``
may not read the router's config any more than ``router/`` reads menus.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hotline.settings import SETTINGS_FILE, SettingsError, load_settings
from hotline.yamlconf import ConfigError, ConfigErrors, line_of

Check = Callable[[Path], list[ConfigError]]


def check_settings(conf_dir: Path) -> list[ConfigError]:
    """hotline.yaml in this conf dir; problems from the environment are not the file's."""
    path = conf_dir / SETTINGS_FILE
    try:
        load_settings(conf_dir=conf_dir)
    except SettingsError as exc:
        return [e for e in exc.errors if e.file == str(path)]
    return []


def check_chat_links(conf_dir: Path) -> list[ConfigError]:
    """An error at each menu ``chat_link`` node whose ``diversion`` is no chat diversion of its tenant.

    Why not at load: the edge never sends the SMS, and a routing.yaml edit must
    not stop it from loading menus. A routing.yaml that does not load is the
    routing check's report, not repeated here.
    """
    from ivr.loader import read_conf
    from ivr.model import ChatLinkNode
    from router.check import ROUTING_FILE, load_routing_config
    from router.model import DiversionKind

    asks = [(menu, node_id, node) for tenant in read_conf(conf_dir).tenants.values()
            for menu in tenant.menus.values() for node_id, node in menu.nodes.items()
            if isinstance(node, ChatLinkNode)]
    try:
        tenants = load_routing_config(conf_dir).tenants if asks else {}
    except ConfigErrors:
        return []
    errors: list[ConfigError] = []
    for menu, node_id, node in asks:
        routing = tenants.get(menu.tenant)
        if routing is None or routing.chat(node.diversion) is None:
            chats = [d.name for d in routing.diversions if d.kind is DiversionKind.CHAT] if routing else []
            errors.append(ConfigError(
                menu.file, line_of(menu.raw, ("nodes", node_id, "diversion")),
                f"node {node_id!r}: {node.diversion!r} is not a chat diversion of tenant {menu.tenant!r} "
                f"in {ROUTING_FILE}", f"its chat diversions: {', '.join(chats) or 'none'}"))
    return errors


def checks() -> list[tuple[str, Check]]:
    """Every validator, in the order they are reported."""
    from alerts.config import check_alerts
    from flows.check import check_flows
    from ivr.check import check_ivr
    from router.check import check_routing

    return [("settings", check_settings), ("ivr", check_ivr), ("routing", check_routing),
            ("chat links", check_chat_links), ("flows", check_flows), ("alerts", check_alerts)]


def run_checks(conf_dir: Path) -> list[tuple[str, list[ConfigError]]]:
    return [(name, check(conf_dir)) for name, check in checks()]
