"""Every panoramisk (1.4) and pyst2 (0.5.1) fault Hotline works around, named in one place.

Strategy: Hotline uses panoramisk only for AMI (``Manager``: framing, ActionID
matching, resending unanswered actions after a reconnect). Its FastAGI side is
not used at all; the AGI protocol is ``agi.protocol``. Each fault below is
confirmed by a test in tests/agi/test_library_faults.py, which fails the day
the library fixes it, so the workaround can go.

FastAGI (``panoramisk.fast_agi``), avoided by not using it:

* F1 ``Request.send_command`` reads one line per command, so Asterisk's
  unprompted ``HANGUP`` line is taken as the reply to the command in flight and
  every later reply is off by one.
* F2 on a 520 it reads exactly one more line; the XML usage text of a 22.x
  build is many lines (and arrives ~40 ms later), so the rest is taken as the
  replies to the next commands.
* F3 ``Application.handler`` loops ``while b'\\n\\n' not in buffer: buffer +=
  await reader.read(100)``: a peer that sends half a header and closes makes
  ``read`` return ``b''`` for ever, a 100 % CPU spin; the buffer has no size cap.
* F4 no timeout anywhere (header, reply, session); ``add_route`` wraps plain
  functions with ``asyncio.coroutine``, which Python 3.11 no longer has.

pyst2, not used (the spawned AGI is ``agi.script`` on ``agi.protocol``): its
``AGI.get_result`` raises ``ValueError`` on a ``HANGUP`` line and
``AGIUnknownError`` on 511; ``asterisk.fastagi`` imports ``SocketServer`` (Python 2
only); ``AGI.__init__`` installs a SIGHUP handler and logs every line to stderr.

AMI (``panoramisk.Manager``), worked around by ``HotlineManager`` below:

* M1 ``Manager.ping`` sends ``Action: Ping`` and drops the future: a silently
  dead connection (no FIN, no RST) is never noticed. → ``ping`` is disabled and
  ``agi.ami.AmiClient`` runs a watchdog that awaits the Pong with a timeout and
  aborts the transport when it does not come.
* M2 ``send_action`` futures never time out. → ``AmiClient.action`` waits with
  a timeout and then ``forget``s the action, so a timed-out Originate is not
  silently resent after the next reconnect.
* M3 ``connect`` has no connect timeout (a black-holed host hangs it for
  ever) and reconnects at a fixed interval. → ``connect`` below adds a
  timeout and exponential backoff, reset after a successful login.
* M4 after ``close()`` a reconnect already scheduled by ``connection_lost``
  still fires. → ``connect`` does nothing once ``closing`` is set.
* M5 (noted, harmless here) each TCP read is decoded on its own with
  ``errors='ignore'`` (a UTF-8 character split across reads is dropped), and a
  message's trailing ``Value: `` header with an empty value is stripped away.
* M6 event callbacks run inside ``data_received``: one that raises is a
  "fatal error" for asyncio and the connection is dropped. → ``AmiClient``'s
  callback catches and logs everything.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from panoramisk import Manager

from hotline.logs import get_logger

__all__ = ["HotlineManager"]

log = get_logger(__name__)


class HotlineManager(Manager):
    """panoramisk's Manager with M1, M3 and M4 fixed (M2 is ``forget`` + the caller's timeout)."""

    def __init__(self, *, connect_timeout: float = 5.0, backoff_min: float = 0.5, backoff_max: float = 30.0,
                 **config: Any) -> None:
        super().__init__(**config)
        self.connect_timeout = connect_timeout
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.failures = 0
        self.closing = False
        self._connect_task: asyncio.Task[Any] | None = None

    # M3: reconnect delay as a property, because Manager reads ``self.reconnect_timeout``
    # in two places (failed connect, lost connection) and we want backoff in both.
    @property
    def reconnect_timeout(self) -> float:  # type: ignore[override]
        delay = min(self.backoff_max, self.backoff_min * (2 ** min(max(self.failures - 1, 0), 16)))
        return delay * random.uniform(0.8, 1.2)

    @reconnect_timeout.setter
    def reconnect_timeout(self, _value: float) -> None:
        """Manager.__init__ assigns the fixed interval; ignored in favour of the backoff."""

    def ping(self) -> None:
        """M1: disabled; ``AmiClient``'s watchdog pings and checks the reply."""

    def login(self, future: asyncio.Future[Any]) -> bool:
        ok = super().login(future)
        if ok:
            self.failures = 0
        else:
            log.error("AMI login refused; check the AMI user and secret", host=self.config["host"])
        return ok

    def connect(self, run_forever: bool = False, on_startup: Any = None, on_shutdown: Any = None) -> Any:
        """M3/M4: a connect attempt with a timeout, and none at all once closing."""
        if self.closing:
            return None
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        self.failures += 1  # reset by a successful login
        connect = self.loop.create_connection(
            self.config["protocol_factory"], self.config["host"], self.config["port"], ssl=self.config["ssl"]
        )
        self._connect_task = self.loop.create_task(asyncio.wait_for(connect, self.connect_timeout))
        self._connect_task.add_done_callback(self._on_connect_done)
        return self._connect_task

    def _on_connect_done(self, task: asyncio.Task[Any]) -> None:
        if self.closing:
            if not task.cancelled() and task.exception() is None:
                task.result()[0].close()
            return
        if task.cancelled():
            return
        if isinstance(task.exception(), TimeoutError):
            log.warning("AMI connect timed out", host=self.config["host"], timeout_s=self.connect_timeout)
            self.loop.call_later(self.reconnect_timeout, self.connect)
            return
        self.connection_made(task)  # panoramisk handles OSError (refused) with a reconnect

    def connection_lost(self, exc: Any) -> None:
        if not self.closing:
            super().connection_lost(exc)

    def forget(self, action: Any) -> None:
        """M2: drop an action we stopped waiting for, so a reconnect does not resend it."""
        protocol = self.protocol
        if protocol is not None:
            for key in (action.id, action.action_id):
                if key is not None:
                    protocol.responses.pop(key, None)
        try:
            self.awaiting_actions.remove(action)
        except ValueError:
            pass

    def close(self) -> None:
        self.closing = True
        if self._connect_task is not None:
            self._connect_task.cancel()
        super().close()

    def abort(self) -> None:
        """Drop the connection as if the network had; panoramisk then reconnects."""
        protocol = self.protocol
        transport = getattr(protocol, "transport", None)
        if transport is not None:
            transport.abort()
