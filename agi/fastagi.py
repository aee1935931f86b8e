"""FastAGI server: asyncio streams driving ``agi.protocol`` and the scripts of ``agi.scripts``.

Strategy: one task per connection reads, feeds ``AgiConnection``, steps the
script generator, writes. Every wait has a deadline (header, each reply, each
effect, the session). Whatever goes wrong ends that session only, logged with
tenant and call id; if the channel is still up the dialplan gets
``HOTLINE_OUTCOME=error`` / ``HOTLINE_ROUTE=fallback`` and goes on (degrade,
never drop). The server keeps accepting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from agi._deadline import Deadline
from agi.protocol import NEED_DATA, AgiConnection, AgiError, Command, Environment, HangupNotice, State
from agi.scripts import SCRIPTS, parse_script_path
from agi.session import AgiTimeouts, CallContext, EffectFailed, Script, ScriptError, fallback_commands
from hotline.logs import bind_call, get_logger

__all__ = ["FastAgiServer", "start_fastagi_server"]

log = get_logger(__name__)
DEFAULT_TIMEOUTS = AgiTimeouts()


class FastAgiServer:
    """Accepts FastAGI connections on ``host:port``; ``effects`` is an ``agi.effects.AsyncEffects``."""

    def __init__(self, host: str, port: int, *, effects: Any, menus: Mapping[Any, Any],
                 scripts: Mapping[str, Script] = SCRIPTS, timeouts: AgiTimeouts = DEFAULT_TIMEOUTS,
                 clock: Callable[[], float] = time.time) -> None:
        self.host, self.port = host, port
        self.effects, self.menus, self.scripts, self.timeouts, self.clock = effects, menus, scripts, timeouts, clock
        self.server: asyncio.Server | None = None
        self.sessions: set[asyncio.Task[Any]] = set()
        self.counts = {"completed": 0, "failed": 0, "hung_up": 0}

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._accept, self.host, self.port, backlog=4096)
        self.port = self.server.sockets[0].getsockname()[1]
        log.info("FastAGI listening", host=self.host, port=self.port)

    async def close(self, grace_s: float = 5.0) -> None:
        """Stop accepting; let running sessions finish for ``grace_s``, then cancel them."""
        if self.server is not None:
            self.server.close()
        if self.sessions:
            _, pending = await asyncio.wait(self.sessions, timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.sessions.add(task)  # type: ignore[arg-type]
        try:
            await _Session(self, reader, writer).run()
        finally:
            self.sessions.discard(task)  # type: ignore[arg-type]
            writer.close()


class _Session:
    def __init__(self, server: FastAgiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server, self.reader, self.writer, self.t = server, reader, writer, server.timeouts
        self.conn = AgiConnection()
        self.deadline = Deadline(self.t.session_s)

    async def _wait(self, seconds: float, awaitable: Any) -> Any:
        """Await with a deadline; raises ``TimeoutError`` when it passes."""
        self.deadline.arm(seconds)
        try:
            return await awaitable
        except asyncio.CancelledError:
            if not self.deadline.expired:
                raise  # the server is shutting down
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            raise TimeoutError(f"nothing within {seconds:.1f}s") from None
        finally:
            self.deadline.at = self.deadline.limit

    async def _event(self) -> Any:
        """The next event that is not a HANGUP notice (those only move ``conn.hung_up``)."""
        while True:
            event = self.conn.next_event()
            if event is NEED_DATA:
                self.conn.receive_data(await self.reader.read(65536))
            elif not isinstance(event, HangupNotice):
                while isinstance(self.conn.next_event(), HangupNotice):
                    pass  # notices already buffered behind the reply (``-1`` then ``HANGUP``) count now
                return event

    async def _exchange(self, command: Command) -> Any:
        self.writer.write(self.conn.send(command))
        if self.writer.transport.get_write_buffer_size() > 65536:
            await self._wait(self.t.command_s, self.writer.drain())
        return await self._wait(self.t.for_command(command), self._event())

    async def run(self) -> None:
        try:
            env = await self._wait(self.t.header_s, self._event())
            if not isinstance(env, Environment):
                return  # connected and closed: a port check
            path = env.script_path.split("/")
            with bind_call(path[0] or "?", env.uniqueid):
                await self._script(env)
        except (AgiError, TimeoutError, OSError) as exc:
            log.warning("FastAGI session dropped before its environment", peer=self._peer(), error=repr(exc))
        finally:
            self.deadline.close()

    async def _script(self, env: Environment) -> None:
        error = None
        try:
            path = parse_script_path(env.script_path, self.server.scripts)
            call = CallContext(env, path.tenant, path.name, path.arg, env.query, self.conn, self.server.clock,
                               self.server.menus)
            await self._drive(self.server.scripts[path.name](call))
        except AgiError as exc:
            if exc.hint == "hangup":
                log.info("AGI session ended by hang-up", detail=str(exc))
            else:
                error = "script" if isinstance(exc, ScriptError) else "protocol"
                log.warning("AGI session failed", error=str(exc), state=str(self.conn.state))
        except TimeoutError:
            error = "timeout"
            log.warning("AGI session timed out", pending=str(self.conn.pending), state=str(self.conn.state))
        except Exception as exc:
            error = type(exc).__name__
            log.exception("AGI script failed", script=env.script_path)
        if error:
            self.server.counts["failed"] += 1
            await self._fallback(error)
        else:
            self.server.counts["hung_up" if self.conn.hung_up else "completed"] += 1

    async def _drive(self, script: Any) -> None:
        reply = None
        while True:
            try:
                op = script.send(reply)
            except StopIteration:
                return
            if isinstance(op, Command):
                reply = await self._exchange(op)
            else:
                try:
                    reply = await self._wait(self.t.effect_s, self.server.effects.run(op))
                except Exception as exc:  # noqa: BLE001  any effect failure is the script's to degrade
                    reply = EffectFailed(exc)

    async def _fallback(self, error: str) -> None:
        """Leave the dialplan a route if the channel is up and the dialogue still in step."""
        if self.conn.state is not State.IDLE:
            return
        try:
            for command in fallback_commands(self.conn.environment.uniqueid, error):
                await self._exchange(command)
        except (AgiError, TimeoutError, OSError) as exc:
            log.warning("could not leave fallback variables", error=repr(exc))

    def _peer(self) -> str:
        peer = self.writer.get_extra_info("peername")
        return f"{peer[0]}:{peer[1]}" if peer else "?"


async def start_fastagi_server(host: str, port: int, **dependencies: Any) -> FastAgiServer:
    """Start a ``FastAgiServer`` (see its arguments) and return it listening."""
    server = FastAgiServer(host, port, **dependencies)
    await server.start()
    return server
