"""Relay mode of ``hotline-agi``: hand a spawned AGI call to the FastAGI server of a running ``serve``.

Why it exists: Asterisk starts ``hotline-agi`` once per call, and loading the
engine (IVR models, router, Redis client, logging) takes about half a second
before the first command, against ~30 ms for a bare pyst2 script. A running
``hotline serve`` already holds the engine on its FastAGI port, so when that
port accepts, this process only pipes bytes to it. Hence this module imports
the standard library's ``os``, ``select``, ``socket``, ``sys``, ``time`` and
``urllib.parse`` and nothing of Hotline; ``agi.script.main`` tries it first and
runs the call in-process (``agi.inprocess``) when nothing accepts.

Where: ``HOTLINE_AGI_HOST``:``HOTLINE_AGI_PORT`` (the settings ``serve`` listens
on; default 127.0.0.1:4573), read from the environment only, since loading
``conf/hotline.yaml`` means loading pydantic-settings. When ``serve`` takes them
from that file, give the same values to Asterisk's environment.

What goes over the socket:

* the header Asterisk wrote on stdin, led by ``agi_network: yes``,
  ``agi_network_script`` and ``agi_request`` naming the script of argv the way
  FastAGI reads it (``hotline-agi demo ivr main pbx=pbx1`` → ``demo/ivr/main?pbx=pbx1``,
  each part percent-encoded, as the server URL-decodes them); every other
  ``agi_*`` line follows unchanged, in order;
* then bytes both ways, unchanged, until the server closes.

Hang-up: SIGHUP stays ignored (``agi.script``): Asterisk answers the next
command 511 or -1 and the server ends the call through its hang-up path. When
Asterisk closes our stdin or stdout (AGIEXITONHANGUP), the relay does what
res_agi does to a FastAGI server when a channel goes: writes ``HANGUP`` (at a
line boundary) and half-closes, then waits for the server to finish (it hands
the call's trajectory over) and close.

Exit status (as ``agi.script`` documents): FastAGI has no end-of-call message,
so the relay goes by who spoke last. 0 when the server closed after Asterisk
answered its last command: the outcome is in the ``HOTLINE_*`` variables its
SET VARIABLE commands left, which passed through here; 0 too when Asterisk went
away first (a hang-up). 3 (AGISTATUS=FAILURE) when no header came on stdin, or
the connection broke: reset, or closed with a command still unanswered (the
server timed out or went down mid-command). A server lost between two commands
looks like one that finished: 0 with ``HOTLINE_OUTCOME`` unset, which the
dialplan sends to the hard phones (``none``), as with FastAGI used directly.
"""

from __future__ import annotations

import os
import select
import socket
import sys
import time
from urllib.parse import quote

__all__ = ["EXIT_FAILURE", "connect", "fastagi_header", "relay"]

#: ``hotline-agi``'s exit status when the dialogue broke (AGISTATUS=FAILURE); both paths use it.
EXIT_FAILURE = 3
#: A listening ``serve`` accepts at once; a host that stays silent this long leaves the call in-process.
CONNECT_S = 0.1
HEADER_S = 5.0  # as agi.session.AgiTimeouts.header_s
MAX_HEADER_BYTES = 65536  # as agi.protocol.AgiConnection's max_env_bytes
_REWRITTEN = (b"agi_network:", b"agi_network_script:", b"agi_request:")


def connect() -> socket.socket:
    """A connection to the FastAGI server; ``OSError`` naming the address if none accepts in ``CONNECT_S``."""
    host, port = os.environ.get("HOTLINE_AGI_HOST", "127.0.0.1"), os.environ.get("HOTLINE_AGI_PORT", "4573")
    try:
        server = socket.create_connection((host, int(port)), timeout=CONNECT_S)
    except (OSError, ValueError) as exc:
        raise OSError(f"no FastAGI server at {host}:{port} ({exc})") from exc
    server.settimeout(None)
    server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # one short line each way: no Nagle wait
    return server


def relay(server: socket.socket, args: list[str], rfd: int = 0, wfd: int = 1) -> int:
    """Run the call of ``hotline-agi <args>`` on ``server``; returns the exit status (module docstring)."""
    with server:
        try:
            header, rest = _read_header(rfd)
        except (OSError, ValueError) as exc:
            print(f"hotline-agi: no AGI environment on stdin: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        try:
            server.sendall(fastagi_header(header, args, server.getpeername()[:2]) + rest)
            return _pump(server, rfd, wfd)
        except OSError as exc:
            print(f"hotline-agi: the FastAGI connection broke: {exc}", file=sys.stderr)
            return EXIT_FAILURE


def _read_header(rfd: int) -> tuple[bytes, bytes]:
    """The ``agi_*`` lines up to the empty one, and what followed; ``ValueError`` when they do not come."""
    data = b""
    deadline = time.monotonic() + HEADER_S
    while b"\n\n" not in data:
        left = deadline - time.monotonic()
        if len(data) > MAX_HEADER_BYTES or left <= 0 or not select.select([rfd], [], [], left)[0]:
            raise ValueError(f"no complete header within {HEADER_S:.0f}s and {MAX_HEADER_BYTES} bytes")
        chunk = os.read(rfd, 65536)
        if not chunk:
            raise ValueError(f"stdin closed after {len(data)} bytes")
        data += chunk
    header, _, rest = data.partition(b"\n\n")
    bad = next((line for line in header.split(b"\n") if not line.startswith(b"agi_")), None)
    if bad is not None:
        raise ValueError(f"not an AGI environment line: {bad[:80]!r}")
    return header, rest


def fastagi_header(header: bytes, args: list[str], peer: tuple[str, int]) -> bytes:
    """The spawned ``header`` as FastAGI on ``peer`` gets it for ``hotline-agi <args>`` (module docstring)."""

    def part(text: str) -> str:
        return quote(text, safe="", errors="surrogateescape")  # argv keeps undecodable bytes as surrogates

    script = "/".join(part(a) for a in args if "=" not in a)
    query = "&".join(f"{part(k)}={part(v)}" for k, _, v in (a.partition("=") for a in args if "=" in a))
    if query:
        script += f"?{query}"
    host = f"[{peer[0]}]" if ":" in peer[0] else peer[0]
    lines = [b"agi_network: yes", f"agi_network_script: {script}".encode(),
             f"agi_request: agi://{host}:{peer[1]}/{script}".encode()]
    lines += [line for line in header.split(b"\n") if not line.startswith(_REWRITTEN)]
    return b"\n".join(lines) + b"\n\n"


def _pump(server: socket.socket, rfd: int, wfd: int) -> int:
    """Copy stdin to ``server`` and ``server`` to stdout until the server closes; the exit status."""
    unanswered = False  # the server spoke last: a command waits for Asterisk's reply
    line_start = True  # Asterisk's bytes so far end a line, so a HANGUP line may follow
    asterisk = True  # Asterisk still writes our stdin and reads our stdout
    while True:
        ready = select.select([server, rfd] if asterisk else [server], [], [])[0]
        if rfd in ready:
            data = os.read(rfd, 65536)
            if data:
                server.sendall(data)
                unanswered, line_start = False, data.endswith(b"\n")
            else:
                asterisk = False
                _hang_up(server, line_start)
        if server in ready:
            data = server.recv(65536)
            if not data:
                if unanswered and asterisk:
                    print("hotline-agi: the FastAGI server closed with a command unanswered", file=sys.stderr)
                    return EXIT_FAILURE
                return 0
            unanswered = True
            if asterisk and not _write_all(wfd, data):
                asterisk = False
                _hang_up(server, line_start)


def _hang_up(server: socket.socket, line_start: bool) -> None:
    """Asterisk left the dialogue: tell the server the way res_agi tells a FastAGI server, then half-close."""
    if line_start:  # a HANGUP in the middle of a reply line would garble it; the bare EOF says enough
        server.sendall(b"HANGUP\n")
    server.shutdown(socket.SHUT_WR)


def _write_all(fd: int, data: bytes) -> bool:
    """Write all of ``data``; ``False`` when the reader has gone (EPIPE: SIGPIPE is ignored in Python)."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except OSError:
        return False
    return True
