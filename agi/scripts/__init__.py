"""AGI scripts by name: ``agi://host:4573/<tenant>/<name>[/<arg>][?query]`` runs ``SCRIPTS[name]``.

An explicit dict, so ``grep`` finds every script and nothing registers itself
on import. Each script is a sans-IO generator (see agi/session.py) in its own
module; FastAGI and spawned AGI (``hotline-agi <tenant> <name> [<arg>]``) run
the same ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from agi.scripts import hangup, ivr, route
from agi.session import Script, ScriptError

__all__ = ["SCRIPTS", "ScriptPath", "parse_script_path"]

SCRIPTS: dict[str, Script] = {
    "ivr": ivr.run,  # <tenant>/ivr/<menu>: run an IVR menu, route, set HOTLINE_*
    "route": route.run,  # <tenant>/route/<queue>: only ask the router
    "hangup": hangup.run,  # <tenant>/hangup (from the h extension): release the lease, record the hang-up
}
#: Scripts that take an argument after their name.
NEEDS_ARG = frozenset({"ivr", "route"})
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\Z")


class ScriptPath(NamedTuple):
    """A FastAGI path or the spawned script's argv, parsed."""

    tenant: str
    name: str
    arg: str


def parse_script_path(parts: list[str] | str, scripts: Mapping[str, Script] = SCRIPTS) -> ScriptPath:
    """``"demo/ivr/main"`` or ``["demo", "ivr", "main"]`` → ``ScriptPath``; raises ``ScriptError``."""
    if isinstance(parts, str):
        parts = [p for p in parts.strip("/").split("/") if p]
    if len(parts) < 2 or parts[1] not in scripts:
        raise ScriptError(f"no AGI script for {'/'.join(parts)!r}; expected <tenant>/{{{'|'.join(scripts)}}}[/<arg>]")
    tenant, name, *rest = parts
    wanted = 1 if name in NEEDS_ARG else 0
    if len(rest) != wanted or not _NAME.match(tenant) or not all(_NAME.match(p) for p in rest):
        raise ScriptError(f"bad AGI script path {'/'.join(parts)!r}; expected <tenant>/{name}"
                          + ("/<name>" if wanted else ""))
    return ScriptPath(tenant, name, rest[0] if rest else "")
