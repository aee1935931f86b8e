"""Deploying configuration files: people.yaml first, then each flow file on its own.

Strategy: every file is deployed in its own transaction, so one broken flow
is refused (its errors located) while the others still go in, and a file
that did not change creates no version. Used at start-up, by the watcher and
by ``hotline flows deploy``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flows.files import FLOWS_DIR, PEOPLE_FILE, flow_files
from flows.people_store import load_directory, sync_people_file
from flows.versions import deploy
from hotline.logs import get_logger
from hotline.models import utcnow
from hotline.yamlconf import ConfigError, ConfigErrors
from router.check import tenant_regions

__all__ = ["DeployReport", "deploy_files", "sync_people"]

log = get_logger(__name__)


@dataclass
class DeployReport:
    """What happened to each file: ``deployed`` (file → version), ``unchanged``, ``errors`` (refused) and
    ``warnings`` (deployed, but naming people the tenant has not loaded yet)."""

    deployed: dict[str, int] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)
    warnings: list[ConfigError] = field(default_factory=list)


async def sync_people(
    sessions: async_sessionmaker[AsyncSession], conf_dir: Path, report: DeployReport
) -> None:
    path, regions = conf_dir / PEOPLE_FILE, tenant_regions(conf_dir)
    try:
        async with sessions.begin() as session:
            report.people += await sync_people_file(session, path, utcnow(), regions)
    except ConfigErrors as exc:
        report.errors += exc.errors
        log.error("people.yaml refused; the people in SQL stay", file=str(path), errors=len(exc.errors))


async def deploy_files(
    sessions: async_sessionmaker[AsyncSession],
    conf_dir: Path,
    path: Path | None = None,
    *,
    people: bool = True,
) -> DeployReport:
    """Sync people.yaml (when ``people``), then deploy every flow file under ``path`` (default: conf/flows)."""
    report = DeployReport()
    if people:
        await sync_people(sessions, conf_dir, report)
    root = path if path is not None else conf_dir / FLOWS_DIR
    if not root.exists():
        return report
    for tenant, files in flow_files(root).items():
        for file in files:
            await _deploy_one(sessions, tenant, file, report)
    return report


async def _deploy_one(
    sessions: async_sessionmaker[AsyncSession], tenant: str, file: Path, report: DeployReport
) -> None:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        report.errors.append(ConfigError(str(file), 0, f"cannot read file: {exc}"))
        return
    try:
        async with sessions.begin() as session:
            directory = await load_directory(session, tenant)
            done = await deploy(
                session,
                tenant,
                file.stem,
                text,
                origin=f"file:{file}",
                now=utcnow(),
                directory=directory,
                file=str(file),
            )
    except ConfigErrors as exc:
        report.errors += exc.errors
        log.error(
            "flow refused; the version in force stays",
            file=str(file),
            tenant=tenant,
            errors=len(exc.errors),
            first=str(exc.errors[0]),
        )
        return
    except IntegrityError:
        log.warning("flow deployed concurrently by another process; skipped", file=str(file), tenant=tenant)
        return
    if done.warnings:
        report.warnings += done.warnings
        log.warning("flow names people this tenant has not loaded yet; they are not checked", file=str(file),
                    tenant=tenant, warnings=len(done.warnings), first=str(done.warnings[0]))
    if done.created:
        report.deployed[str(file)] = done.info.version
        log.info("flow deployed", tenant=tenant, flow=file.stem, version=done.info.version)
    else:
        report.unchanged.append(str(file))
