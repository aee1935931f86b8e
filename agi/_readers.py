"""Turn bytes from Asterisk into AGI events.

Strategy: the receive buffer hands out whole events only. A reader takes the
buffer and returns an event, ``None`` ("need more bytes") or raises
``AgiRemoteError``; it never blocks and never loops on a readline. The
buffer remembers how far it has already searched, so a peer that drips one byte
at a time costs linear work, and a peer that never finishes an event hits a
size cap instead of growing memory or spinning.

Two readers cover the protocol:

* ``read_environment``: ``agi_<key>: <value>`` lines up to an empty line. The
  usual case (the whole block in one or two reads) is one search and one regex
  over the block; while the block is incomplete, each completed line is checked
  as it arrives, so a stranger (HTTP, TLS) is turned away at its first line.
* ``read_reply``: one line (``200 ...``, ``510 ...``, ``511 ...``, ``HANGUP``,
  a one-line ``520 ...``), or a multi-line 520 that starts with ``520-`` and
  ends at the first later line starting with ``520 `` (its usage text arrives
  in a separate TCP segment ~40 ms later, and its length varies by command).
  ``200 result=<r> [(data)] [endpos=<n>]`` takes a single-regex fast path.
"""

from __future__ import annotations

import re

from agi._events import AgiRemoteError, Environment, HangupNotice, Reply, UsageReply, _text

__all__ = ["KNOWN_CODES", "ReceiveBuffer", "read_environment", "read_reply"]

#: Reply codes res_agi writes: 100 provisional (GOSUB), 200 ok, 503 out of memory,
#: 510 unknown command, 511 dead channel, 520 usage.
KNOWN_CODES = frozenset({100, 200, 503, 510, 511, 520})

_ENV_LINE = re.compile(rb"agi_[a-z0-9_]+:")
_ENV_BLOCK = re.compile(rb"(?:agi_[a-z0-9_]+:[^\n]*\n)*agi_[a-z0-9_]+:[^\n]*")
_ENV_PAIR = re.compile(r"^agi_([a-z0-9_]+): ?(.*)$", re.MULTILINE)
_OK = re.compile(rb"200 result=([-0-9*#A-D]*)(?: \((.*)\))?(?: endpos=(-?[0-9]+))?", re.DOTALL)
_REPLY = re.compile(rb"(\d{3})(?: (.*))?", re.DOTALL)


def _too_big(what: str, limit: int) -> AgiRemoteError:
    return AgiRemoteError(f"{what} exceeds {limit} bytes without ending; is the peer Asterisk?")


class ReceiveBuffer:
    """Bytes received but not yet turned into events."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._searched = 0  # no delimiter before this offset (single-line and block searches)
        self._line_start = 0  # multi-line 520: start of the first line not yet looked at
        self._lines: list[bytes] = []  # multi-line 520: lines looked at so far

    def __len__(self) -> int:
        return len(self._data)

    def __bytes__(self) -> bytes:
        return bytes(self._data)

    def startswith(self, prefix: bytes) -> bool:
        return self._data.startswith(prefix)

    def feed(self, data: bytes) -> None:
        self._data += data

    def _take(self, end: int, skip: int) -> bytes:
        out = bytes(self._data[:end])
        del self._data[: end + skip]
        self._searched = self._line_start = 0
        return out

    def extract_until(self, delimiter: bytes, limit: int, what: str) -> bytes | None:
        """Remove and return the bytes before ``delimiter`` (which is dropped), or ``None``."""
        found = self._data.find(delimiter, self._searched)
        if found < 0:
            if len(self._data) > limit:
                raise _too_big(what, limit)
            self._searched = max(0, len(self._data) - len(delimiter) + 1)
            return None
        return self._take(found, len(delimiter))

    def complete_lines_since_last_call(self) -> list[bytes]:
        """Lines completed since the previous call (for checking an incomplete block as it grows)."""
        end = self._data.rfind(b"\n")
        if end < self._line_start:
            return []
        lines = bytes(self._data[self._line_start : end]).split(b"\n")
        self._line_start = end + 1
        return lines

    def extract_multiline(self, last_prefix: bytes, limit: int, what: str) -> list[bytes] | None:
        """Remove and return the lines up to the first line (after the first) starting with ``last_prefix``."""
        while True:
            newline = self._data.find(b"\n", self._line_start)
            if newline < 0:
                if len(self._data) > limit:
                    raise _too_big(what, limit)
                return None
            line = bytes(self._data[self._line_start : newline])
            self._line_start = newline + 1
            if self._line_start > limit:
                raise _too_big(what, limit)
            self._lines.append(line)
            if len(self._lines) > 1 and line.startswith(last_prefix):
                lines, self._lines = self._lines, []
                self._take(newline, 1)
                return lines


def _bad_env_line(line: bytes) -> AgiRemoteError:
    return AgiRemoteError(f"malformed AGI environment line {line[:80]!r}; expected 'agi_<key>: <value>'")


def read_environment(buf: ReceiveBuffer, limit: int) -> Environment | None:
    """The ``agi_*`` block; ``None`` until its empty line has arrived."""
    block = buf.extract_until(b"\n\n", limit, "AGI environment")
    if block is None:
        for line in buf.complete_lines_since_last_call():
            if not _ENV_LINE.match(line):
                raise _bad_env_line(line)
        return None
    if not _ENV_BLOCK.fullmatch(block):
        raise _bad_env_line(next((ln for ln in block.split(b"\n") if not _ENV_LINE.match(ln)), block))
    variables = dict(_ENV_PAIR.findall(_text(block)))
    args = [variables.pop(name) for name in [n for n in variables if n.startswith("arg_") and n[4:].isdigit()]]
    return Environment(variables, tuple(args))


def read_reply(buf: ReceiveBuffer, limit: int) -> Reply | UsageReply | HangupNotice | None:
    """One reply or ``HANGUP`` notice; ``None`` until it is complete."""
    if buf.startswith(b"520-"):
        lines = buf.extract_multiline(b"520 ", limit, "AGI usage reply")
        return None if lines is None else UsageReply(tuple(_text(line) for line in lines))
    line = buf.extract_until(b"\n", limit, "AGI reply")
    if line is None:
        return None
    if line == b"HANGUP":
        return HangupNotice()
    if line.startswith(b"520"):
        return UsageReply((_text(line),))
    ok = _OK.fullmatch(line)
    if ok is not None:
        result, data, endpos = ok.groups()
        return Reply(200, result.decode("ascii"), None if data is None else _text(data),
                     None if endpos is None else int(endpos))
    return parse_reply_line(line)


def parse_reply_line(line: bytes) -> Reply:
    """Parse ``<code> result=<r> [(data)] [endpos=<n>] [text]`` the way res_agi writes it."""
    match = _REPLY.fullmatch(line)
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
