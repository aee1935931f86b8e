"""The res_agi simulator answers the recorded commands with the recorded bytes.

For each recorded FastAGI connection the simulator is scripted like the recorder
(which keys, when the other leg hung up) and fed the recorded command lines;
its output between two commands must equal what Asterisk sent, ``endpos``
values and the text of usage replies aside. Lines the simulator does not model
(over 8191 bytes, which Asterisk splits) are left out.
"""

from __future__ import annotations

import re

import pytest

from tests.sim.asterisk_agi import AsteriskChannel, Caller
from tests.sim.transcripts import Recording, load

SCRIPTED = {
    "fastagi-basic#1": Caller(keys=["", "2", "500#", "", "123", "7", "", "1"], missing_files=frozenset({"no-such-file"})),
    "fastagi-basic#2": Caller(),
    "fastagi-errors#1": Caller(keys=["", ""]),
    "fastagi-hangup#1": Caller(hangup_on=2),
    "fastagi-hangup#2": Caller(hangup_when_idle_after=1),
    "fastagi-hangup#3": Caller(hangup_on=2, agisighup=False),
    "fastagi-hangup#4": Caller(hangup_when_idle_after=0, exit_on_hangup=True),
    "fastagi-hangup#5": Caller(hangup_on=1, exit_on_hangup=True),
    "fastagi-status#3": Caller(missing_files=frozenset({"no-such-file"})),
    "fastagi-status#4": Caller(hangup_when_idle_after=0),
    "fastagi-status#5": Caller(),
}


def _normal(data: bytes) -> bytes:
    data = re.sub(rb" endpos=\d+", b" endpos=N", data)
    return re.sub(rb"520-[^\n]*\n(?:.*\n)*?520 [^\n]*\n", b"<usage>", data)


def _exchanges(rec: Recording) -> list[tuple[bytes, bytes]]:
    """(command line, everything Asterisk sent until the next command), after the header."""
    out: list[tuple[bytes, bytes]] = []
    header_done = False
    for chunk in rec.chunks:
        if chunk.dir == "H":
            out.append((chunk.data, b""))
        elif chunk.dir == "A" and out:
            out[-1] = (out[-1][0], out[-1][1] + chunk.data)
        elif chunk.dir == "#" and chunk.data.startswith(b"app: shutdown"):
            break  # the goodbye HANGUP after our half-close is the driver's part
        header_done = header_done or chunk.dir == "A"
    return out


@pytest.mark.parametrize("name", sorted(SCRIPTED))
def test_simulator_answers_like_the_recorded_asterisk(name: str) -> None:
    rec = {r.name: r for r in load(name.split("#")[0])}[name]
    header = rec.wire("A").split(b"\n\n", 1)[0].decode()
    fields = dict(line.split(": ", 1) if ": " in line else (line.rstrip(":"), "") for line in header.splitlines())
    channel = AsteriskChannel(fields["agi_network_script"], SCRIPTED[name], uniqueid=fields["agi_uniqueid"],
                              channel_name=fields["agi_channel"])
    compared = 0
    for line, recorded in _exchanges(rec):
        if len(line) > 8191 or channel.closed:
            continue
        answer = b"".join(data for _, data in channel.handle(line[:-1]))
        assert _normal(answer) == _normal(recorded), line
        compared += 1
    assert compared >= 1
