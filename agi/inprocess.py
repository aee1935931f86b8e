"""The in-process path of ``hotline-agi``: the engine runs the call in this process, over stdin/stdout.

Used when no ``hotline serve`` accepts on its FastAGI port (``agi.relay``), so
calls keep working while serve is down, at the price of loading the engine per call.

Strategy: blocking reads with ``select`` deadlines drive ``agi.protocol`` and
the scripts of ``agi.scripts``; effects run on the blocking router and Redis
(``agi.effects.SyncEffects``). Imports stay lazy: only ``agi.protocol`` is
loaded before the environment is read, and ``agi.startup`` reads its few
settings straight from the environment.
"""

from __future__ import annotations

import os
import select
import sys
import time
from typing import Any

from agi.protocol import NEED_DATA, AgiConnection, AgiError, Command, Environment, HangupNotice, State
from agi.relay import EXIT_FAILURE
from agi.session import AgiTimeouts, EffectFailed, fallback_commands

__all__ = ["run"]


class _Stdio:
    def __init__(self, rfd: int, wfd: int, timeouts: AgiTimeouts) -> None:
        self.rfd, self.wfd, self.t = rfd, wfd, timeouts
        self.conn = AgiConnection()

    def event(self, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            event = self.conn.next_event()
            if event is NEED_DATA:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.rfd], [], [], left)[0]:
                    raise TimeoutError(f"no reply from Asterisk within {timeout:.1f}s")
                self.conn.receive_data(os.read(self.rfd, 65536))
            elif not isinstance(event, HangupNotice):
                while isinstance(self.conn.next_event(), HangupNotice):
                    pass  # notices already buffered behind the reply (``-1`` then ``HANGUP``) count now
                return event

    def exchange(self, command: Command) -> Any:
        data = memoryview(self.conn.send(command))
        while data:
            data = data[os.write(self.wfd, data):]
        return self.event(self.t.for_command(command))

    def drive(self, script: Any, effects: Any, deadline: float) -> None:
        reply = None
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError("AGI session ran past its time limit")
            try:
                op = script.send(reply)
            except StopIteration:
                return
            if isinstance(op, Command):
                reply = self.exchange(op)
            else:
                try:
                    reply = effects.run(op)
                except Exception as exc:  # noqa: BLE001  any effect failure is the script's to degrade
                    reply = EffectFailed(exc)

    def fallback(self, error: str) -> bool:
        if self.conn.state is not State.IDLE or self.conn.environment is None:
            return False
        try:
            for command in fallback_commands(self.conn.environment.uniqueid, error):
                self.exchange(command)
        except (AgiError, TimeoutError, OSError):
            return False
        return True


def run(args: list[str], rfd: int = 0, wfd: int = 1) -> int:
    """Run the call of ``hotline-agi <args>`` here; returns the exit status (see ``agi.script``)."""
    words = [a for a in args if "=" not in a]
    query = dict(a.split("=", 1) for a in args if "=" in a)
    timeouts = AgiTimeouts()
    io = _Stdio(rfd, wfd, timeouts)
    try:
        env = io.event(timeouts.header_s)
    except (AgiError, TimeoutError, OSError) as exc:
        print(f"hotline-agi: no AGI environment on stdin: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if not isinstance(env, Environment):
        return EXIT_FAILURE
    return _run(io, env, words, query, timeouts)


def _run(io: _Stdio, env: Environment, words: list[str], query: dict[str, str], timeouts: AgiTimeouts) -> int:
    from agi.scripts import SCRIPTS, parse_script_path
    from agi.session import CallContext
    from hotline.logs import bind_call, configure_logging, get_logger

    configure_logging(os.environ.get("HOTLINE_LOG_LEVEL", "INFO"), os.environ.get("HOTLINE_LOG_FORMAT", "kv"))
    log = get_logger("agi.script")
    with bind_call(words[0] if words else "?", env.uniqueid):
        error = None
        try:
            path = parse_script_path(words)
            from agi.startup import spawned_edge

            effects, menus = spawned_edge()
            call = CallContext(env, path.tenant, path.name, path.arg, query, io.conn, time.time, menus)
            io.drive(SCRIPTS[path.name](call), effects, time.monotonic() + timeouts.session_s)
        except AgiError as exc:
            if exc.hint != "hangup":
                error = "protocol"
                log.warning("AGI session failed", error=str(exc), state=str(io.conn.state))
        except TimeoutError as exc:
            error = "timeout"
            log.warning("AGI session timed out", error=str(exc), pending=str(io.conn.pending))
        except Exception as exc:
            error = type(exc).__name__
            log.exception("AGI script failed", argv=" ".join(words))
        if error and not io.fallback(error):
            return EXIT_FAILURE
        return 0
