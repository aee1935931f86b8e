"""The inbound event client: Hotline connects to FreeSWITCH's event socket (port 8021).

Why asyncio and not greenswitch: this client lives in ``hotline serve`` next
to the AMI client and the SLA engine that asks it to ``originate`` voice
alerts, and gevent must not share that process. greenswitch 0.0.19's
``InboundESL`` also blocks for ever in ``send()`` when the connection drops
mid-command, never reconnects, and spins at 100% CPU when the peer closes
inside a body (see tests/esl/test_greenswitch_faults.py); with
``esl/framing.py`` the reader is one small loop.

Strategy: a supervisor task connects, waits for ``auth/request``, sends
``auth``, subscribes (``event json ...``, the same list after every
reconnect), then one reader task reads frames until EOF. Commands go one at a
time under a lock; each waits for its reply with a timeout, and a timeout
drops the connection (replies are matched in order, so a late one could not
be matched any more). Reconnects back off from 0.1 s to ``backoff_max``.
A ``watchdog`` sends ``api status`` after ``ping_interval`` of silence, so a
FreeSWITCH that hangs without closing is noticed too.

Events are normalized (``esl.events``) and written to the tenant's PBX event
stream in batches from a bounded queue, so a slow Redis never blocks the
reader; CHANNEL_HANGUP_COMPLETE then releases the call's lease (idempotent).
``originate`` sends ``bgapi originate`` with its own Job-UUID and waits for
the BACKGROUND_JOB carrying the result.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from esl import commands
from esl.events import normalize
from esl.framing import (
    NEED_DATA,
    ApiResponse,
    AuthRequest,
    CommandReply,
    ConnectionClosed,
    DisconnectNotice,
    EslConnection,
    EslError,
    EslLocalError,
    Event,
    Role,
    RudeRejection,
    UnparsedFrame,
)
from hotline.keys import pbx_events_stream
from hotline.logs import get_logger
from hotline.pbx_events import STREAM_MAXLEN, PbxEvent, PbxEventKind
from hotline.yamlconf import ConfigErrors
from router.decision import RouterError

__all__ = ["SUBSCRIPTION", "EslUnavailable", "InboundClient", "OriginateResult", "esl_inbound"]

log = get_logger(__name__)
Release = Callable[[str, str], Awaitable[Any]]
SUBSCRIPTION = "CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE DTMF BACKGROUND_JOB CUSTOM callcenter::info"
"""``CUSTOM`` comes last: the words after it are subclasses (it works without mod_callcenter loaded)."""


class EslUnavailable(EslError):
    """Not connected to FreeSWITCH, or the connection dropped or stayed silent during the command."""

    hint = "retry"


@dataclass(frozen=True, slots=True)
class OriginateResult:
    """A ``bgapi originate`` outcome: ``reply`` is the job's text (``+OK <uuid>`` or ``-ERR USER_BUSY``)."""

    job_uuid: str
    ok: bool
    reply: str

    @property
    def call_uuid(self) -> str:
        return self.reply.split(" ", 1)[1] if self.ok and " " in self.reply else ""

    @property
    def cause(self) -> str:
        return "" if self.ok else self.reply.removeprefix("-ERR").strip()


class InboundClient:
    """A supervised event-socket connection; ``start()`` returns at once, ``close()`` stops everything."""

    def __init__(self, host: str, port: int, password: str, redis: Any, *, tenant: str, pbx: str,
                 release: Release | None = None, connect_timeout: float = 5.0, command_timeout: float = 5.0,
                 ping_interval: float = 15.0, backoff_max: float = 30.0, queue_size: int = 10_000,
                 clock: Callable[[], float] = time.time) -> None:
        self.host, self.port, self.password, self.redis = host, port, password, redis
        self.tenant, self.pbx, self.release, self.clock = tenant, pbx, release, clock
        self.connect_timeout, self.command_timeout = connect_timeout, command_timeout
        self.ping_interval, self.backoff_max = ping_interval, backoff_max
        self.connected = asyncio.Event()
        self.events: asyncio.Queue[PbxEvent] = asyncio.Queue(queue_size)
        self.sessions = self.dropped = 0
        self._lock = asyncio.Lock()
        self._replies: deque[asyncio.Future[Any]] = deque()
        self._jobs: dict[str, asyncio.Future[str]] = {}
        self._conn: EslConnection | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._auth = asyncio.Event()
        self._last_frame = 0.0
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._supervise()), asyncio.create_task(self._publish())]

    async def close(self) -> None:
        """Stop the tasks. Cancelled again until they end: on Python 3.11 a cancellation that meets a
        finishing ``wait_for`` inside the router is swallowed (fixed in 3.12)."""
        self._closing = True
        pending = {t for t in self._tasks if not t.done()}
        while pending:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.5)
        self._drop("client closed")

    # -- commands --------------------------------------------------------------------------------

    async def _command(self, command: commands.Command, timeout: float | None = None,
                       handshake: bool = False) -> CommandReply | ApiResponse:
        limit = self.command_timeout if timeout is None else timeout
        if not handshake:
            try:
                async with asyncio.timeout(limit):
                    await self.connected.wait()
            except TimeoutError:
                raise EslUnavailable(f"not connected to FreeSWITCH at {self.host}:{self.port}") from None
        async with self._lock:
            if self._conn is None or self._writer is None:
                raise EslUnavailable("the connection to FreeSWITCH is gone")
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            try:
                self._writer.write(self._conn.send(command))
            except EslLocalError as exc:  # FreeSWITCH said goodbye; the reader has not ended the session yet
                raise EslUnavailable(f"the connection to FreeSWITCH is closing: {exc}") from exc
            self._replies.append(future)
            try:
                async with asyncio.timeout(limit):
                    return await future
            except TimeoutError:
                self._drop(f"no reply to {command.word} within {limit:g}s")
                raise EslUnavailable(f"FreeSWITCH did not answer {command.word} within {limit:g}s") from None

    async def api(self, command: str, timeout: float | None = None) -> str:
        """Run an API command (blocks this connection's commands until it finishes); its text."""
        reply = await self._command(commands.api(command), timeout)
        return reply.body if isinstance(reply, ApiResponse) else reply.text

    async def originate(self, dial_string: str, app_args: str = "&park()", timeout: float = 60.0) -> OriginateResult:
        """``bgapi originate <dial_string> <app_args>``; waits up to ``timeout`` for the job's result.

        Raises ``EslUnavailable`` when FreeSWITCH cannot be asked, and
        ``TimeoutError`` when the job has not finished in time (the call may
        still be ringing; its result is then only logged).
        """
        job = str(uuid.uuid4())
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._jobs[job] = future
        try:
            reply = await self._command(commands.bgapi(f"originate {dial_string} {app_args}", job))
            if not isinstance(reply, CommandReply) or not reply.ok:
                raise EslUnavailable(f"FreeSWITCH refused originate: {getattr(reply, 'text', reply)}")
            async with asyncio.timeout(timeout):
                body = await future
        finally:
            self._jobs.pop(job, None)
        text = body.strip()
        return OriginateResult(job, text.startswith("+OK"), text)

    # -- connection ------------------------------------------------------------------------------

    async def _supervise(self) -> None:
        backoff = 0.1
        while not self._closing:
            sessions = self.sessions
            try:
                await self._session()
                log.warning("FreeSWITCH closed the event socket; reconnecting", pbx=self.pbx, retry_s=0.1)
            except (OSError, EslError, TimeoutError) as exc:
                log.warning("FreeSWITCH event socket lost; reconnecting", pbx=self.pbx, error=str(exc) or repr(exc),
                            retry_s=backoff)
            except Exception:  # a bug must not stop the events for good: log it with its traceback, reconnect
                log.exception("FreeSWITCH event client failed; reconnecting", pbx=self.pbx, retry_s=backoff)
            self._drop("connection ended")
            backoff = 0.1 if self.sessions > sessions else min(backoff * 2, self.backoff_max)
            await asyncio.sleep(backoff)

    async def _session(self) -> None:
        async with asyncio.timeout(self.connect_timeout):
            reader, writer = await asyncio.open_connection(self.host, self.port)
        self._conn, self._writer, self._auth = EslConnection(Role.INBOUND), writer, asyncio.Event()
        reading = asyncio.create_task(self._read(reader, self._conn))
        conn = self._conn
        reading.add_done_callback(lambda _: self._conn is conn and self._drop("the reader stopped"))  # fail waits now
        watchdog: asyncio.Task[None] | None = None
        try:
            waiting = asyncio.create_task(self._auth.wait())
            await asyncio.wait({reading, waiting}, timeout=self.command_timeout, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if not self._auth.is_set():
                raise EslUnavailable("no auth/request from FreeSWITCH (is this its event socket?)")
            reply = await self._command(commands.auth(self.password), handshake=True)
            if not reply.ok:
                raise EslUnavailable(f"FreeSWITCH refused the password: {reply.text}")
            await self._command(commands.event("json", SUBSCRIPTION), handshake=True)
            self.sessions += 1
            self.connected.set()
            log.info("FreeSWITCH events subscribed", pbx=self.pbx, host=self.host, port=self.port)
            watchdog = asyncio.create_task(self._watchdog())
            await reading
        finally:
            for task in (reading, watchdog):
                if task is not None:
                    task.cancel()
            writer.close()

    def _drop(self, reason: str) -> None:
        """Close the connection and fail whatever waits on it."""
        self.connected.clear()
        if self._writer is not None:
            self._writer.close()
        self._conn = self._writer = None
        while self._replies:
            future = self._replies.popleft()
            if not future.done():
                future.set_exception(EslUnavailable(f"FreeSWITCH connection dropped: {reason}"))

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval / 2)
            if self.clock() - self._last_frame >= self.ping_interval:
                try:
                    await self.api("status")
                except EslUnavailable as exc:
                    log.warning("FreeSWITCH silent; dropping the connection", pbx=self.pbx, error=str(exc))
                    return

    async def _read(self, reader: asyncio.StreamReader, conn: EslConnection) -> None:
        while True:
            event = conn.next_event()
            if event is NEED_DATA:
                try:
                    data = await reader.read(65536)
                except ConnectionError:
                    data = b""
                conn.receive_data(data)
                continue
            self._last_frame = self.clock()
            if isinstance(event, ConnectionClosed):
                return
            self._dispatch(event)

    def _dispatch(self, event: object) -> None:
        if isinstance(event, AuthRequest):
            self._auth.set()
        elif isinstance(event, (CommandReply, ApiResponse)):
            if self._replies and not (future := self._replies.popleft()).done():
                future.set_result(event)
        elif isinstance(event, Event):
            self._on_event(event)
        elif isinstance(event, (DisconnectNotice, RudeRejection)):
            log.warning("FreeSWITCH is closing the event socket", pbx=self.pbx, notice=getattr(event, "body", "")[:80])
        elif isinstance(event, UnparsedFrame):
            log.warning("FreeSWITCH sent a frame that is not one; skipped", pbx=self.pbx, reason=event.reason)

    # -- events ----------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if event.name == "BACKGROUND_JOB":
            future = self._jobs.get(event.get("Job-UUID"))
            if future is not None and not future.done():
                future.set_result(event.body)
        pbx_event = normalize(event, tenant=self.tenant, pbx=self.pbx, now=self.clock())
        if pbx_event is None:
            return
        try:
            self.events.put_nowait(pbx_event)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.error("FreeSWITCH event queue full; dropping events", pbx=self.pbx, dropped=self.dropped)

    async def _publish(self) -> None:
        """XADD events in batches; a Redis outage is logged and retried, never fatal."""
        while not self._closing:
            batch = [await self.events.get()]
            while not self.events.empty() and len(batch) < 500:
                batch.append(self.events.get_nowait())
            try:
                await self._write(batch)
            except Exception:  # a bug must not stop every later event: log it with its traceback, go on
                log.exception("PBX events lost", pbx=self.pbx, count=len(batch))

    async def _write(self, batch: list[PbxEvent]) -> None:
        while True:
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for event in batch:
                        pipe.xadd(pbx_events_stream(event.tenant), event.to_fields(), maxlen=STREAM_MAXLEN,
                                  approximate=True)
                    await pipe.execute()
                break
            except (RedisError, OSError) as exc:
                log.warning("cannot write PBX events; retrying", pbx=self.pbx, count=len(batch), error=str(exc))
                await asyncio.sleep(1.0)
        for event in batch:
            if event.kind is PbxEventKind.HANGUP and self.release is not None and event.call_id:
                await self._release(event)

    async def _release(self, event: PbxEvent) -> None:
        assert self.release is not None
        try:
            async with asyncio.timeout(self.command_timeout):
                await self.release(event.tenant, event.call_id)
        except (RouterError, RedisError, OSError, TimeoutError) as exc:  # the lease lapses on its own TTL
            log.warning("lease release after hang-up failed", tenant=event.tenant, call_id=event.call_id,
                        error=repr(exc))


@asynccontextmanager
async def esl_inbound(runtime: Any, *, voice: Any = None) -> AsyncIterator[None]:
    """``hotline serve`` part: the event client while ``fs_event_host`` is set; ``runtime.freeswitch`` is it.

    Uses ``runtime.redis`` for the event stream and a router on ``runtime.redis_url`` for lease releases;
    ``voice`` (``hotline.pbx_voice.PbxVoiceRelay``) gets the client for voice alerts.
    """
    from router.aio import AsyncRouter
    from router.check import load_routing_config

    settings = runtime.settings
    runtime.freeswitch = None
    if not settings.fs_event_host:
        log.info("FreeSWITCH event client off (fs_event_host unset)")
        yield
        return
    router: AsyncRouter | None = None
    try:  # its own client: the router cancels slow calls, which must not happen on the shared one
        routing = load_routing_config(settings.conf_dir)
        router = AsyncRouter.from_url(runtime.redis_url, routing, node=settings.node_name)
    except ConfigErrors as exc:
        log.error("routing config unusable; hang-ups will not release leases (they lapse)", error=str(exc))
    if settings.fs_password is None:
        log.warning("HOTLINE_FS_PASSWORD unset; using FreeSWITCH's default event socket password")
    password = settings.fs_password.get_secret_value() if settings.fs_password else "ClueCon"
    client = InboundClient(settings.fs_event_host, settings.fs_event_port, password, runtime.redis,
                           tenant=settings.fs_tenant, pbx=settings.fs_name, release=router and router.release)
    await client.start()
    runtime.freeswitch = client
    if voice is not None and router is not None:
        voice.attach_freeswitch(client, settings.fs_tenant, routing)
    try:
        yield
    finally:
        if voice is not None:
            voice.freeswitch = None
        await client.close()
        if router is not None:
            await router.client.aclose()
