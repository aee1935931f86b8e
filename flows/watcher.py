"""Hot deploy: poll the mtimes of people.yaml and the flow files, deploy what changed.

Polling (every ``interval_s``, 2 s by default) needs no inotify, works on
every file system and in containers with bind mounts, and costs one ``stat``
per file. A changed people.yaml is synced first; each changed flow file is
then deployed on its own, a broken one refused with its errors in the log.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flows.deployer import DeployReport, deploy_files, sync_people
from flows.files import FLOWS_DIR, PEOPLE_FILE, flow_files
from hotline.logs import get_logger

__all__ = ["Snapshot", "changed_files", "snapshot", "watch"]

log = get_logger(__name__)
Snapshot = dict[Path, tuple[int, int]]


def snapshot(conf_dir: Path) -> Snapshot:
    """(mtime_ns, size) of people.yaml and of every flow file."""
    paths = [conf_dir / PEOPLE_FILE]
    if (conf_dir / FLOWS_DIR).is_dir():
        paths += [f for files in flow_files(conf_dir / FLOWS_DIR).values() for f in files]
    out: Snapshot = {}
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue
        out[path] = (stat.st_mtime_ns, stat.st_size)
    return out


def changed_files(before: Snapshot, after: Snapshot) -> list[Path]:
    """Files new or modified since ``before`` (deleted files change nothing: versions are kept)."""
    return sorted(p for p, mark in after.items() if before.get(p) != mark)


async def _apply(
    sessions: async_sessionmaker[AsyncSession], conf_dir: Path, paths: list[Path]
) -> DeployReport:
    report = DeployReport()
    if conf_dir / PEOPLE_FILE in paths:
        await sync_people(sessions, conf_dir, report)
    for path in paths:
        if path.name != PEOPLE_FILE:
            found = await deploy_files(sessions, conf_dir, path, people=False)
            report.deployed.update(found.deployed)
            report.errors += found.errors
    return report


async def watch(
    sessions: async_sessionmaker[AsyncSession], conf_dir: Path, stop: asyncio.Event, interval_s: float = 2.0
) -> None:
    """Until ``stop``: deploy changed files every ``interval_s`` (start-up deployed the rest already)."""
    seen = snapshot(conf_dir)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), interval_s)
        except TimeoutError:
            pass
        current = snapshot(conf_dir)
        paths = changed_files(seen, current)
        seen = current
        if paths:
            report = await _apply(sessions, conf_dir, paths)
            log.info(
                "config change handled",
                files=len(paths),
                deployed=len(report.deployed),
                errors=len(report.errors),
            )
