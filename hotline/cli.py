"""The ``hotline`` command.

Every problem an operator can fix (a bad setting, a broken config, a port in
use, an unreachable database) ends the command with one clear line and exit
status 2; a traceback means a bug in Hotline. Only this module installs
signal handlers.
"""

from __future__ import annotations

import asyncio
import importlib
import signal
import sys
from pathlib import Path
from typing import ClassVar

import click

from hotline import __version__
from hotline.cli_support import EXIT_USAGE, Failure, console, err_console, run_async, settings_or_fail


class _LazyGroup(click.Group):
    """Imports a room's command group only when it is run (or listed by --help).

    Each group pulls in its room (SQLAlchemy models, gevent, twilio...), so
    importing them all made every command pay about a second before doing
    anything; now ``hotline tokens create`` loads only what it uses.
    """

    #: command name -> "module:attribute", one line per room's group
    LAZY: ClassVar[dict[str, str]] = {
        "alerts": "alerts.cli:alerts",
        "esl": "esl.cli:esl",
        "flows": "flows.cli:flows",
        "route": "router.cli:route",
        "streams": "hotline.streams_cli:streams",
        "tokens": "hotline.cli_tokens:tokens",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.LAZY and name not in self.commands:
            module, _, attr = self.LAZY[name].partition(":")
            self.add_command(getattr(importlib.import_module(module), attr), name)
        return super().get_command(ctx, name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="hotline")
def cli() -> None:
    """Hotline: telephony middleware for customer-service hotlines.

    Settings come from conf/hotline.yaml and HOTLINE_* environment variables
    (HOTLINE_CONF_DIR, HOTLINE_DATA_DIR, HOTLINE_DATABASE_URL, HOTLINE_REDIS_URL,
    HOTLINE_HTTP_PORT, HOTLINE_AGI_PORT, ...). With none set, `hotline serve`
    uses a SQLite file and an embedded Redis under ./data.
    """


@cli.command()
def version() -> None:
    """Print the Hotline version."""
    console.print(f"hotline {__version__}")


@cli.command()
def serve() -> None:
    """Run the API, the FastAGI server and the workers until Ctrl-C or SIGTERM."""
    from hotline.logs import configure_logging
    from hotline.serve import serve as run

    settings = settings_or_fail()
    configure_logging(settings.log_level, settings.log_format)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run(settings, stop)

    run_async(main)


@cli.command()
@click.argument("conf_dir", required=False, type=click.Path(path_type=Path))
def check(conf_dir: Path | None) -> None:
    """Validate every configuration file under CONF_DIR (default: the configured conf dir).

    Reports all errors at once, each with file and line; exit status 2 when any.
    """
    from hotline.checks import run_checks

    directory = conf_dir if conf_dir is not None else settings_or_fail().conf_dir
    if not directory.is_dir():
        raise Failure(f"{directory}: no such directory")
    results = run_checks(directory)
    errors = [e for _, found in results for e in found]
    for name, found in results:
        mark = "[green]ok[/]" if not found else f"[red]{len(found)} error(s)[/]"
        console.print(f"{name:<10} {mark}")
    for error in errors:
        err_console.print(str(error), highlight=False, markup=False, soft_wrap=True)
    if errors:
        sys.exit(EXIT_USAGE)


@cli.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration (PostgreSQL needs this after an upgrade of Hotline)."""
    from hotline.db import create_engine, upgrade
    from hotline.serve import StartupError, safe_url

    settings = settings_or_fail()

    async def main() -> str:
        engine = create_engine(settings.sql_url)
        try:
            state = await upgrade(engine)
        except Exception as exc:  # any driver error: the message names the database and the fix
            raise StartupError(f"cannot upgrade {safe_url(settings.sql_url)}: {exc}") from exc
        finally:
            await engine.dispose()
        return state.current or "none"

    console.print(f"database at revision [bold]{run_async(main)}[/] (head)")


@db.command("revision")
@click.argument("message")
def db_revision(message: str) -> None:
    """For developers: generate a migration from model changes (against a scratch SQLite file)."""
    import tempfile

    from hotline.db import create_engine, new_revision

    async def main() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            engine = create_engine(f"sqlite+aiosqlite:///{tmp}/scratch.sqlite3")
            try:
                await new_revision(engine, message)
            finally:
                await engine.dispose()

    run_async(main)


def main() -> None:
    cli(prog_name="hotline")


__all__ = ["cli", "main"]
