"""The Asterisk AGI protocol as a state machine with no I/O (FastAGI and spawned AGI alike).

Strategy: three calls make the whole surface, as in h11. ``receive_data(bytes)``
only buffers (``b""`` means EOF). ``next_event()`` returns one event or
``NEED_DATA``. ``send(command)`` returns the bytes to write. Everything that
moves the state lives in ``TRANSITIONS`` below; a (state, trigger) pair that is
not in the table is a protocol error, local when we caused it (``send``),
remote when Asterisk did (``next_event``). ERROR is sticky.

What the recorded res_agi does, and how it maps here:

* ``HANGUP`` is an event, not a reply: it may come while idle, while a command
  is in flight, after ``200 result=-1``, twice before EOF (AGIEXITONHANGUP), or
  after we half-close. The channel state goes to HUNG_UP; replies still come.
* ``511`` means the channel is dead even when no ``HANGUP`` line is sent
  (AGISIGHUP=no, spawned AGI), so it moves to HUNG_UP too.
* A multi-line ``520`` is one ``UsageReply``; ``100 Trying...`` is provisional.
* EOF is the channel going away, whenever it comes between lines: between
  replies, after a hang-up, or before the reply to a command in flight (with
  AGIEXITONHANGUP Asterisk closes the socket at hang-up, and with AGISIGHUP=no
  it sends no ``HANGUP`` first, so a command in flight never gets its reply).
  EOF in the middle of a line is a remote error.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from agi._events import (
    NEED_DATA,
    AgiError,
    AgiLocalError,
    AgiRemoteError,
    ConnectionClosed,
    Environment,
    Event,
    HangupNotice,
    NeedData,
    Reply,
    UsageReply,
)
from agi._readers import ReceiveBuffer, read_environment, read_reply
from agi._writers import MAX_LINE_BYTES, Command, encode_line, quote_arg

__all__ = [
    "MAX_LINE_BYTES",
    "NEED_DATA",
    "TRANSITIONS",
    "AgiConnection",
    "AgiError",
    "AgiLocalError",
    "AgiRemoteError",
    "Command",
    "ConnectionClosed",
    "Environment",
    "Event",
    "HangupNotice",
    "NeedData",
    "Reply",
    "State",
    "Trigger",
    "UsageReply",
    "describe_transitions",
    "quote_arg",
]


class State(enum.StrEnum):
    ENV = "ENV"  # waiting for the agi_* header
    IDLE = "IDLE"  # channel up, nothing in flight
    AWAITING_REPLY = "AWAITING_REPLY"  # channel up, one command in flight
    HUNG_UP = "HUNG_UP"  # channel gone (HANGUP or 511), nothing in flight
    HUNG_UP_AWAITING_REPLY = "HUNG_UP_AWAITING_REPLY"  # channel gone, one command in flight
    CLOSED = "CLOSED"  # peer closed the socket
    ERROR = "ERROR"  # protocol broken; sticky


class Trigger(enum.StrEnum):
    ENVIRONMENT = "Environment"
    SEND = "send()"
    REPLY = "Reply/UsageReply"
    PROVISIONAL = "Reply 100"
    DEAD_CHANNEL = "Reply 511"
    HANGUP_NOTICE = "HangupNotice"
    EOF = "EOF"


S, T = State, Trigger
#: (state, trigger) -> next state. Anything missing is a protocol error.
TRANSITIONS: dict[tuple[State, Trigger], State] = {
    (S.ENV, T.ENVIRONMENT): S.IDLE,
    (S.ENV, T.EOF): S.CLOSED,
    (S.IDLE, T.SEND): S.AWAITING_REPLY,
    (S.IDLE, T.HANGUP_NOTICE): S.HUNG_UP,
    (S.IDLE, T.EOF): S.CLOSED,
    (S.AWAITING_REPLY, T.REPLY): S.IDLE,
    (S.AWAITING_REPLY, T.PROVISIONAL): S.AWAITING_REPLY,
    (S.AWAITING_REPLY, T.DEAD_CHANNEL): S.HUNG_UP,
    (S.AWAITING_REPLY, T.HANGUP_NOTICE): S.HUNG_UP_AWAITING_REPLY,
    (S.AWAITING_REPLY, T.EOF): S.CLOSED,
    (S.HUNG_UP, T.SEND): S.HUNG_UP_AWAITING_REPLY,
    (S.HUNG_UP, T.HANGUP_NOTICE): S.HUNG_UP,
    (S.HUNG_UP, T.EOF): S.CLOSED,
    (S.HUNG_UP_AWAITING_REPLY, T.REPLY): S.HUNG_UP,
    (S.HUNG_UP_AWAITING_REPLY, T.PROVISIONAL): S.HUNG_UP_AWAITING_REPLY,
    (S.HUNG_UP_AWAITING_REPLY, T.DEAD_CHANNEL): S.HUNG_UP,
    (S.HUNG_UP_AWAITING_REPLY, T.HANGUP_NOTICE): S.HUNG_UP_AWAITING_REPLY,
    (S.HUNG_UP_AWAITING_REPLY, T.EOF): S.CLOSED,
}
del S, T

_HUNG_UP_STATES = frozenset({State.HUNG_UP, State.HUNG_UP_AWAITING_REPLY, State.CLOSED})


def describe_transitions() -> str:
    """The table as text, one ``STATE --trigger--> STATE`` per line (for docs and tests)."""
    width = max(len(s) for s, _ in TRANSITIONS)
    return "\n".join(f"{s:<{width}} --{t}--> {n}" for (s, t), n in TRANSITIONS.items())


_CODE_TRIGGERS = {100: Trigger.PROVISIONAL, 511: Trigger.DEAD_CHANNEL}


def _trigger(event: Event) -> Trigger:
    kind = type(event)
    if kind is Reply:
        return _CODE_TRIGGERS.get(event.code, Trigger.REPLY)  # type: ignore[union-attr]
    if kind is HangupNotice:
        return Trigger.HANGUP_NOTICE
    if kind is Environment:
        return Trigger.ENVIRONMENT
    return Trigger.REPLY


class AgiConnection:
    """One AGI session seen from the application side.

    ``max_env_bytes`` caps the header block and ``max_reply_bytes`` one reply
    (a 520 usage text included), so a peer that never finishes fails with
    ``AgiRemoteError`` instead of growing memory.
    """

    def __init__(self, *, max_env_bytes: int = 65536, max_reply_bytes: int = 65536) -> None:
        self.state = State.ENV
        self.pending: Command | str | bytes | None = None  # the command in flight, for messages
        self.environment: Environment | None = None
        self._buf = ReceiveBuffer()
        self._eof = False
        self._max_env = max_env_bytes
        self._max_reply = max_reply_bytes

    def __repr__(self) -> str:
        return f"<AgiConnection {self.state} pending={str(self.pending) if self.pending else None!r}>"

    @property
    def hung_up(self) -> bool:
        """True once Asterisk said the channel is gone (HANGUP, 511) or closed the socket."""
        return self.state in _HUNG_UP_STATES

    def _move(self, trigger: Trigger, error: type[AgiError], detail: Callable[[], str]) -> None:
        new = TRANSITIONS.get((self.state, trigger))
        if new is None:
            was = self.state
            if was is State.CLOSED:  # terminal already; nothing more to break
                raise error(f"{detail()}: the AGI socket is closed", hint="hangup")
            self.state = State.ERROR
            raise error(f"{detail()} (AGI state {was})", hint="fail")
        self.state = new

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes read from the peer; ``b""`` means the peer closed its side."""
        if self._eof and data:
            raise AgiLocalError("receive_data() after EOF")
        if data:
            self._buf.feed(data)
        else:
            self._eof = True

    def next_event(self) -> Event | NeedData:
        """The next event, or ``NEED_DATA`` when more bytes are needed.

        Returns ``Environment`` (once, first), ``Reply``, ``UsageReply``,
        ``HangupNotice``, or ``ConnectionClosed`` (for ever, once closed).
        Raises ``AgiRemoteError`` when the peer broke the protocol; the state
        is then ERROR and every later call raises again. Anything else is a bug.
        """
        if self.state is State.ERROR:
            raise AgiRemoteError("AGI connection already failed; close it")
        if self.state is State.CLOSED:
            return ConnectionClosed()
        try:
            if self.state is State.ENV:
                event: Event | None = read_environment(self._buf, self._max_env)
            else:
                event = read_reply(self._buf, self._max_reply)
        except AgiRemoteError:
            self.state = State.ERROR
            raise
        if event is None:
            return self._no_event()
        trigger = _trigger(event)
        self._move(trigger, AgiRemoteError, lambda: f"unexpected {_describe(event)}")
        if trigger is Trigger.ENVIRONMENT:
            self.environment = event  # type: ignore[assignment]
        elif trigger is Trigger.REPLY or trigger is Trigger.DEAD_CHANNEL:
            self.pending = None
        return event

    def _no_event(self) -> ConnectionClosed | NeedData:
        if not self._eof:
            return NEED_DATA
        if len(self._buf):
            self.state = State.ERROR
            what = "the AGI environment" if self.environment is None else "a reply line"
            raise AgiRemoteError(f"peer closed the socket in the middle of {what}: {bytes(self._buf)[:80]!r}")
        self._move(Trigger.EOF, AgiRemoteError, lambda: "EOF")
        self.pending = None
        return ConnectionClosed()

    def send(self, command: Command | str | bytes) -> bytes:
        """Bytes to write for ``command``; one command may be in flight at a time.

        Raises ``AgiLocalError`` before the environment was read, while a reply
        is awaited, after close (hint ``hangup``) or for a line res_agi would
        mangle (NUL, CR, LF, 8191+ bytes, empty).
        """
        data = encode_line(command)
        self._move(Trigger.SEND, AgiLocalError, lambda: f"cannot send {str(command)[:60]!r} now")
        self.pending = command
        return data


def _describe(event: Event) -> str:
    if isinstance(event, Reply):
        return f"reply {event.code} result={event.result!r} with no command in flight"
    if isinstance(event, UsageReply):
        return "520 usage reply with no command in flight"
    return type(event).__name__
