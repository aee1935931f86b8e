"""Turn AGI commands into the bytes res_agi expects.

Strategy: res_agi reads a command with ``fgets`` into an 8192-byte buffer and
splits it with its own ``parse_args``: whitespace separates arguments, double
quotes group, a backslash makes the next character literal, single quotes are
ordinary characters. So an argument is sent bare when it is plain, and in
double quotes with ``\\`` and ``"`` escaped otherwise (always for an empty
argument: ``STREAM FILE hello ""``). Lines end in ``\\n`` only: a CR becomes
part of the last word, a NUL loses the reply (recorded in fastagi-errors), and a
line of 8191 bytes or more is cut in two commands with two replies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agi._events import AgiLocalError

__all__ = ["MAX_LINE_BYTES", "Command", "encode_line", "quote_arg"]

#: Longest command line we send, ``\n`` included ("lines must stay under 8191 bytes").
MAX_LINE_BYTES = 8190
_PLAIN = re.compile(r'[^\s"\\]+\Z')
_FORBIDDEN = re.compile(rb"[\x00\r\n]")


def quote_arg(arg: str) -> str:
    """One argument as res_agi's ``parse_args`` will read it back."""
    if _PLAIN.match(arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class Command:
    """An AGI command: ``name`` is its words (``"STREAM FILE"``), ``args`` are quoted on the wire."""

    name: str
    args: tuple[str, ...] = ()

    def __str__(self) -> str:
        if not self.args:
            return self.name
        return self.name + " " + " ".join([quote_arg(a) for a in self.args])


def encode_line(command: Command | str | bytes) -> bytes:
    """The wire bytes of one command, ``\\n`` included.

    A ``str``/``bytes`` is taken as an already formatted line (no quoting).
    Raises ``AgiLocalError`` for an empty line, a NUL/CR/LF inside it, or a line
    that would not fit Asterisk's buffer.
    """
    line = command if isinstance(command, bytes) else str(command).encode("utf-8", "surrogateescape")
    bad = _FORBIDDEN.search(line)
    if bad is not None:
        raise AgiLocalError(f"AGI command contains {bad.group()!r}, which res_agi mishandles: {line[:60]!r}")
    if len(line) + 1 > MAX_LINE_BYTES:
        raise AgiLocalError(
            f"AGI command is {len(line) + 1} bytes; res_agi splits lines over {MAX_LINE_BYTES} bytes into two commands"
        )
    if not line.strip():
        raise AgiLocalError("empty AGI command (res_agi answers 510)")
    return line + b"\n"
