"""``hotline esl``: the FreeSWITCH edge in its own gevent process.

gevent must patch the standard library before anything imports ``socket``,
``ssl`` or ``threading``, and must not share a process with the asyncio
server. ``hotline esl`` therefore re-executes itself as ``python -m esl``
(same PID, so signals from systemd or Docker reach it), whose first lines
patch; there this command runs the server until SIGINT or SIGTERM. Like
``hotline/cli.py`` for ``serve``, this command is the only place in its
process that installs signal handlers.
"""

from __future__ import annotations

import errno
import gc
import os
import signal
import sys

import click

from hotline.cli_support import Failure, settings_or_fail

__all__ = ["esl"]


def _patched() -> bool:
    if "gevent" not in sys.modules:
        return False
    from gevent import monkey

    return bool(monkey.is_module_patched("socket"))


@click.command("esl")
@click.option("--host", default=None, help="Listen address (default: setting esl_host)")
@click.option("--port", type=int, default=None, help="Listen port (default: setting esl_port, 8084)")
def esl(host: str | None, port: int | None) -> None:
    """Run the FreeSWITCH outbound-socket server until Ctrl-C or SIGTERM.

    The dialplan hands calls over with
    <action application="socket" data="127.0.0.1:8084 async full"/>.
    """
    if not _patched():
        args = [sys.executable, "-m", "esl"]
        args += ["--host", host] if host else []
        args += ["--port", str(port)] if port is not None else []
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, args)
    _run(host, port)


def _run(host: str | None, port: int | None) -> None:
    import gevent
    import gevent.event

    from esl.server import OutboundServer, build_edge
    from hotline.logs import configure_logging, get_logger
    from hotline.redisconn import RedisUnavailable
    from hotline.yamlconf import ConfigErrors

    settings = settings_or_fail()
    configure_logging(settings.log_level, settings.log_format)
    host, port = host or settings.esl_host, settings.esl_port if port is None else port
    try:
        edge = build_edge(settings)
    except ConfigErrors as exc:
        raise Failure("\n".join(str(e) for e in exc.errors)) from exc
    except RedisUnavailable as exc:
        raise Failure(str(exc)) from exc
    gc.freeze()  # menus, routing and modules are loaded for good: keep them out of every later collection
    server = OutboundServer(edge, host, port, settings.esl_max_calls)
    try:
        server.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise Failure(f"ESL port {host}:{port} is already in use: stop the other process or set HOTLINE_ESL_PORT")
        raise Failure(f"cannot listen for ESL on {host}:{port}: {exc.strerror}; check HOTLINE_ESL_PORT") from exc
    stop = gevent.event.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(sig, stop.set)
    bound_host, bound_port = server.address
    get_logger(__name__).info("esl listening", address=f"{bound_host}:{bound_port}", max_calls=settings.esl_max_calls)
    server.serve_until(stop, settings.esl_shutdown_grace_s)
