"""One outbound ESL session on a blocking socket: commands with timeouts, applications matched by id.

Strategy: the socket is read only inside ``_next``, which feeds
``esl.framing`` and enforces a deadline on every wait, so a peer that goes
silent costs at most the timeout. Every frame passes through ``_note``, which
keeps what the driver asks about later: the channel's variables (every channel
event carries all of them, so the latest such event is the current set), DTMF
keys in order, CHANNEL_EXECUTE_COMPLETE events by ``Application-UUID``, and
whether the caller hung up. Executes are sent with ``event-lock`` and their own
``Event-UUID``, possibly several back to back (``execute_all``), and a
completion is found by that id, never by order.

Works on any socket object with ``recv``, ``sendall``, ``settimeout`` and
``close``: gevent's (``hotline esl``) or the standard library's (tests).

Errors: ``CallGone`` (the caller hung up, or FreeSWITCH ended the session),
``SessionTimeout`` (FreeSWITCH went silent), ``EslRemoteError`` (bad frames,
including ``UnparsedFrame``), ``CommandFailed`` (a ``-ERR`` reply).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from esl import commands
from esl.framing import (
    NEED_DATA,
    ApiResponse,
    ChannelData,
    CommandReply,
    ConnectionClosed,
    DisconnectNotice,
    EslConnection,
    EslError,
    EslRemoteError,
    Event,
    Role,
    UnparsedFrame,
)
from esl.framing import Command as EslCommand
from hotline.logs import get_logger

__all__ = ["CallGone", "Channel", "CommandFailed", "SessionTimeout"]

READ_SIZE = 65536
log = get_logger(__name__)


class CallGone(EslError):
    """The caller hung up (``cause`` from CHANNEL_HANGUP) or FreeSWITCH closed the session."""

    def __init__(self, message: str, cause: str = "") -> None:
        super().__init__(message)
        self.cause = cause


class SessionTimeout(EslError):
    """Nothing arrived from FreeSWITCH before the deadline."""


class CommandFailed(EslError):
    """FreeSWITCH answered a command with ``-ERR``."""


class Channel:
    """The channel an outbound socket controls, through its session."""

    def __init__(self, sock: Any, *, reply_timeout: float = 5.0, clock: Callable[[], float] = time.monotonic,
                 new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        self.sock, self.reply_timeout, self.clock, self.new_id = sock, reply_timeout, clock, new_id
        self.conn = EslConnection(Role.OUTBOUND)
        self.started = clock()
        self.data: ChannelData | None = None
        self._latest: dict[str, str] = {}  # headers of the newest event that carries the channel's variables
        self.dtmf: list[str] = []
        self.hangup_cause: str | None = None
        self.gone = ""  # why the session ended ("" while it lives)
        self.completions: dict[str, Event] = {}
        self._replies: list[CommandReply | ApiResponse | ChannelData] = []

    @property
    def uuid(self) -> str:
        return self.data.unique_id if self.data else ""

    def elapsed_ms(self) -> int:
        return int((self.clock() - self.started) * 1000)

    def variable(self, name: str) -> str | None:
        return self._latest.get("variable_" + name)

    # -- reading --------------------------------------------------------------------------------

    def _next(self, deadline: float, what: str) -> None:
        """Read and note one frame; raises ``SessionTimeout`` past ``deadline``."""
        while True:
            event = self.conn.next_event()
            if event is not NEED_DATA:
                self._note(event)
                return
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise SessionTimeout(f"FreeSWITCH sent nothing for {what} in time (session {self.uuid or 'new'})")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(READ_SIZE)
            except TimeoutError:
                continue
            except OSError as exc:
                self.gone = self.gone or f"socket error: {exc}"
                data = b""
            self.conn.receive_data(data)

    def _note(self, event: object) -> None:
        if isinstance(event, (CommandReply, ApiResponse, ChannelData)):
            self._replies.append(event)
            if isinstance(event, ChannelData):
                self.data = event
                self._latest = event.headers
        elif isinstance(event, Event):
            if event.unique_id and self.data and event.unique_id != self.uuid:
                return  # another leg's event (a bridge): not ours
            if "variable_uuid" in event.headers:
                self._latest = event.headers
            if event.name == "CHANNEL_EXECUTE_COMPLETE":
                self.completions[event.get("Application-UUID")] = event
            elif event.name == "DTMF":
                self.dtmf.append(event.get("DTMF-Digit"))
            elif event.name == "CHANNEL_HANGUP" and self.hangup_cause is None:
                self.hangup_cause = event.get("Hangup-Cause") or "NORMAL_CLEARING"
        elif isinstance(event, DisconnectNotice):
            if not event.linger:
                self.gone = self.gone or "FreeSWITCH sent a disconnect notice"
            elif self.hangup_cause is None:
                self.hangup_cause = "NORMAL_CLEARING"
        elif isinstance(event, ConnectionClosed):
            self.gone = self.gone or "FreeSWITCH closed the socket"
        elif isinstance(event, UnparsedFrame):
            raise EslRemoteError(f"FreeSWITCH sent a frame that is not one: {event.reason}")

    def _check_alive(self, during_hangup: bool = False) -> None:
        if self.gone:
            raise CallGone(self.gone, self.hangup_cause or "")
        if self.hangup_cause is not None and not during_hangup:
            raise CallGone(f"the caller hung up ({self.hangup_cause})", self.hangup_cause)

    def _reply(self, deadline: float, what: str) -> CommandReply | ApiResponse | ChannelData:
        while not self._replies:
            if self.gone:
                raise CallGone(f"{self.gone} before replying to {what}", self.hangup_cause or "")
            self._next(deadline, f"the reply to {what}")
        return self._replies.pop(0)

    # -- commands -------------------------------------------------------------------------------

    def send(self, *cmds: EslCommand) -> None:
        wire = b"".join(self.conn.send(c) for c in cmds)
        try:
            self.sock.sendall(wire)
        except OSError as exc:
            self.gone = self.gone or f"socket error: {exc}"
            raise CallGone(f"cannot write to FreeSWITCH: {exc}", self.hangup_cause or "") from exc

    def command(self, cmd: EslCommand, timeout: float | None = None) -> CommandReply | ApiResponse | ChannelData:
        """Send one command and return its reply; ``CommandFailed`` on ``-ERR``."""
        self.send(cmd)
        reply = self._reply(self.clock() + (timeout or self.reply_timeout), cmd.word)
        if isinstance(reply, CommandReply) and reply.text.startswith("-ERR"):
            raise CommandFailed(f"FreeSWITCH refused {cmd.line!r}: {reply.text}")
        return reply

    def connect(self) -> ChannelData:
        """``connect`` then ``myevents`` and ``linger``: the channel's data, and its events from now on."""
        data = self.command(commands.connect())
        assert isinstance(data, ChannelData)
        self.command(commands.myevents())
        self.command(commands.linger())
        return data

    def api(self, command: str, timeout: float | None = None) -> str:
        reply = self.command(commands.api(command), timeout)
        return reply.body if isinstance(reply, ApiResponse) else reply.text  # type: ignore[union-attr]

    def start_all(self, apps: Sequence[tuple[str, str]]) -> str:
        """Queue ``apps`` (name, argument) back to back with event-lock; returns the last one's id."""
        ids = [self.new_id() for _ in apps]
        self.send(*(commands.execute(app, arg, event_uuid=i) for (app, arg), i in zip(apps, ids)))
        deadline = self.clock() + self.reply_timeout
        for app, _ in apps:
            reply = self._reply(deadline, f"execute {app}")
            if isinstance(reply, CommandReply) and not reply.ok:
                raise CommandFailed(f"FreeSWITCH refused to execute {app}: {reply.text}")
        return ids[-1]

    def completion(self, app_id: str, timeout: float, what: str, *, through_hangup: bool = False) -> Event | None:
        """The CHANNEL_EXECUTE_COMPLETE of ``app_id``, or ``None`` if it has not come within ``timeout``.

        Raises ``CallGone`` as soon as the caller hangs up, unless ``through_hangup``
        (then the completion the hang-up sequence carries is returned).
        """
        deadline = self.clock() + timeout
        while app_id not in self.completions:
            self._check_alive(through_hangup)
            try:
                self._next(deadline, what)
            except SessionTimeout:
                return None
        return self.completions.pop(app_id)

    def execute_all(self, apps: Sequence[tuple[str, str]], timeout: float, *, through_hangup: bool = False) -> Event:
        """``start_all`` then wait for the last app; ``SessionTimeout`` if it does not finish in time."""
        done = self.completion(self.start_all(apps), timeout, apps[-1][0], through_hangup=through_hangup)
        if done is None:
            raise SessionTimeout(f"{apps[-1][0]} did not finish within {timeout:g} s (session {self.uuid})")
        return done

    def execute(self, app: str, arg: str = "", timeout: float | None = None, **kw: bool) -> Event:
        return self.execute_all([(app, arg)], timeout or self.reply_timeout, **kw)

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        self.command(commands.hangup(cause))

    def close(self) -> None:
        """``exit`` if the session still lives (FreeSWITCH then continues the dialplan), then close."""
        try:
            if not self.gone and self.data is not None:
                self.command(commands.exit_(), timeout=min(1.0, self.reply_timeout))
        except EslError as exc:  # already gone or silent: closing the socket ends the session as well
            log.info("exit not acknowledged, closing the socket", reason=str(exc))
        finally:
            self.sock.close()
