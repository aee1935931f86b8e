"""What every ``hotline`` subcommand shares: consoles, settings loading and the exit-2 failure.

Kept apart from ``hotline.cli`` so each room's command group can import it
without importing the whole command tree (which imports the groups).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.text import Text

from hotline.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:  # SQLAlchemy is imported only by the commands that use a database
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["EXIT_USAGE", "Failure", "console", "err_console", "in_transaction", "run_async", "settings_or_fail"]

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")

EXIT_USAGE = 2


class Failure(click.ClickException):
    """An operator-fixable failure: printed as one red line, exit status 2."""

    exit_code = EXIT_USAGE

    def show(self, file: Any = None) -> None:
        for line in self.message.splitlines():
            err_console.print(Text.assemble(("error: ", "bold red"), line), highlight=False, soft_wrap=True)


def settings_or_fail(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        raise Failure(str(exc)) from exc


def run_async(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine, translating the start-up errors every command can meet."""
    from hotline.redisconn import RedisUnavailable
    from hotline.serve import StartupError

    try:
        return asyncio.run(factory())
    except (StartupError, RedisUnavailable) as exc:
        raise Failure(str(exc)) from exc


async def in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """One transaction on the configured database; SQLite is migrated first, as serve does."""
    from hotline.db import create_engine, is_sqlite, session_factory, upgrade

    engine = create_engine(settings.sql_url)
    try:
        if is_sqlite(settings.sql_url):
            await upgrade(engine)
        async with session_factory(engine).begin() as session:
            return await work(session)
    finally:
        await engine.dispose()
