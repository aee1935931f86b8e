"""``hotline flows``: deploy flow definitions and load people from the conf dir."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flows.deployer import DeployReport, deploy_files
from hotline.cli_support import EXIT_USAGE, Failure, console, err_console, run_async, settings_or_fail
from hotline.db import create_engine, is_sqlite, session_factory, upgrade
from hotline.settings import Settings

__all__ = ["flows"]

T = TypeVar("T")


async def _with_sessions(
    settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
) -> T:
    """Run ``work`` on the configured database (SQLite is migrated first, as serve does)."""
    engine = create_engine(settings.sql_url)
    try:
        if is_sqlite(settings.sql_url):
            await upgrade(engine)
        return await work(session_factory(engine))
    finally:
        await engine.dispose()


def _show(report: DeployReport) -> None:
    for tenant in report.people:
        console.print(f"people    [green]loaded[/] for tenant {tenant}")
    for file, version in report.deployed.items():
        console.print(f"deployed  [green]v{version}[/] {file}")
    for file in report.unchanged:
        console.print(f"unchanged {file}")
    for warning in report.warnings:
        err_console.print(f"warning: {warning}", highlight=False, markup=False, soft_wrap=True)
    for error in report.errors:
        err_console.print(str(error), highlight=False, markup=False, soft_wrap=True)


@click.group()
def flows() -> None:
    """Flow definitions and the people they assign to."""


@flows.command("deploy")
@click.argument("path", required=False, type=click.Path(path_type=Path))
def deploy_command(path: Path | None) -> None:
    """Deploy PATH (a flow file, a tenant directory, or the flows directory; default: conf/flows).

    people.yaml is loaded first when its content changed. Each changed file
    becomes a new version; a file with errors is refused (file:line listed)
    and the version in force stays. Exit status 2 when anything was refused.
    """
    settings = settings_or_fail()
    if path is not None and not path.exists():
        raise Failure(f"{path}: no such file or directory")
    report = run_async(lambda: _with_sessions(settings, lambda s: deploy_files(s, settings.conf_dir, path)))
    _show(report)
    if report.errors:
        raise SystemExit(EXIT_USAGE)
