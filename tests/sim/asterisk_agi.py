"""A simulated Asterisk 22 res_agi, scriptable per test: what the caller presses and when they hang up.

Behaviour copied from tests/transcripts (see ASTERISK.md there):

* the header burst on connect (spawned AGI: no ``agi_network*`` lines);
* one ``\\n``-terminated reply per command; STREAM FILE ``result=<ascii> endpos=``,
  GET DATA digits / ``result= (timeout)``, WAIT FOR DIGIT ascii or 0, GET VARIABLE
  ``result=1 (v)`` / ``result=0``, 510 for unknown or empty lines, a multi-line 520
  sent in two segments for a wrong argument count, 511 for media commands on a
  dead channel (checked before the syntax);
* a caller hang-up during a media command answers ``200 result=-1`` and sends
  ``HANGUP`` a little later; while idle, ``HANGUP`` at once; AGISIGHUP=no sends
  no ``HANGUP``; AGIEXITONHANGUP sends ``HANGUP\\nHANGUP\\n`` and closes (spawned AGI: SIGHUP,
  then stdin closes), with AGISIGHUP=no it closes without a word, even while a command waits
  for its reply;
* when the application half-closes: ``HANGUP`` and close. A missing sound file
  makes AGISTATUS=FAILURE for good.

``AsteriskChannel`` holds the logic; ``call_fastagi`` drives it over TCP.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

USAGE_HEAD = b"520-Invalid command syntax.  Proper usage follows:\n"
USAGE_TAIL = b"Sets a variable to the current channel.\n520 End of proper usage.\n"
DEAD = b"511 Command Not Permitted on a dead channel or intercept routine\n"
INVALID = b"510 Invalid or unknown command\n"
_NOT_ON_DEAD = {"ANSWER", "CHANNEL STATUS", "WAIT FOR DIGIT", "STREAM FILE", "GET DATA", "GET OPTION", "RECORD FILE"}
_MEDIA = {"WAIT FOR DIGIT", "STREAM FILE", "GET DATA", "GET OPTION", "EXEC"}
_MIN_ARGS = {"STREAM FILE": 2, "GET DATA": 1, "WAIT FOR DIGIT": 1, "GET VARIABLE": 1, "SET VARIABLE": 2,
             "GET FULL VARIABLE": 1, "EXEC": 1, "GET OPTION": 2, "DATABASE GET": 2, "DATABASE PUT": 3,
             "DATABASE DEL": 2}
_KNOWN = {"ANSWER", "NOOP", "VERBOSE", "CHANNEL STATUS", "HANGUP", *_MIN_ARGS}


def parse_args(line: str) -> list[str]:
    """res_agi.c ``parse_args``: whitespace splits, double quotes group, backslash escapes."""
    args: list[str] = []
    cur: list[str] = []
    quoted = escaped = started = False
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            started = started or quoted
        elif ch in " \t" and not quoted and not escaped:
            if started:
                args.append("".join(cur))
                cur, started = [], False
        elif ch == "\\" and not escaped:
            escaped = True
        else:
            cur.append(ch)
            started, escaped = True, False
    if started:
        args.append("".join(cur))
    return args


@dataclass
class Caller:
    """What the simulated caller does.

    ``keys``: what they type at each input opportunity, in order (``"2"``, ``"500#"``); a prompt
    with escape digits is one (``""`` there: it plays to the end), a prompt without is not.
    ``hangup_on``: hang up while the application's command number N (0-based) runs.
    ``hangup_when_idle_after``: hang up right after the reply to command N (app idle).
    """

    keys: list[str] = field(default_factory=list)
    hangup_on: int | None = None
    hangup_when_idle_after: int | None = None
    agisighup: bool = True
    exit_on_hangup: bool = False
    barge_in: bool = True
    missing_files: frozenset[str] = frozenset()


@dataclass
class AsteriskChannel:
    """One channel running ``AGI(agi://.../<script>)``; ``handle`` answers one command line."""

    script: str
    caller: Caller = field(default_factory=Caller)
    uniqueid: str = "1795832832.46"
    callerid: str = "5551234"
    network: bool = True
    channel_name: str = "Local/hold@peer-00000017;1"
    variables: dict[str, str] = field(default_factory=dict)
    database: dict[tuple[str, str], str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    dead: bool = False
    failed: bool = False
    closed: bool = False
    #: spawned AGI: how the hang-up reaches the script (SIGHUP), instead of a HANGUP line
    hangup_signal: Callable[[], None] | None = None

    def header(self) -> bytes:
        lines = [("network", "yes"), ("network_script", self.script),
                 ("request", f"agi://127.0.0.1:4573/{self.script}")] if self.network else [("request", self.script)]
        lines += [("channel", self.channel_name), ("language", "en"), ("type", "Local"),
                  ("uniqueid", self.uniqueid), ("version", "22.10.1"), ("callerid", self.callerid),
                  ("calleridname", "Hotline Test"), ("callingpres", "0"), ("callingani2", "0"), ("callington", "0"),
                  ("callingtns", "0"), ("dnid", "unknown"), ("rdnis", "unknown"), ("context", "hotline-inbound"),
                  ("extension", "s"), ("priority", "2"), ("enhanced", "0.0"), ("accountcode", ""),
                  ("threadid", "140342904891072")]
        return "".join(f"agi_{k}: {v}\n" for k, v in lines).encode() + b"\n"

    @property
    def agistatus(self) -> str:
        if self.dead:
            return "HANGUP"
        return "FAILURE" if self.failed else "SUCCESS"

    def _next_keys(self) -> str:
        return self.caller.keys.pop(0) if self.caller.keys else ""

    def _hangup_notice(self) -> list[tuple[float, bytes]]:
        self.dead = True
        if self.hangup_signal is not None:
            self.hangup_signal()
            self.closed = self.caller.exit_on_hangup
            return []
        if self.caller.exit_on_hangup:
            self.closed = True
            return [(0.0, b"HANGUP\nHANGUP\n")] if self.caller.agisighup else []
        return [(0.0, b"HANGUP\n")] if self.caller.agisighup else []

    def handle(self, raw: bytes) -> list[tuple[float, bytes]]:
        """Replies to one command line (without ``\\n``), as (delay seconds, bytes) segments."""
        index = len(self.commands)
        text = raw.decode("utf-8", "surrogateescape")
        self.commands.append(text)
        if b"\x00" in raw:
            return []  # res_agi loses the reply (recorded)
        words = parse_args(text)
        name2 = " ".join(w.upper() for w in words[:2])
        name3 = " ".join(w.upper() for w in words[:3])
        name, args = ((name3, words[3:]) if name3 in _KNOWN else
                      (name2, words[2:]) if name2 in _KNOWN else
                      ((words[0].upper() if words else ""), words[1:]))
        if name not in _KNOWN:
            return [(0.0, INVALID)]
        out: list[tuple[float, bytes]] = []
        if self.caller.hangup_on == index and not self.dead:
            if name in _MEDIA:
                notice = self._hangup_notice()
                return [(0.0, b"200 result=-1\n"), *((0.01, b) for _, b in notice)]
            out += self._hangup_notice()
            if self.closed:
                return out
        if self.dead and name in _NOT_ON_DEAD:
            return out + [(0.0, DEAD)]
        if len(args) < _MIN_ARGS.get(name, 0) or (name == "SET VARIABLE" and len(args) != 2):
            return out + [(0.0, USAGE_HEAD), (0.005, USAGE_TAIL)]
        out.append((0.0, self._reply(name, args)))
        if name == "HANGUP" and not self.dead:
            out += [(0.01, b) for _, b in self._hangup_notice()]
        elif self.caller.hangup_when_idle_after == index and not self.dead:
            out += [(0.005, b) for _, b in self._hangup_notice()]
        return out

    def _reply(self, name: str, args: list[str]) -> bytes:
        if name == "STREAM FILE" or name == "GET OPTION":
            if args[0] in self.caller.missing_files:
                self.failed = True
                return b"200 result=-1 endpos=0\n"
            keys = self.caller.keys[0] if self.caller.keys and self.caller.barge_in and args[1] else None
            if keys == "":
                self.caller.keys.pop(0)
            elif keys and keys[0] in args[1]:
                rest = keys[1:]
                self.caller.keys[0:1] = [rest] if rest else []
                return f"200 result={ord(keys[0])} endpos=7520\n".encode()
            return b"200 result=0 endpos=18023\n"
        if name == "GET DATA":
            typed = self._next_keys()
            limit = int(args[2]) if len(args) > 2 and args[2].isdigit() else 1024
            digits = typed.split("#")[0][:limit]
            if "#" in typed or len(digits) >= limit:
                return f"200 result={digits}\n".encode()
            return f"200 result={digits} (timeout)\n".encode()
        if name == "WAIT FOR DIGIT":
            typed = self._next_keys()
            if len(typed) > 1:
                self.caller.keys.insert(0, typed[1:])
            return f"200 result={ord(typed[0]) if typed else 0}\n".encode()
        if name == "GET VARIABLE" or name == "GET FULL VARIABLE":
            key = args[0].strip("${}")
            value = {"CALLERID(num)": self.callerid, "CALLERID(name)": "Hotline Test", "CHANNEL": self.channel_name}.get(key)
            value = self.variables.get(key, value)
            if value is None:
                return b"200 result=1 ()\n" if name == "GET FULL VARIABLE" else b"200 result=0\n"
            raw = value.encode("utf-8", "surrogateescape")
            if name == "GET VARIABLE":
                raw = raw[:1023]  # res_agi's GET VARIABLE buffer is 1024 bytes (recorded: 5000 set, 1023 back)
            return b"200 result=1 (" + raw + b")\n"
        if name == "SET VARIABLE":
            self.variables[args[0]] = args[1]
            return b"200 result=1\n"
        if name.startswith("DATABASE"):
            key = (args[0], args[1])
            if name == "DATABASE PUT":
                self.database[key] = args[2]
            elif name == "DATABASE GET":
                value = self.database.get(key)
                return b"200 result=0\n" if value is None else f"200 result=1 ({value})\n".encode()
            else:
                self.database.pop(key, None)
            return b"200 result=1\n"
        if name == "EXEC":
            return b"200 result=-2\n" if args[0] == "NoSuchApplication" else b"200 result=0\n"
        if name == "CHANNEL STATUS":
            return b"200 result=6\n"
        if name in ("VERBOSE", "HANGUP"):
            return b"200 result=1\n"
        return b"200 result=0\n"


@dataclass
class SimResult:
    channel: AsteriskChannel
    agistatus: str
    ended: str  # "app-closed", "exit-on-hangup", "timeout", "reset"
    stderr: str = ""  # spawned AGI: what the script wrote there (Asterisk's console)

    @property
    def variables(self) -> dict[str, str]:
        return self.channel.variables

    @property
    def commands(self) -> list[str]:
        return self.channel.commands


async def call_fastagi(port: int, channel: AsteriskChannel, *, host: str = "127.0.0.1",
                       timeout: float = 10.0) -> SimResult:
    """Connect like res_agi, answer every command, return when the application closes."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(channel.header())
    ended = "timeout"
    try:
        async with asyncio.timeout(timeout):
            ended = await _serve(reader, writer, channel)
    except TimeoutError:
        pass
    except ConnectionResetError:
        ended = "reset"
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
    return SimResult(channel, channel.agistatus, ended)


async def call_spawned(argv: list[str], channel: AsteriskChannel, *, env: dict[str, str] | None = None,
                       timeout: float = 20.0, program: Sequence[str] = (sys.executable, "-m", "agi.script"),
                       ) -> tuple[SimResult, int]:
    """Run ``<program> <argv>`` the way AGI() does: header on stdin, SIGHUP on hang-up, no HANGUP line,
    stdin closed when the AGI ends; returns the result and the exit status (AGISTATUS=FAILURE when not 0)."""
    proc = await asyncio.create_subprocess_exec(
        *program, *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, **(env or {})},
    )
    stderr = asyncio.ensure_future(proc.stderr.read())
    channel.network = False
    channel.hangup_signal = lambda: proc.send_signal(signal.SIGHUP)
    proc.stdin.write(channel.header())
    ended = "timeout"
    try:
        async with asyncio.timeout(timeout):
            ended = await _serve(proc.stdout, proc.stdin, channel)
            proc.stdin.close()
            status = await proc.wait()
    except TimeoutError:
        proc.kill()
        status = await proc.wait()
    agistatus = channel.agistatus if status == 0 else "FAILURE"
    return SimResult(channel, agistatus, ended, (await stderr).decode(errors="replace")), status


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, channel: AsteriskChannel) -> str:
    while True:
        line = await reader.readline()
        if not line.endswith(b"\n"):  # the application closed (or half-closed) its side
            if not channel.closed and channel.network:
                writer.write(b"HANGUP\n")  # res_agi's goodbye, then close
            return "app-closed"
        for delay, data in channel.handle(line[:-1]):
            if delay:
                await writer.drain()
                await asyncio.sleep(delay)
            writer.write(data)
        await writer.drain()
        if channel.closed:  # AGIEXITONHANGUP
            return "exit-on-hangup"
