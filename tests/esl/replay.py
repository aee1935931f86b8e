"""Load the recorded FreeSWITCH transcripts and replay them through ``EslConnection`` (protocol tests).

Each ``tests/transcripts/esl-*.raw.jsonl`` holds several connections, each
starting at a ``connection: ...`` recorder note. ``H`` chunks (what the
recorder sent) are split into commands the way mod_event_socket reads them
(``tests.sim.freeswitch.parse_command``: leading blank lines skipped, CRLF
accepted, ``content-length`` bodies) and registered with ``send()``; a
command ``send()`` refuses is logged as refused (FreeSWITCH never answered
those). ``F`` chunks are fed whole, one byte at a time, or with the first bytes
of the next ``F`` chunk trailing behind them. An ``EOF`` note feeds ``b""``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

from esl.framing import NEED_DATA, EslConnection, EslLocalError, EslRemoteError, Role
from tests.sim.freeswitch import parse_command

TRANSCRIPTS = Path(__file__).resolve().parent.parent / "transcripts"
ESL_FILES = ("esl-outbound-basic", "esl-outbound-hangup", "esl-outbound-errors", "esl-inbound")
MODES = ("whole", "bytewise", "trailing")
TRAIL = 12


@dataclass(frozen=True)
class Chunk:
    t: int
    dir: str
    data: bytes


@dataclass
class Recording:
    """One connection of one transcript file; ``role`` from its ``connection:`` note."""

    name: str
    role: Role
    chunks: list[Chunk] = field(default_factory=list)

    def wire(self, direction: str) -> bytes:
        return b"".join(c.data for c in self.chunks if c.dir == direction)


def load(scenario: str) -> list[Recording]:
    recordings: list[Recording] = []
    for line in (TRANSCRIPTS / f"{scenario}.raw.jsonl").read_text().splitlines():
        obj = json.loads(line)
        chunk = Chunk(obj["t"], obj["dir"], base64.b64decode(obj["b64"]))
        if chunk.dir == "#" and chunk.data.startswith(b"connection:"):
            role = Role.INBOUND if b"inbound connection" in chunk.data else Role.OUTBOUND
            recordings.append(Recording(f"{scenario}#{len(recordings) + 1}", role))
        recordings[-1].chunks.append(chunk)
    return recordings


def esl_recordings() -> list[Recording]:
    return [r for scenario in ESL_FILES for r in load(scenario)]


@dataclass
class Replay:
    log: list[tuple]
    conn: EslConnection


def _drain(conn: EslConnection, log: list[tuple]) -> None:
    while True:
        try:
            event = conn.next_event()
        except EslRemoteError as exc:
            log.append(("remote-error", str(exc)))
            return
        if event is NEED_DATA:
            return
        log.append(("event", event))


def _feed(conn: EslConnection, data: bytes, mode: str, log: list[tuple]) -> None:
    if mode == "bytewise":
        for i in range(len(data)):
            conn.receive_data(data[i:i + 1])
            _drain(conn, log)
    else:
        conn.receive_data(data)
        _drain(conn, log)


def replay(rec: Recording, mode: str = "whole") -> Replay:
    conn = EslConnection(rec.role)
    log: list[tuple] = []
    sent = bytearray()
    carried = 0  # bytes of this F chunk already fed as the previous chunk's trailer
    for i, chunk in enumerate(rec.chunks):
        if chunk.dir == "H":
            sent += chunk.data
            while (parsed := parse_command(sent)) is not None:
                command, used = parsed
                del sent[:used]
                try:
                    conn.send(command)
                    log.append(("sent", command.line))
                except EslLocalError as exc:
                    log.append(("refused", command.line, str(exc)))
        elif chunk.dir == "#" and chunk.data.startswith(b"EOF"):
            conn.receive_data(b"")
            _drain(conn, log)
        elif chunk.dir == "F":
            data = chunk.data[carried:]
            carried = 0
            following = rec.chunks[i + 1] if i + 1 < len(rec.chunks) else None
            if mode == "trailing" and following is not None and following.dir == "F":
                carried = min(TRAIL, len(following.data) - 1)
                data += following.data[:carried]
            _feed(conn, data, mode, log)
    return Replay(log, conn)


def events(log: list[tuple]) -> list[object]:
    return [entry[1] for entry in log if entry[0] == "event"]
