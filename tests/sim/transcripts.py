"""Load the recorded Asterisk transcripts (``tests/transcripts/*.raw.jsonl``) as byte chunks.

Each ``.raw.jsonl`` holds several connections one after the other. A new one
starts at the recorder's ``app: accept()`` note (FastAGI), ``spawned: argv=``
note (spawned AGI) or at the AMI banner. Chunks keep their TCP read
boundaries; ``dir`` is ``"A"`` (Asterisk to us), ``"H"`` (us to Asterisk) or
``"#"`` (recorder note, not on the wire).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

TRANSCRIPTS = Path(__file__).resolve().parent.parent / "transcripts"
AGI_FILES = ("fastagi-basic", "fastagi-errors", "fastagi-hangup", "fastagi-status", "agi-spawned")
_STARTS = (b"app: accept()", b"spawned: argv=")


@dataclass(frozen=True)
class Chunk:
    t: int
    dir: str
    data: bytes


@dataclass
class Recording:
    """One connection of one transcript file."""

    name: str
    chunks: list[Chunk] = field(default_factory=list)

    def notes(self) -> list[str]:
        return [c.data.decode() for c in self.chunks if c.dir == "#"]

    def wire(self, direction: str) -> bytes:
        return b"".join(c.data for c in self.chunks if c.dir == direction)


def load(scenario: str) -> list[Recording]:
    """Connections of ``<scenario>.raw.jsonl``, named ``<scenario>#<n>``."""
    recordings: list[Recording] = []
    for line in (TRANSCRIPTS / f"{scenario}.raw.jsonl").read_text().splitlines():
        obj = json.loads(line)
        chunk = Chunk(obj["t"], obj["dir"], base64.b64decode(obj["b64"]))
        starts = (chunk.dir == "#" and chunk.data.startswith(_STARTS)) or (
            chunk.dir == "A" and chunk.data.startswith(b"Asterisk Call Manager/")
        )
        if starts or not recordings:
            recordings.append(Recording(f"{scenario}#{len(recordings) + 1}"))
        recordings[-1].chunks.append(chunk)
    return recordings


def agi_recordings() -> list[Recording]:
    return [r for scenario in AGI_FILES for r in load(scenario)]

