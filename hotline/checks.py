"""The validators ``hotline check`` runs, one per kind of configuration file.

Each takes the conf dir and returns every ``ConfigError`` it finds (never
raises for a bad file), so one run reports everything at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hotline.settings import SETTINGS_FILE, SettingsError, load_settings
from hotline.yamlconf import ConfigError

Check = Callable[[Path], list[ConfigError]]


def check_settings(conf_dir: Path) -> list[ConfigError]:
    """hotline.yaml in this conf dir; problems from the environment are not the file's."""
    path = conf_dir / SETTINGS_FILE
    try:
        load_settings(conf_dir=conf_dir)
    except SettingsError as exc:
        return [e for e in exc.errors if e.file == str(path)]
    return []


def checks() -> list[tuple[str, Check]]:
    """Every validator, in the order they are reported."""
    from alerts.config import check_alerts
    from flows.check import check_flows
    from ivr.check import check_ivr
    from router.check import check_routing

    return [("settings", check_settings), ("ivr", check_ivr), ("routing", check_routing), ("flows", check_flows),
            ("alerts", check_alerts)]


def run_checks(conf_dir: Path) -> list[tuple[str, list[ConfigError]]]:
    return [(name, check(conf_dir)) for name, check in checks()]
