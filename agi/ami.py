"""AMI client per Asterisk PBX: actions with timeouts, a watchdog, and events onto the tenant's stream.

Strategy: panoramisk's Manager does the framing, ActionID matching and
reconnects; ``HotlineManager`` (agi/_panoramisk_faults.py) fixes what it gets
wrong. On top of it ``AmiClient``:

* waits for login before sending an action, and bounds every action by a
  timeout (``AmiTimeout``), forgetting it afterwards so it is not resent;
* pings every ``ping_interval`` seconds and aborts the connection when the Pong
  does not come within ``ping_timeout`` (a silently dead peer), or when login
  has not succeeded within ``login_timeout``; panoramisk then reconnects with
  backoff;
* normalizes events (``agi.ami_events``) onto ``pbx_events_stream(tenant)``
  through a bounded queue, so a slow Redis never blocks the AMI reader;
* with a ``router``, keeps the trunk leases of the PBX's live calls
  (``agi.ami_leases``): renewed while the channel is up, released at its
  ``Hangup`` (idempotent: the ``h`` extension usually did it first), reconciled
  with ``CoreShowChannels`` after every login.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from panoramisk.actions import Action
from redis.exceptions import RedisError

from agi._panoramisk_faults import HotlineManager
from agi.ami_events import normalize
from agi.ami_leases import LeaseKeeper
from hotline.keys import pbx_events_stream
from hotline.logs import get_logger
from hotline.pbx_events import STREAM_MAXLEN, PbxEvent, PbxEventKind

__all__ = ["AmiClient", "AmiError", "AmiPbx", "AmiTimeout", "parse_ami_url"]

log = get_logger(__name__)


class AmiError(Exception):
    """An AMI action failed: ``Response: Error`` (``message`` says why) or no connection."""


class AmiTimeout(AmiError):
    """No reply within the action's timeout (not logged in, peer silent, or slow)."""


@dataclass(frozen=True)
class AmiPbx:
    """One Asterisk manager connection; ``tenant`` is whose stream its events go to."""

    name: str
    host: str
    port: int
    username: str
    secret: str
    tenant: str

    def __repr__(self) -> str:  # never print the secret
        return f"AmiPbx({self.name!r}, {self.host}:{self.port}, user={self.username!r}, tenant={self.tenant!r})"


def parse_ami_url(url: str) -> AmiPbx:
    """``ami://user:secret@host[:5038]/?tenant=demo&name=pbx1`` → ``AmiPbx`` (for ``HOTLINE_AMI_URLS``)."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if parts.scheme != "ami" or not parts.hostname or not parts.username or "tenant" not in query:
        raise ValueError("AMI URL must look like ami://user:secret@host:5038/?tenant=<tenant>[&name=<pbx>]")
    return AmiPbx(
        name=query.get("name", parts.hostname),
        host=parts.hostname,
        port=parts.port or 5038,
        username=unquote(parts.username),
        secret=unquote(parts.password or ""),
        tenant=query["tenant"],
    )


class AmiClient:
    """A supervised AMI connection; ``start()`` returns at once, ``close()`` stops everything."""

    def __init__(self, pbx: AmiPbx, redis: Any, *, router: Any = None, renew_interval: float = 30.0,
                 action_timeout: float = 5.0,
                 ping_interval: float = 10.0, ping_timeout: float = 5.0, login_timeout: float = 10.0,
                 connect_timeout: float = 5.0, backoff_min: float = 0.5, backoff_max: float = 30.0,
                 queue_size: int = 10_000,
                 clock: Callable[[], float] = time.time) -> None:
        self.pbx = pbx
        self.redis = redis
        self.leases = None if router is None else LeaseKeeper(router, pbx.tenant, pbx.name, interval=renew_interval,
                                                              timeout=action_timeout)
        self.action_timeout = action_timeout
        self.ping_interval, self.ping_timeout, self.login_timeout = ping_interval, ping_timeout, login_timeout
        self.clock = clock
        self.manager = HotlineManager(
            host=pbx.host, port=pbx.port, username=pbx.username, secret=pbx.secret,
            connect_timeout=connect_timeout, backoff_min=backoff_min, backoff_max=backoff_max,
            on_login=self._logged_in, on_disconnect=self._disconnected,
        )
        self.manager.register_event("*", self._on_event)
        self.logged_in = asyncio.Event()
        self.events: asyncio.Queue[PbxEvent] = asyncio.Queue(queue_size)
        self.dropped = 0
        self.reconnects = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self) -> None:
        self.manager.loop = asyncio.get_running_loop()
        self.manager.connect()
        self._tasks = [asyncio.create_task(self._watchdog()), asyncio.create_task(self._publish())]
        if self.leases is not None:
            self._tasks.append(asyncio.create_task(self.leases.run()))

    async def close(self) -> None:
        self._stopping = True
        self.manager.close()
        for task in self._tasks:
            task.cancel()  # redis-py may swallow a cancel inside execute(); the loops check _stopping too
        await asyncio.wait(self._tasks)

    # -- actions ---------------------------------------------------------------------------------

    async def action(self, fields: Mapping[str, Any], timeout: float | None = None, *, as_list: bool | None = None) -> Any:
        """Send one action once logged in; the reply ``Message`` (or list, for event-list actions).

        Raises ``AmiTimeout`` when not logged in or not answered within
        ``timeout``, and ``AmiError`` on ``Response: Error``.
        """
        limit = self.action_timeout if timeout is None else timeout
        name = fields.get("Action", "?")
        action = None
        try:
            async with asyncio.timeout(limit):
                await self.logged_in.wait()
                action = Action(dict(fields), as_list=as_list)
                reply = await self.manager.send_action(action, as_list=as_list)
        except TimeoutError:
            if action is not None:
                self.manager.forget(action)
            raise AmiTimeout(f"AMI {name} on {self.pbx.name}: no reply within {limit:.1f}s") from None
        first = reply[0] if isinstance(reply, list) else reply
        if getattr(first, "response", "") == "Error":
            raise AmiError(f"AMI {name} on {self.pbx.name} failed: {first.message}")
        return reply

    async def originate(self, channel: str, *, context: str, exten: str, priority: int = 1,
                        caller_id: str = "", variables: Mapping[str, str] | None = None,
                        ring_timeout_ms: int = 30_000, wait_answer: bool = False) -> Any:
        """Place a call (voice alerts). ``wait_answer`` waits for ``OriginateResponse`` too."""
        fields: dict[str, Any] = {"Action": "Originate", "Channel": channel, "Context": context, "Exten": exten,
                                  "Priority": priority, "Async": "true", "Timeout": ring_timeout_ms}
        if caller_id:
            fields["CallerID"] = caller_id
        if variables:
            fields["Variable"] = [f"{k}={v}" for k, v in variables.items()]
        timeout = self.action_timeout + (ring_timeout_ms / 1000 if wait_answer else 0)
        return await self.action(fields, timeout, as_list=bool(wait_answer))

    async def redirect(self, channel: str, *, context: str, exten: str, priority: int = 1) -> Any:
        """Send a live channel elsewhere in the dialplan (a FastAGI on it sees ``HANGUP``)."""
        return await self.action({"Action": "Redirect", "Channel": channel, "Context": context,
                                  "Exten": exten, "Priority": priority})

    # -- supervision -----------------------------------------------------------------------------

    def _logged_in(self, _manager: Any) -> None:
        log.info("AMI logged in", pbx=self.pbx.name, host=self.pbx.host)
        self.logged_in.set()
        if self.leases is not None:
            self._tasks.append(asyncio.create_task(self._resync()))

    async def _resync(self) -> None:
        """Rebuild the live-channel set from the PBX (events were missed while disconnected)."""
        try:
            reply = await self.action({"Action": "CoreShowChannels"}, as_list=True)
        except AmiError as exc:
            log.warning("cannot list channels after login; leases lapse on their TTL", pbx=self.pbx.name,
                        error=str(exc))
            return
        live = {m.get("Uniqueid") for m in reply if m.get("Event") == "CoreShowChannel" and m.get("Uniqueid")}
        await self.leases.resync(live)  # type: ignore[union-attr]

    def _disconnected(self, _manager: Any, exc: Any) -> None:
        self.logged_in.clear()
        self.reconnects += 1
        log.warning("AMI connection lost; reconnecting", pbx=self.pbx.name, error=str(exc) if exc else None)

    async def _watchdog(self) -> None:
        """Abort a connection that does not log in, or whose Ping goes unanswered."""
        while not self._stopping:
            await asyncio.sleep(self.ping_interval)
            if not self.logged_in.is_set():
                try:
                    await asyncio.wait_for(self.logged_in.wait(), self.login_timeout)
                except TimeoutError:
                    log.warning("AMI not logged in in time; dropping the connection", pbx=self.pbx.name,
                                timeout_s=self.login_timeout)
                    self.manager.abort()
                continue
            try:
                reply = await self.action({"Action": "Ping"}, self.ping_timeout)
            except AmiError as exc:
                log.warning("AMI ping unanswered; dropping the connection", pbx=self.pbx.name, error=str(exc))
                self.logged_in.clear()
                self.manager.abort()
                continue
            if getattr(reply, "ping", "") != "Pong":
                log.warning("AMI ping got an odd reply", pbx=self.pbx.name, reply=repr(reply)[:200])

    # -- events ----------------------------------------------------------------------------------

    def _on_event(self, _manager: Any, message: Any) -> None:
        try:  # M6: an exception here would kill panoramisk's connection (it dispatches inside data_received)
            event = normalize(message, tenant=self.pbx.tenant, pbx=self.pbx.name, now=self.clock())
        except Exception:
            log.exception("cannot normalize AMI event; skipped", pbx=self.pbx.name, ami_event=message.get("Event"))
            return
        if event is None:
            return
        if self.leases is not None and event.kind is PbxEventKind.CHANNEL_CREATED:
            self.leases.channel_up(event.call_id)
        try:
            self.events.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.error("AMI event queue full; dropping events", pbx=self.pbx.name, dropped=self.dropped)

    async def _publish(self) -> None:
        """XADD events in batches; a Redis outage is logged and retried, never fatal."""
        stream = pbx_events_stream(self.pbx.tenant)
        while not self._stopping:
            batch = [await self.events.get()]
            while not self.events.empty() and len(batch) < 500:
                batch.append(self.events.get_nowait())
            while not self._stopping:
                try:
                    async with self.redis.pipeline(transaction=False) as pipe:
                        for event in batch:
                            pipe.xadd(stream, event.to_fields(), maxlen=STREAM_MAXLEN, approximate=True)
                        await pipe.execute()
                    break
                except (RedisError, OSError) as exc:
                    log.warning("cannot write PBX events; retrying", pbx=self.pbx.name, count=len(batch), error=str(exc))
                    await asyncio.sleep(1.0)
            for event in batch:
                if event.kind is PbxEventKind.HANGUP and self.leases is not None:
                    await self.leases.channel_down(event.call_id)
