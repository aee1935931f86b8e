"""The FreeSWITCH event socket protocol as a pure state machine (h11 style): no sockets, no clock.

Three calls make up the surface::

    conn = EslConnection(Role.OUTBOUND)      # FreeSWITCH connected to us (socket app)
    wire = conn.send(connect())              # bytes to write
    conn.receive_data(data)                  # bytes read; b"" means EOF
    event = conn.next_event()                # a frame event, or NEED_DATA

``next_event`` returns ``AuthRequest``, ``CommandReply``, ``ChannelData``,
``ApiResponse``, ``Event``, ``DisconnectNotice``, ``RudeRejection``,
``LogData``, ``UnparsedFrame``, ``ConnectionClosed`` (once, at EOF between
frames) or ``NEED_DATA``. It raises ``EslRemoteError`` when frame boundaries
are lost (then the state is ``ERROR`` for good). ``send`` raises
``EslLocalError`` for a command the session can no longer take. Any other
exception is a bug.

Replies are matched to commands in order: mod_event_socket answers every
command exactly once, in the order received, with one exception that this
machine models: on an outbound socket, commands sent before ``connect`` get
no reply at all. A driver that stops waiting for a reply (timeout) cannot
know which later reply is whose: it must end the session.

Strategy: ``_readers`` cuts frames and parses bodies; this module classifies
replies against the commands sent and moves the state through
``TRANSITIONS``, a table a test can print.
"""

from __future__ import annotations

import enum
from collections import deque

from esl._events import (
    NEED_DATA,
    ApiResponse,
    AuthRequest,
    ChannelData,
    CommandReply,
    ConnectionClosed,
    DisconnectNotice,
    EslError,
    EslLocalError,
    EslRemoteError,
    Event,
    FrameEvent,
    LogData,
    NeedData,
    RudeRejection,
    UnparsedFrame,
)
from esl._readers import Frame, ReceiveBuffer, decoded, parse_body, read_frame
from esl.commands import Command

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_HEADER_BYTES",
    "NEED_DATA",
    "TRANSITIONS",
    "ApiResponse",
    "AuthRequest",
    "ChannelData",
    "Command",
    "CommandReply",
    "ConnectionClosed",
    "DisconnectNotice",
    "EslConnection",
    "EslError",
    "EslLocalError",
    "EslRemoteError",
    "Event",
    "LogData",
    "Role",
    "RudeRejection",
    "State",
    "Trigger",
    "UnparsedFrame",
    "describe_transitions",
]

MAX_HEADER_BYTES = 1 << 20
"""A CHANNEL_DATA header block is ~6 KB; SIP headers can grow it, a peer that never ends one cannot."""
MAX_BODY_BYTES = 16 << 20


class Role(enum.StrEnum):
    """Who connected: FreeSWITCH's socket app to us (``OUTBOUND``) or we to its event socket (``INBOUND``)."""

    OUTBOUND = "outbound"
    INBOUND = "inbound"


class State(enum.StrEnum):
    """Where the session is; ``ERROR`` and ``CLOSED`` are final."""

    START = "start"  # outbound: send connect; inbound: wait for auth/request
    CONNECTING = "connecting"  # outbound: connect sent, waiting for the channel data
    AUTH_WAIT = "auth_wait"  # inbound: auth/request received, send auth
    AUTHENTICATING = "authenticating"  # inbound: auth sent
    READY = "ready"  # commands and events flow
    LINGERING = "lingering"  # outbound: the channel hung up; the socket stays until exit or the linger time
    CLOSING = "closing"  # a disconnect notice, -ERR invalid or +OK bye: FreeSWITCH closes next
    CLOSED = "closed"  # EOF
    ERROR = "error"  # frame boundaries lost


class Trigger(enum.StrEnum):
    SEND_CONNECT = "send connect"
    CHANNEL_DATA = "channel data"
    AUTH_REQUEST = "auth/request"
    SEND_AUTH = "send auth"
    AUTH_ACCEPTED = "+OK accepted"
    AUTH_REFUSED = "-ERR to auth"
    LINGER_NOTICE = "linger notice"
    DISCONNECT_NOTICE = "disconnect notice"
    BYE = "+OK bye"
    EOF = "eof"


TRANSITIONS: dict[tuple[Role, State, Trigger], State] = {
    (Role.OUTBOUND, State.START, Trigger.SEND_CONNECT): State.CONNECTING,
    (Role.OUTBOUND, State.CONNECTING, Trigger.CHANNEL_DATA): State.READY,
    (Role.OUTBOUND, State.READY, Trigger.LINGER_NOTICE): State.LINGERING,
    (Role.INBOUND, State.START, Trigger.AUTH_REQUEST): State.AUTH_WAIT,
    (Role.INBOUND, State.AUTH_WAIT, Trigger.SEND_AUTH): State.AUTHENTICATING,
    (Role.INBOUND, State.AUTHENTICATING, Trigger.AUTH_ACCEPTED): State.READY,
    (Role.INBOUND, State.AUTHENTICATING, Trigger.AUTH_REFUSED): State.CLOSING,
}
"""Everything that moves the state, except what is the same for both roles and every live state:
a disconnect notice (not ``linger``) or ``+OK bye`` → ``CLOSING``; EOF → ``CLOSED``."""

_LIVE = (State.START, State.CONNECTING, State.AUTH_WAIT, State.AUTHENTICATING, State.READY, State.LINGERING)
for _role in Role:
    for _state in _LIVE:
        TRANSITIONS[(_role, _state, Trigger.DISCONNECT_NOTICE)] = State.CLOSING
        TRANSITIONS[(_role, _state, Trigger.BYE)] = State.CLOSING
    for _state in (*_LIVE, State.CLOSING):
        TRANSITIONS[(_role, _state, Trigger.EOF)] = State.CLOSED


def describe_transitions() -> str:
    """The table, one ``role: state --trigger--> state`` line each, for tests and docs."""
    return "\n".join(f"{role}: {a} --{t}--> {b}" for (role, a, t), b in TRANSITIONS.items())


class EslConnection:
    """One event-socket session seen from Hotline's side (both roles send commands and read frames)."""

    def __init__(self, role: Role, *, max_header: int = MAX_HEADER_BYTES, max_body: int = MAX_BODY_BYTES) -> None:
        self.role = role
        self.state = State.START
        self.max_header, self.max_body = max_header, max_body
        self._buf = ReceiveBuffer()
        self._pending: deque[str] = deque()  # words of the commands still owed a reply
        self._closed_reported = False

    def __repr__(self) -> str:
        return f"<EslConnection {self.role} {self.state} pending={list(self._pending)}>"

    @property
    def pending(self) -> tuple[str, ...]:
        """Commands sent and not yet answered, oldest first."""
        return tuple(self._pending)

    def _move(self, trigger: Trigger) -> None:
        self.state = TRANSITIONS.get((self.role, self.state, trigger), self.state)

    # -- sending ------------------------------------------------------------------------------

    def send(self, command: Command) -> bytes:
        """The bytes for ``command``; raises ``EslLocalError`` if the session cannot take it."""
        if self.state in (State.CLOSING, State.CLOSED, State.ERROR):
            raise EslLocalError(f"cannot send {command.word!r}: the session is {self.state}")
        word = command.word
        if self.role is Role.OUTBOUND and self.state is State.START and word != "connect":
            raise EslLocalError(f"send connect before {word!r}: FreeSWITCH never answers a command sent before it")
        if self.role is Role.OUTBOUND and word == "connect" and self.state is not State.START:
            raise EslLocalError("connect was already sent")
        wire = command.encode()
        self._pending.append(word)
        if word == "connect":
            self._move(Trigger.SEND_CONNECT)
        elif word == "auth" and self.state is State.AUTH_WAIT:
            self._move(Trigger.SEND_AUTH)
        return wire

    # -- receiving ----------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes read from the socket; ``b""`` means the peer closed it."""
        if self._buf.eof and data:
            raise EslLocalError("receive_data after EOF")
        if data:
            self._buf.feed(data)
        else:
            self._buf.eof = True

    def next_event(self) -> FrameEvent | NeedData:
        """The next event, or ``NEED_DATA``; see the module docstring for what it may raise."""
        if self.state is State.ERROR:
            raise EslRemoteError("the connection already failed; frame boundaries are lost")
        try:
            frame = read_frame(self._buf, self.max_header, self.max_body)
        except EslRemoteError:
            self.state = State.ERROR
            raise
        if frame is None:
            if self._buf.eof and not self._closed_reported:
                self._closed_reported = True
                self._move(Trigger.EOF)
                return ConnectionClosed()
            return NEED_DATA
        return self._classify(frame)

    def _classify(self, frame: Frame) -> FrameEvent:
        if frame.junk:
            return UnparsedFrame(frame.junk, frame.raw + frame.body)
        content_type = (frame.header("Content-Type") or "").strip().lower()
        if content_type in ("command/reply", "api/response"):
            return self._reply(frame, content_type)
        event = parse_body(frame, content_type)
        if isinstance(event, AuthRequest):
            self._move(Trigger.AUTH_REQUEST)
        elif isinstance(event, DisconnectNotice):
            self._move(Trigger.LINGER_NOTICE if event.linger else Trigger.DISCONNECT_NOTICE)
        return event

    def _reply(self, frame: Frame, content_type: str) -> FrameEvent:
        if not self._pending:
            self.state = State.ERROR
            raise EslRemoteError(f"FreeSWITCH sent a {content_type} that answers no command")
        word = self._pending.popleft()
        if content_type == "api/response":
            return ApiResponse(word, frame.body.decode("utf-8", "replace"))
        headers = dict(frame.headers)
        if word == "connect":
            # The connect reply is the channel serialized as an event: every value is URL-encoded.
            self._move(Trigger.CHANNEL_DATA)
            return ChannelData(decoded(frame.headers))
        reply = CommandReply(word, headers.get("Reply-Text", ""), headers)
        if word == "auth":
            self._move(Trigger.AUTH_ACCEPTED if reply.ok else Trigger.AUTH_REFUSED)
        elif word == "exit" and reply.ok:
            self._move(Trigger.BYE)
        return reply

