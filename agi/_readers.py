"""Turn bytes from Asterisk into AGI events.

Strategy: the receive buffer hands out whole events only. A reader takes the
buffer and returns an event, ``None`` ("need more bytes") or raises
``AgiRemoteError``; it never blocks and never loops on a readline. The
buffer remembers how far it has already scanned, so a peer that drips one byte
at a time costs linear work, and a peer that never finishes an event hits a
size cap instead of growing memory or spinning.

Two readers cover the protocol:

* ``read_environment``: ``agi_<key>: <value>`` lines up to an empty line.
* ``read_reply``: one line (``200 ...``, ``510 ...``, ``511 ...``, ``HANGUP``,
  a one-line ``520 ...``), or a multi-line 520 that starts with ``520-`` and
  ends at the first later line starting with ``520 `` (its usage text arrives
  in a separate TCP segment ~40 ms later, and its length varies by command).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from agi._events import AgiRemoteError, Environment, HangupNotice, Reply, UsageReply, _text

__all__ = ["ReceiveBuffer", "read_environment", "read_reply", "KNOWN_CODES"]

#: Reply codes res_agi writes: 100 provisional (GOSUB), 200 ok, 503 out of memory,
#: 510 unknown command, 511 dead channel, 520 usage.
KNOWN_CODES = frozenset({100, 200, 503, 510, 511, 520})

_ENV_KEY = re.compile(rb"agi_[a-z0-9_]+\Z")
_REPLY = re.compile(rb"(\d{3})(?: (.*))?\Z", re.DOTALL)


class ReceiveBuffer:
    """Bytes received but not yet turned into events."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._scanned_to = 0  # start of the first line not yet looked at
        self._lines: list[bytes] = []  # complete lines looked at, not yet part of an event

    def __len__(self) -> int:
        return len(self._data)

    def __bytes__(self) -> bytes:
        return bytes(self._data)

    def feed(self, data: bytes) -> None:
        self._data += data

    def extract_lines(self, is_last: Callable[[bytes, bool], bool], limit: int, what: str) -> list[bytes] | None:
        """Remove and return the lines (without ``\\n``) up to the first one where
        ``is_last(line, is_first_line)`` holds; ``None`` if that line is not complete yet.

        Raises ``AgiRemoteError`` once the incomplete event exceeds ``limit`` bytes.
        """
        while True:
            newline = self._data.find(b"\n", self._scanned_to)
            if newline < 0:
                if len(self._data) > limit:
                    raise AgiRemoteError(f"{what} exceeds {limit} bytes without ending; is the peer Asterisk?")
                return None
            line = bytes(self._data[self._scanned_to : newline])
            self._scanned_to = newline + 1
            if self._scanned_to > limit:
                raise AgiRemoteError(f"{what} exceeds {limit} bytes without ending; is the peer Asterisk?")
            first = not self._lines
            self._lines.append(line)
            if is_last(line, first):
                lines, self._lines = self._lines, []
                del self._data[: self._scanned_to]
                self._scanned_to = 0
                return lines


def _env_ends(line: bytes, first: bool) -> bool:
    """Checks each line as it arrives, so a stranger (HTTP, TLS) is turned away at once."""
    if line == b"" and not first:
        return True
    key, sep, _ = line.partition(b":")
    if not sep or not _ENV_KEY.match(key):
        raise AgiRemoteError(f"malformed AGI environment line {line[:80]!r}; expected 'agi_<key>: <value>'")
    return False


def read_environment(buf: ReceiveBuffer, limit: int) -> Environment | None:
    """The ``agi_*`` block; ``None`` until its empty line has arrived."""
    lines = buf.extract_lines(_env_ends, limit, "AGI environment")
    if lines is None:
        return None
    variables: dict[str, str] = {}
    args: list[str] = []
    for raw in lines[:-1]:
        key, _, value = raw.partition(b":")
        name = _text(key[4:])
        text = _text(value[1:] if value.startswith(b" ") else value)
        if name.startswith("arg_") and name[4:].isdigit():
            args.append(text)
        else:
            variables[name] = text
    return Environment(variables, tuple(args))


def _reply_ends(line: bytes, first: bool) -> bool:
    if first:
        return not line.startswith(b"520-")
    return line.startswith(b"520 ")


def read_reply(buf: ReceiveBuffer, limit: int) -> Reply | UsageReply | HangupNotice | None:
    """One reply or ``HANGUP`` notice; ``None`` until it is complete."""
    lines = buf.extract_lines(_reply_ends, limit, "AGI reply")
    if lines is None:
        return None
    if len(lines) > 1 or lines[0].startswith(b"520"):
        return UsageReply(tuple(_text(line) for line in lines))
    line = lines[0]
    if line == b"HANGUP":
        return HangupNotice()
    return parse_reply_line(line)


def parse_reply_line(line: bytes) -> Reply:
    """Parse ``<code> result=<r> [(data)] [endpos=<n>] [text]`` the way res_agi writes it."""
    match = _REPLY.match(line)
    code = int(match.group(1)) if match else 0
    if code not in KNOWN_CODES:
        raise AgiRemoteError(f"not an AGI reply: {line[:80]!r}")
    rest = _text(match.group(2) or b"")  # type: ignore[union-attr]
    if not rest.startswith("result="):
        return Reply(code, text=rest)
    result, _, tail = rest[len("result=") :].partition(" ")
    data = None
    opening, closing = tail.find("("), tail.rfind(")")
    if 0 <= opening < closing:
        data = tail[opening + 1 : closing]
        tail = tail[:opening] + " " + tail[closing + 1 :]
    endpos = None
    words = []
    for word in tail.split(" "):
        if word.startswith("endpos=") and word[7:].lstrip("-").isdigit():
            endpos = int(word[7:])
        elif word:
            words.append(word)
    return Reply(code, result, data, endpos, " ".join(words))
