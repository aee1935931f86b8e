"""Reading mod_event_socket frames out of a byte buffer.

Strategy: a frame is a header block of ``Name: value\\n`` lines ending in an
empty line (LF only), then exactly ``Content-Length`` bytes of body when that
header is present. ``read_frame`` returns a ``Frame`` once all of it is
buffered and ``None`` ("need more") before; it never loops on a socket. The
search for the end of the header block resumes where the previous call
stopped, so feeding one byte at a time stays linear. What the body means
depends on ``Content-Type`` (``parse_body``): URL-encoded header lines for
``text/event-plain`` (with an inner ``Content-Length`` body), one JSON object
without a trailing newline for ``text/event-json``, ``<event><headers>`` for
``text/event-xml``, plain text otherwise.

Only a lost frame boundary raises ``EslRemoteError``: a ``Content-Length``
that is not a number, a header block or body over its limit, EOF inside a
frame. Anything else odd (no ``Content-Type``, a line without ``:``, a body
that does not parse) is an ``UnparsedFrame`` and the next frame is read
normally.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import unquote
from xml.etree import ElementTree

from esl._events import (
    ApiResponse,
    AuthRequest,
    DisconnectNotice,
    EslRemoteError,
    Event,
    FrameEvent,
    LogData,
    RudeRejection,
    UnparsedFrame,
)

__all__ = ["Frame", "ReceiveBuffer", "decoded", "parse_body", "read_frame"]

_DIGITS = re.compile(rb"[0-9]{1,12}")


class ReceiveBuffer:
    """Bytes received and not yet consumed; remembers how far the header search got."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.searched = 0  # no b"\n\n" ends before this offset
        self.eof = False

    def __len__(self) -> int:
        return len(self.data)

    def feed(self, data: bytes) -> None:
        self.data += data

    def take(self, n: int) -> bytes:
        out = bytes(self.data[:n])
        del self.data[:n]
        self.searched = 0
        return out


@dataclass(frozen=True, slots=True)
class Frame:
    """One complete frame: its header lines (undecoded), body bytes and raw header block."""

    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes
    junk: str = ""  # why the header block is not a proper frame ("" when it is)

    def header(self, name: str) -> str | None:
        """Case-insensitive lookup, as FreeSWITCH's own switch_event_get_header does."""
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)


def _split_headers(block: bytes) -> tuple[list[tuple[str, str]], str]:
    headers, junk = [], ""
    for line in block.decode("utf-8", "replace").split("\n"):
        name, colon, value = line.partition(":")
        if colon:
            headers.append((name.strip(), value.lstrip(" ")))
        elif line:
            junk = junk or f"header line without ':': {line[:40].encode()!r}"
    return headers, junk


def read_frame(buf: ReceiveBuffer, max_header: int, max_body: int) -> Frame | None:
    """The next complete frame, or ``None`` if more bytes are needed; raises ``EslRemoteError``."""
    data = buf.data
    start = 0
    while start < len(data) and data[start] == 0x0A:  # blank lines between frames carry nothing
        start += 1
    end = data.find(b"\n\n", max(start, buf.searched - 1))
    if end < 0:
        buf.searched = len(data)
        if len(data) - start > max_header:
            raise EslRemoteError(f"header block longer than {max_header} bytes without an empty line")
        if buf.eof and len(data) > start:
            raise EslRemoteError(f"connection closed in the middle of a header block ({len(data) - start} bytes)")
        return None
    block = bytes(data[start:end])
    if len(block) > max_header:
        raise EslRemoteError(f"header block of {len(block)} bytes is over the {max_header}-byte limit")
    headers, junk = _split_headers(block)
    length = next((v for k, v in headers if k.lower() == "content-length"), None)
    size = 0
    if length is not None:
        raw_length = length.strip().encode()
        if not _DIGITS.fullmatch(raw_length):
            raise EslRemoteError(f"Content-Length {length[:20]!r} is not a byte count")
        size = int(raw_length)
        if size > max_body:
            raise EslRemoteError(f"Content-Length {size} is over the {max_body}-byte body limit")
    have = len(data) - (end + 2)
    if have < size:
        buf.searched = end  # resume here: the header block is complete, the body is not
        if buf.eof:
            raise EslRemoteError(f"connection closed in the middle of a body ({have} of {size} bytes)")
        return None
    raw = buf.take(end + 2)[start:]
    body = buf.take(size)
    return Frame(headers, body, raw, junk)


def decoded(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Header values URL-decoded, as FreeSWITCH encodes them in serialized events."""
    return {name: unquote(value) if "%" in value else value for name, value in pairs}


def _plain_event(body: bytes) -> Event:
    head, sep, rest = body.partition(b"\n\n")
    pairs, junk = _split_headers(head)
    if junk:
        raise ValueError(junk)
    headers = decoded(pairs)
    inner = headers.get("Content-Length")
    text = ""
    if sep and inner is not None:
        if not inner.isdigit() or int(inner) > len(rest):
            raise ValueError(f"inner Content-Length {inner!r} does not fit the {len(rest)} bytes left")
        text = rest[: int(inner)].decode("utf-8", "replace")
    return Event(headers.get("Event-Name", ""), headers, text, "plain")


def _json_event(body: bytes) -> Event:
    obj = json.loads(body)
    if not isinstance(obj, dict):
        raise ValueError("event-json body is not a JSON object")  # noqa: TRY004 - caught as a bad body
    text = obj.pop("_body", "")
    headers = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in obj.items()}
    return Event(headers.get("Event-Name", ""), headers, text if isinstance(text, str) else json.dumps(text), "json")


def _xml_event(body: bytes) -> Event:
    root = ElementTree.fromstring(body)
    section = root.find("headers")
    if root.tag != "event" or section is None:
        raise ValueError("event-xml body is not <event><headers>...")
    headers = {child.tag: unquote(child.text or "") for child in section}
    found = root.find("body")
    text = found.text or "" if found is not None else ""
    return Event(headers.get("Event-Name", ""), headers, text, "xml")


_EVENT_PARSERS = {"text/event-plain": _plain_event, "text/event-json": _json_event, "text/event-xml": _xml_event}


def parse_body(frame: Frame, content_type: str) -> FrameEvent:
    """The event for a frame that is not a command reply (those depend on what was sent)."""
    text = frame.body.decode("utf-8", "replace")
    if content_type in _EVENT_PARSERS:
        try:
            return _EVENT_PARSERS[content_type](frame.body)
        except (ValueError, ElementTree.ParseError) as exc:
            return UnparsedFrame(f"{content_type} body does not parse: {exc}", frame.raw + frame.body)
    if content_type == "auth/request":
        return AuthRequest()
    if content_type == "api/response":
        return ApiResponse("", text)
    if content_type == "text/disconnect-notice":
        headers = dict(frame.headers)
        return DisconnectNotice(headers.get("Content-Disposition", ""), headers, text)
    if content_type == "text/rude-rejection":
        return RudeRejection(text)
    if content_type == "log/data":
        return LogData(dict(frame.headers), text)
    return UnparsedFrame(f"unknown Content-Type {content_type!r}" if content_type else "no Content-Type",
                         frame.raw + frame.body)
