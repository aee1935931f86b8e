"""Replay a recorded AGI connection through ``AgiConnection`` (helpers for the protocol tests).

``H`` chunks go through ``send()`` and must produce exactly the recorded bytes;
a line ``send()`` refuses (NUL, CR, empty, too long) is logged as refused, and
the Asterisk bytes that answered it are skipped, since we never put such a line
on the wire. ``A`` chunks are fed whole, one byte at a time, or with the start of
the next chunk's first line trailing behind them. An ``EOF`` note feeds ``b""``.
"""

from __future__ import annotations

from dataclasses import dataclass

from agi.protocol import NEED_DATA, AgiConnection, AgiLocalError, AgiRemoteError
from tests.sim.transcripts import Recording

MODES = ("whole", "bytewise", "trailing")


@dataclass
class Replay:
    log: list[tuple]
    conn: AgiConnection


def _drain(conn: AgiConnection, log: list[tuple]) -> None:
    while True:
        try:
            event = conn.next_event()
        except AgiRemoteError as exc:
            log.append(("remote-error", str(exc), exc.hint))
            return
        if event is NEED_DATA:
            return
        log.append(("event", event))
        if type(event).__name__ == "ConnectionClosed":
            return


def replay(rec: Recording, mode: str = "whole") -> Replay:
    conn = AgiConnection()
    log: list[tuple] = []
    chunks = rec.chunks
    skipping = False  # Asterisk's answer to a line we refused to send
    carried = 0  # bytes of this A chunk already fed as the previous chunk's trailer
    for i, chunk in enumerate(chunks):
        if chunk.dir == "H":
            try:
                wire = conn.send(chunk.data[:-1]) if chunk.data.endswith(b"\n") else conn.send(chunk.data)
            except AgiLocalError as exc:
                log.append(("refused", chunk.data, exc.hint))
                skipping = True
                continue
            assert wire == chunk.data, (wire, chunk.data)
            skipping = False
            log.append(("sent", chunk.data))
        elif chunk.dir == "#" and chunk.data.startswith(b"EOF"):
            conn.receive_data(b"")
            _drain(conn, log)
        elif chunk.dir == "A" and not skipping:
            data = chunk.data[carried:]
            carried = 0
            if mode == "bytewise":
                for byte in data:
                    conn.receive_data(bytes([byte]))
                    _drain(conn, log)
                continue
            if mode == "trailing":
                nxt = next((c for c in chunks[i + 1 :] if c.dir != "#"), None)
                if nxt is not None and nxt.dir == "A":
                    carried = max(0, min(len(nxt.data) - 1, nxt.data.find(b"\n")))
                    data += nxt.data[:carried]
            conn.receive_data(data)
            _drain(conn, log)
    return Replay(log, conn)


def events(log: list[tuple]) -> list:
    return [entry[1] for entry in log if entry[0] == "event"]
