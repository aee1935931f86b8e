"""What ``EslConnection.next_event`` returns, and the errors of the esl room.

Strategy: one frozen, slotted dataclass per kind of frame mod_event_socket
writes (``AuthRequest``, ``CommandReply``, ``ChannelData``, ``ApiResponse``,
``Event``, ``DisconnectNotice``, ``RudeRejection``, ``LogData``), plus
``UnparsedFrame`` for a header block that is well delimited but not a frame
(FreeSWITCH echoing a raw multi-line ``getvar`` value does that) and
``ConnectionClosed`` for EOF between frames. Header values are already
URL-decoded where FreeSWITCH encodes them (event bodies and the ``connect``
reply) and raw where it does not (``Reply-Text`` of ordinary replies).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import ClassVar

__all__ = [
    "NEED_DATA",
    "ApiResponse",
    "AuthRequest",
    "ChannelData",
    "CommandReply",
    "ConnectionClosed",
    "DisconnectNotice",
    "EslError",
    "EslLocalError",
    "EslRemoteError",
    "Event",
    "FrameEvent",
    "LogData",
    "NeedData",
    "RudeRejection",
    "UnparsedFrame",
]


class EslError(Exception):
    """Base of the esl room's errors; ``hint`` tells the driver what to do with the session.

    ``"close"``: end the session (log it with the call id); ``"retry"``: a
    connection-level client may reconnect.
    """

    hint: ClassVar[str] = "close"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint  # type: ignore[misc]


class EslLocalError(EslError):
    """We misused the connection: a command after the session closed, a newline inside a header value."""


class EslRemoteError(EslError):
    """FreeSWITCH (or whatever is on the socket) broke the framing: frame boundaries are lost for good."""


class NeedData(enum.Enum):
    """``next_event`` has no complete frame yet: feed more bytes with ``receive_data``."""

    NEED_DATA = "need-data"


NEED_DATA = NeedData.NEED_DATA


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """``Content-Type: auth/request``: the first frame on an inbound connection; answer with ``auth``."""


@dataclass(frozen=True, slots=True)
class CommandReply:
    """``Content-Type: command/reply`` answering ``command`` (its first word, lower case)."""

    command: str
    text: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.text.startswith("+OK")

    @property
    def job_uuid(self) -> str:
        """The ``Job-UUID`` of a ``bgapi`` reply ('' for other replies)."""
        return self.headers.get("Job-UUID", "")


@dataclass(frozen=True, slots=True)
class ChannelData:
    """The reply to ``connect`` on an outbound socket: the channel's headers (``CHANNEL_DATA``), decoded."""

    headers: dict[str, str]

    @property
    def unique_id(self) -> str:
        return self.headers.get("Unique-ID", "")

    @property
    def reply_text(self) -> str:
        return self.headers.get("Reply-Text", "").strip()

    @property
    def async_mode(self) -> bool:
        return self.headers.get("Socket-Mode") == "async"

    @property
    def full_control(self) -> bool:
        return self.headers.get("Control") == "full"

    def variable(self, name: str) -> str | None:
        return self.headers.get("variable_" + name)


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """``Content-Type: api/response``: the text an ``api`` command printed (often without a final newline)."""

    command: str
    body: str

    @property
    def ok(self) -> bool:
        return not self.body.startswith("-ERR")


@dataclass(frozen=True, slots=True)
class Event:
    """A FreeSWITCH event in any format (``plain``, ``json``, ``xml``): headers by name, plus its body."""

    name: str
    headers: dict[str, str]
    body: str = ""
    format: str = "plain"

    def get(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)

    def variable(self, name: str) -> str | None:
        return self.headers.get("variable_" + name)

    @property
    def unique_id(self) -> str:
        return self.headers.get("Unique-ID", "")

    @property
    def subclass(self) -> str:
        return self.headers.get("Event-Subclass", "")


@dataclass(frozen=True, slots=True)
class DisconnectNotice:
    """``Content-Type: text/disconnect-notice``.

    ``disposition`` is ``"linger"`` (the channel hung up; the session stays
    open until ``exit`` or the linger time), ``"disconnect"`` (FreeSWITCH closes
    the socket right after) or ``""`` (inbound connections: closing too).
    """

    disposition: str
    headers: dict[str, str]
    body: str = ""

    @property
    def linger(self) -> bool:
        return self.disposition == "linger"

    @property
    def linger_time(self) -> int | None:
        value = self.headers.get("Linger-Time")
        return int(value) if value and value.lstrip("-").isdigit() else None


@dataclass(frozen=True, slots=True)
class RudeRejection:
    """``Content-Type: text/rude-rejection``: the event socket's ACL refused us; the socket closes next."""

    body: str


@dataclass(frozen=True, slots=True)
class LogData:
    """``Content-Type: log/data`` (after the ``log`` command)."""

    headers: dict[str, str]
    body: str


@dataclass(frozen=True, slots=True)
class UnparsedFrame:
    """A header block that is not a frame (no ``Content-Type``, a line without ``:``, an unknown type,
    an event body that does not parse). Frame boundaries are intact; ``reason`` says what was wrong."""

    reason: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer closed the connection between two frames."""


FrameEvent = (
    AuthRequest | CommandReply | ChannelData | ApiResponse | Event | DisconnectNotice | RudeRejection | LogData
    | UnparsedFrame | ConnectionClosed
)
