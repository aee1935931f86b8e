"""Hot deploy of IVR menus into a running edge, shared by FastAGI (asyncio) and ``hotline esl`` (gevent).

Strategy: each edge polls ``check_once`` from its own kind of loop every
``POLL_S``; the check itself is the same blocking code for both. A stamp of
every ``conf/ivr/**.yaml`` (path, mtime, size) tells whether anything changed
since the last look; only then are the menus loaded again, whole, through the
same ``load_menus`` as at start. New menus replace the holder's ``menus`` in one
assignment, so the next call sees all of them or none; calls already running
keep the mapping they started with. A deploy that fails its check is logged with
every error's file and line and never replaces menus that passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from hotline.logs import get_logger
from hotline.yamlconf import ConfigErrors
from ivr.check import load_menus
from ivr.model import Menu

__all__ = ["POLL_S", "MenuHolder", "MenuReloader"]

log = get_logger(__name__)

POLL_S = 2.0
"""How often the edges look at conf/ivr: a deploy is live within this, at the cost of a few stat calls."""

Stamp = tuple[tuple[str, int, int], ...]


class MenuHolder(Protocol):
    """What an edge keeps its menus on (``FastAgiServer``, the ESL ``Edge``): read at each call's start."""

    menus: Mapping[tuple[str, str], Menu]


class MenuReloader:
    """Replaces ``holder.menus`` when a menu file changed and the new set passes its check."""

    def __init__(self, holder: MenuHolder, conf: Path) -> None:
        self.holder, self.conf = holder, conf
        self.stamp = self._stamp()

    def _stamp(self) -> Stamp:
        found = []
        for path in (self.conf / "ivr").rglob("*.yaml"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # deleted between listing and stat: the next look sees the folder as it is
            found.append((str(path), stat.st_mtime_ns, stat.st_size))
        return tuple(sorted(found))

    def check_once(self) -> bool:
        """Reload if any menu file changed; True when new menus are in force.

        A broken deploy is not retried until a file changes again, so it is
        logged once, not every poll.
        """
        stamp = self._stamp()
        if stamp == self.stamp:
            return False
        self.stamp = stamp
        try:
            menus = load_menus(self.conf)
        except ConfigErrors as exc:
            log.error("IVR menus changed but fail their check; the running menus stay in force", errors=str(exc))
            return False
        self.holder.menus = menus
        log.info("IVR menus reloaded", menus=len(menus))
        return True
