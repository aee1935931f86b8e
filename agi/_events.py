"""What an Asterisk AGI peer can say to us (events), and the errors of the AGI room.

Events are frozen dataclasses so tests compare them with ``==``. Text is decoded
as UTF-8 with ``surrogateescape``: Asterisk passes raw bytes through (a Latin-1
``caf\\xe9`` round-trips), and re-encoding the same way gives the bytes back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, unquote

__all__ = [
    "NEED_DATA",
    "AgiError",
    "AgiLocalError",
    "AgiRemoteError",
    "ConnectionClosed",
    "Environment",
    "Event",
    "HangupNotice",
    "NeedData",
    "Reply",
    "UsageReply",
]

Hint = Literal["hangup", "fail"]


class AgiError(Exception):
    """Base of the AGI room's errors; ``hint`` tells the driver what to do next.

    ``hint="hangup"``: the call is gone (or the socket is), stop quietly and
    record a hang-up. ``hint="fail"``: the dialogue is broken; log it with the
    call id, let the dialplan fall back, and close this session only.
    """

    def __init__(self, message: str, *, hint: Hint = "fail") -> None:
        super().__init__(message)
        self.hint: Hint = hint


class AgiLocalError(AgiError):
    """We misused the protocol: a command after the socket closed, a NUL or CR in a command,
    a line over Asterisk's 8191-byte buffer, a second command while one is in flight."""


class AgiRemoteError(AgiError):
    """Asterisk (or whatever connected to us) sent bytes that are not AGI: a malformed
    environment line, an oversized header, an unsolicited reply, a garbage line, or
    EOF in the middle of a line (EOF between lines is the channel going away: ``ConnectionClosed``)."""


class NeedData(enum.Enum):
    """``next_event()`` has no complete event yet: read more bytes and call ``receive_data``."""

    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return self.value


NEED_DATA = NeedData.NEED_DATA


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class Environment:
    """The ``agi_*`` header block Asterisk sends first, in its order.

    ``variables`` keeps every ``agi_<key>`` without the prefix
    (``variables["uniqueid"]``); ``args`` are the ``agi_arg_N`` values in order
    (empty arguments kept). Spawned AGI has no ``network_script``: the driver
    takes the script from ``argv`` instead.
    """

    variables: dict[str, str]
    args: tuple[str, ...] = ()

    def get(self, key: str, default: str = "") -> str:
        return self.variables.get(key, default)

    @property
    def uniqueid(self) -> str:
        return self.get("uniqueid")

    @property
    def channel(self) -> str:
        return self.get("channel")

    @property
    def callerid(self) -> str:
        """Caller number; Asterisk writes ``unknown`` when there is none, which becomes ``""``."""
        value = self.get("callerid")
        return "" if value == "unknown" else value

    @property
    def network_script(self) -> str:
        """Raw text after ``agi://host[:port]/``, query string included, not URL-decoded."""
        return self.get("network_script")

    @property
    def script_path(self) -> str:
        """``network_script`` without its query string, URL-decoded, without surrounding slashes."""
        path, _, _ = self.network_script.partition("?")
        return unquote(path).strip("/")

    @property
    def query(self) -> dict[str, str]:
        """Query parameters of ``network_script`` (last one wins), URL-decoded."""
        _, _, query = self.network_script.partition("?")
        return dict(parse_qsl(query, keep_blank_values=True))


@dataclass(frozen=True, slots=True)
class Reply:
    """One single-line reply: ``<code> result=<result> [(data)] [endpos=<n>] [text]``.

    ``result`` stays text: GET DATA returns the digits there (``"0123"`` keeps
    its zero, ``"12*"`` its star) and an empty string with ``data="timeout"``.
    ``data`` runs from the first ``(`` to the last ``)``, as res_agi writes it.
    For 510/511/503 without ``result=``, ``result`` is ``""`` and ``text`` holds
    the message. ``code == 100`` is provisional (GOSUB's ``Trying...``); the
    final reply follows.
    """

    code: int
    result: str = ""
    data: str | None = None
    endpos: int | None = None
    text: str = ""

    @property
    def number(self) -> int | None:
        """``result`` as an integer, or ``None`` when it is empty or not a number."""
        try:
            return int(self.result)
        except ValueError:
            return None

    @property
    def dead_channel(self) -> bool:
        return self.code == 511


@dataclass(frozen=True, slots=True)
class UsageReply:
    """A 520 reply: the command had the wrong syntax. ``lines`` are all its lines, first to last."""

    lines: tuple[str, ...]
    code: int = field(default=520, init=False)


@dataclass(frozen=True, slots=True)
class HangupNotice:
    """Asterisk's unprompted ``HANGUP`` line: the channel hung up (or was redirected away).

    It is not a reply: it may come between replies, right after ``200 result=-1``,
    twice in a row with AGIEXITONHANGUP, or after we half-close.
    """


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer closed the socket at a point where that is legal; ``next_event`` keeps returning it."""


Event = Environment | Reply | UsageReply | HangupNotice | ConnectionClosed
