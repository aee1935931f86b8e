"""A simulated FreeSWITCH 1.10 mod_event_socket, both directions, scriptable per test.

Behaviour copied from tests/transcripts/esl-*.txt (see esl-README.md there):

* framing: LF only, ``Content-Length`` first in events and type first in
  ``api/response``, URL-encoded values in event bodies and in the ``connect``
  reply, JSON events without a trailing newline;
* commands are read as mod_event_socket reads them (``parse_command``):
  leading blank lines skipped, CRLF accepted, ``content-length`` bodies,
  case-insensitive words; a command before ``connect`` gets no reply;
* outbound (``SimCall``: FreeSWITCH's socket app connects to the app under
  test): the ``connect`` reply with CHANNEL_DATA, ``myevents`` → CHANNEL_PARK,
  ``sendmsg`` execute → ``+OK`` then CHANNEL_EXECUTE / app events /
  CHANNEL_EXECUTE_COMPLETE with ``Application-UUID`` (= the ``Event-UUID`` sent),
  ``event-lock`` queueing, play_and_get_digits digits only in ``variable_<var>``,
  the hang-up sequence then the linger notice (``Content-Length: 0``) or the
  disconnect notice and close, ``exit`` → ``+OK bye`` + notice + close, a failed
  bridge hanging the caller up unless ``continue_on_fail=true``;
* inbound (``SimSwitch``: the app connects to the event socket): auth/request,
  ``auth``, ``event json|plain ...`` subscriptions (CUSTOM subclasses),
  ``api``, ``bgapi`` with BACKGROUND_JOB, ``stop()``/``start()`` as a restart.

Time: every duration is in FreeSWITCH milliseconds multiplied by ``scale``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from esl.framing import Command

CORE_UUID = "3734fbf7-ccfb-46f0-a368-e29a34d8fde9"
GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
_SAFE = "!$'()*,/"  # switch_url_encode leaves these (and letters, digits, -_.~) alone


# -- framing, FreeSWITCH side -----------------------------------------------------------------


def parse_command(buf: bytes | bytearray) -> tuple[Command, int] | None:
    """One command as mod_event_socket reads it from ``buf``: ``(command, bytes used)`` or ``None``."""
    pos = 0
    while pos < len(buf) and buf[pos] in b"\r\n":
        pos += 1
    lines: list[bytes] = []
    while True:
        nl = buf.find(b"\n", pos)
        if nl < 0:
            return None
        line = bytes(buf[pos:nl]).rstrip(b"\r")
        pos = nl + 1
        if not line:
            break
        lines.append(line)
    text = [ln.decode("utf-8", "surrogateescape") for ln in lines]
    headers = []
    for ln in text[1:]:
        name, _, value = ln.partition(":")
        headers.append((name.strip(), value.lstrip(" ")))
    length = next((v for k, v in headers if k.lower() == "content-length"), None)
    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]  # framing, not content
    body = b""
    if length is not None and length.strip().isdigit():
        need = int(length)
        if len(buf) - pos < need:
            return None
        body, pos = bytes(buf[pos:pos + need]), pos + need
    return Command(text[0], tuple(headers), body.decode("utf-8", "surrogateescape")), pos


def enc(value: str) -> str:
    return quote(value, safe=_SAFE)


def reply(text: str, *extra: tuple[str, str]) -> bytes:
    lines = ["Content-Type: command/reply", f"Reply-Text: {text}", *(f"{k}: {v}" for k, v in extra)]
    return ("\n".join(lines) + "\n\n").encode()


def api_response(text: str) -> bytes:
    body = text.encode()
    return f"Content-Type: api/response\nContent-Length: {len(body)}\n\n".encode() + body


def disconnect_notice(session_uuid: str = "", body: str = GOODBYE) -> bytes:
    data = body.encode()
    head = ["Content-Type: text/disconnect-notice"]
    if session_uuid:
        head += [f"Controlled-Session-UUID: {session_uuid}", "Content-Disposition: disconnect"]
    return ("\n".join([*head, f"Content-Length: {len(data)}"]) + "\n\n").encode() + data


def linger_notice(session_uuid: str, channel: str, seconds: int | None) -> bytes:
    return (f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {session_uuid}\n"
            f"Content-Disposition: linger\nChannel-Name: {channel}\nLinger-Time: {-1 if seconds is None else seconds}\n"
            "Content-Length: 0\n\n").encode()


def event_frame(headers: list[tuple[str, str]], fmt: str = "plain", body: str = "") -> bytes:
    """An event as mod_event_socket writes it in ``fmt`` (plain or json)."""
    if fmt == "json":
        obj = dict(headers)
        if body:
            obj["Content-Length"], obj["_body"] = str(len(body.encode())), body
        data = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
        kind = "text/event-json"
    else:
        text = "".join(f"{k}: {enc(v)}\n" for k, v in headers)
        if body:
            text += f"Content-Length: {len(body.encode())}\n\n{body}"
        else:
            text += "\n"
        data, kind = text.encode(), "text/event-plain"
    return f"Content-Length: {len(data)}\nContent-Type: {kind}\n\n".encode() + data


def core_headers(name: str, seq: int) -> list[tuple[str, str]]:
    now = time.time()
    return [
        ("Event-Name", name), ("Core-UUID", CORE_UUID), ("FreeSWITCH-Hostname", "vm"),
        ("FreeSWITCH-Switchname", "vm"), ("FreeSWITCH-IPv4", "192.0.2.2"), ("FreeSWITCH-IPv6", "fd00::2"),
        ("Event-Date-Local", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))),
        ("Event-Date-GMT", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))),
        ("Event-Date-Timestamp", str(int(now * 1_000_000))), ("Event-Calling-File", "sim.c"),
        ("Event-Calling-Function", "sim"), ("Event-Calling-Line-Number", "1"), ("Event-Sequence", str(seq)),
    ]


# -- outbound: the socket app connecting to the app under test ---------------------------------


@dataclass
class Caller:
    """What the caller does.

    ``keys``: one entry per play_and_get_digits, in order: the keys pressed
    (``"500#"``) or ``None`` to press nothing. ``barge``: key pressed during the
    n-th playback (0-based), if interruptible. ``hangup_on``: ``(app, n)``, the
    caller hangs up ``hangup_after_ms`` into the n-th run (0-based) of ``app``.
    """

    keys: list[str | None] = field(default_factory=list)
    barge: dict[int, str] = field(default_factory=dict)
    hangup_on: tuple[str, int] | None = None
    hangup_after_ms: int = 10
    cause: str = "NORMAL_CLEARING"


@dataclass
class Fault:
    """Misbehave when the app executes its ``at``-th application (0-based): see ``SimCall._fault``."""

    kind: str  # bad-length | no-content-type | close-mid-body | silent | oversize | eof
    at: int = 0


@dataclass
class SimResult:
    commands: list[Command] = field(default_factory=list)
    apps: list[tuple[str, str]] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    hangup_cause: str = ""
    exited: bool = False
    closed_by: str = ""  # "switch" or "app"
    bridged: list[str] = field(default_factory=list)
    transferred: str = ""
    connect_ms: float | None = None  # from TCP connect to the app's ``connect``


class SimCall:
    """One call whose dialplan runs ``socket <host>:<port> async full``; ``await run()`` plays it out."""

    def __init__(self, *, variables: dict[str, str] | None = None, caller: Caller | None = None,
                 bridges: dict[str, str] | None = None, sounds: dict[str, int] | None = None, fault: Fault | None = None,
                 scale: float = 0.01, talk_ms: int = 1500, caller_number: str = "5551234", connect_wait_s: float = 25.0,
                 uuid: str | None = None, linger_close_ms: int | None = None) -> None:
        self.uuid = uuid or str(uuidlib.uuid4())
        self.channel = f"loopback/sim-{self.uuid[:8]}-b"
        self.caller = caller or Caller()
        self.vars: dict[str, str] = {"direction": "inbound", "uuid": self.uuid, "channel_name": self.channel,
                                     "call_uuid": self.uuid, **(variables or {"hotline_tenant": "demo",
                                                                              "hotline_menu": "main"})}
        self.vars.update({"current_application": "socket", "current_application_data": "127.0.0.1:8084 async full"})
        self.bridges = bridges or {}
        self.sounds = sounds  # None: every file exists and plays for 20 ms
        self.fault, self.scale, self.talk_ms = fault, scale, talk_ms
        self.number, self.connect_wait_s = caller_number, connect_wait_s
        self.result = SimResult()
        self.seq = 400
        self.answered = self.hung_up = self.events_on = self.connected = False
        self.linger: int | None | bool = False  # False: off; None: plain linger; n: seconds
        self.app_count = self.playbacks = 0
        self.runs: dict[str, int] = {}
        self.detached = False  # transferred: the socket no longer controls the channel
        self._hup = asyncio.Event()
        self.queue: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()
        self.running: tuple[str, str] | None = None  # (app, uuid) now running
        self.nested_ms = 0
        self.writer: asyncio.StreamWriter | None = None
        self.done = asyncio.Event()
        self._hangup_task: asyncio.Task[None] | None = None

    def _sleep(self, ms: float) -> asyncio.Future[None]:
        return asyncio.sleep(ms * self.scale / 1000)

    # -- output ------------------------------------------------------------------------------

    async def _write(self, data: bytes) -> None:
        if self.writer is None or self.writer.is_closing():
            return
        self.writer.write(data)
        try:
            await self.writer.drain()
        except ConnectionError:
            pass

    def _headers(self, name: str) -> list[tuple[str, str]]:
        self.seq += 1
        state = "CS_HANGUP" if self.hung_up else "CS_EXECUTE"
        headers = core_headers(name, self.seq) + [
            ("Channel-State", state), ("Channel-Call-State", "HANGUP" if self.hung_up else
                                       "ACTIVE" if self.answered else "RINGING"),
            ("Channel-State-Number", "10" if self.hung_up else "4"), ("Channel-Name", self.channel),
            ("Unique-ID", self.uuid), ("Call-Direction", "inbound"), ("Presence-Call-Direction", "inbound"),
            ("Channel-HIT-Dialplan", "true"), ("Channel-Call-UUID", self.uuid),
            ("Answer-State", "hangup" if self.hung_up else "answered" if self.answered else "ringing"),
            ("Caller-Direction", "inbound"), ("Caller-Caller-ID-Name", "Hotline Test"),
            ("Caller-Caller-ID-Number", self.number), ("Caller-ANI", self.number),
            ("Caller-Destination-Number", "hotline"), ("Caller-Unique-ID", self.uuid), ("Caller-Context", "default"),
            ("Caller-Channel-Name", self.channel),
        ]
        return headers + [(f"variable_{k}", v) for k, v in self.vars.items()]

    async def emit(self, name: str, *extra: tuple[str, str], body: str = "") -> None:
        if self.events_on:
            await self._write(event_frame(self._headers(name) + list(extra), body=body))

    # -- the session ---------------------------------------------------------------------------

    async def run(self, host: str, port: int) -> SimResult:
        reader, self.writer = await asyncio.open_connection(host, port)
        self._opened = time.monotonic()
        worker = asyncio.create_task(self._apps())
        watchdog = asyncio.create_task(self._connect_watchdog())
        buf = bytearray()
        try:
            while not self.done.is_set():
                data = await self._read(reader)
                if not data:
                    self.result.closed_by = self.result.closed_by or "app"
                    break
                buf += data
                while not self.done.is_set() and (parsed := parse_command(buf)) is not None:
                    command, used = parsed
                    del buf[:used]
                    self.result.commands.append(command)
                    await self._command(command)
        finally:
            for task in (worker, watchdog, self._hangup_task):
                if task:
                    task.cancel()
            self.writer.close()
            self.result.variables = dict(self.vars)
        return self.result

    async def _read(self, reader: asyncio.StreamReader) -> bytes:
        read = asyncio.create_task(reader.read(65536))
        closed = asyncio.create_task(self.done.wait())
        await asyncio.wait({read, closed}, return_when=asyncio.FIRST_COMPLETED)
        closed.cancel()
        if not read.done():
            read.cancel()
            return b""
        try:
            return read.result()
        except ConnectionError:
            return b""

    async def _connect_watchdog(self) -> None:
        await asyncio.sleep(self.connect_wait_s)
        if not self.connected:
            await self._close(disconnect_notice(self.uuid))

    async def _close(self, last: bytes = b"") -> None:
        if last:
            await self._write(last)
        self.result.closed_by = self.result.closed_by or "switch"
        if self.writer:
            self.writer.close()
        self.done.set()

    async def _command(self, cmd: Command) -> None:
        word, _, rest = cmd.line.strip().partition(" ")
        word = word.lower()
        if any(ord(c) < 32 or 0xDC80 <= ord(c) <= 0xDCFF for c in cmd.line):
            await self._close(reply("-ERR command parse error.") + disconnect_notice(self.uuid))
            return
        if not self.connected and word != "connect":
            self.events_on = self.events_on or word == "myevents"  # takes effect, never answered
            return
        handler = _COMMANDS.get(word)
        if handler is None:
            await self._write(reply("-ERR command not found"))
        else:
            await handler(self, rest.strip(), cmd)

    async def _connect(self, rest: str, cmd: Command) -> None:
        self.connected = True
        self.result.connect_ms = (time.monotonic() - self._opened) * 1000
        lines = [(k, v) for k, v in self._headers("CHANNEL_DATA")]
        lines += [("Content-Type", "command/reply"), ("Reply-Text", "+OK\n"), ("Socket-Mode", "async"),
                  ("Control", "full")]
        await self._write(("".join(f"{k}: {enc(v)}\n" for k, v in lines) + "\n").encode())

    async def _myevents(self, rest: str, cmd: Command) -> None:
        if self.events_on:
            await self._write(reply("-ERR aready enabled."))
            return
        self.events_on = True
        await self._write(reply("+OK Events Enabled"))
        await self.emit("CHANNEL_PARK")

    async def _linger(self, rest: str, cmd: Command) -> None:
        self.linger = int(rest) if rest.isdigit() else None
        await self._write(reply("+OK will linger" + (f" {rest} seconds" if rest.isdigit() else "")))

    async def _nolinger(self, rest: str, cmd: Command) -> None:
        self.linger = False
        await self._write(reply("+OK will not linger"))

    async def _getvar(self, rest: str, cmd: Command) -> None:
        await self._write(reply(self.vars.get(rest) or "-ERR command not found"))

    async def _api(self, rest: str, cmd: Command) -> None:
        args = rest.split()
        if args[:1] == ["uuid_getvar"] and len(args) == 3:
            value = self.vars.get(args[2], "_undef_") if args[1] == self.uuid else "-ERR No such channel!\n"
            await self._write(api_response(value))
        elif args[:1] == ["status"]:
            await self._write(api_response("FreeSWITCH (Version 1.10.12-release  64bit) is ready\n"))
        else:
            await self._write(api_response(f"-ERR {args[0] if args else ''} Command not found!\n"))

    async def _exit(self, rest: str, cmd: Command) -> None:
        self.result.exited = True
        await self._write(reply("+OK bye"))
        await self._close(disconnect_notice(self.uuid))

    async def _sendmsg(self, rest: str, cmd: Command) -> None:
        h = {k.lower(): v for k, v in cmd.headers}
        if rest and rest != self.uuid:
            await self._write(reply(f"-ERR invalid session id [{rest}]"))
            return
        await self._write(reply("+OK"))
        if self.hung_up:
            return
        if h.get("call-command") == "hangup":
            await self.hangup(h.get("hangup-cause", "NORMAL_CLEARING"))
        elif h.get("call-command") == "execute" and h.get("execute-app-name"):
            arg = h.get("execute-app-arg") or (cmd.body if h.get("content-type") == "text/plain" else "")
            app_uuid = h.get("event-uuid") or str(uuidlib.uuid4())
            if h.get("event-lock", "").lower() == "true" or self.running is None:
                self.queue.put_nowait((h["execute-app-name"], arg, app_uuid))
            else:  # runs inside the app already running, as FreeSWITCH does without event-lock
                asyncio.create_task(self._execute(h["execute-app-name"], arg, app_uuid, nested=True))

    # -- applications ------------------------------------------------------------------------

    async def _apps(self) -> None:
        while True:
            app, arg, app_uuid = await self.queue.get()
            if not self.hung_up and not self.detached:
                await self._execute(app, arg, app_uuid)

    async def _execute(self, app: str, arg: str, app_uuid: str, nested: bool = False) -> None:
        index = self.app_count
        self.app_count += 1
        self.result.apps.append((app, arg))
        if self.fault and self.fault.at == index:
            await self._fault(self.fault.kind)
            return
        runner = _APPS.get(app)
        if runner is None:
            await self.hangup("DESTINATION_OUT_OF_ORDER")
            return
        nth = self.runs[app] = self.runs.get(app, -1) + 1
        if self.caller.hangup_on == (app, nth):
            self._hangup_task = asyncio.create_task(self._hang_up_later(self.caller.hangup_after_ms))
        outer, self.running = self.running, (app, app_uuid)
        self.vars.update(current_application=app, current_application_data=arg)
        await self.emit("CHANNEL_EXECUTE", ("Application", app), ("Application-Data", arg),
                        ("Application-UUID", app_uuid))
        started = time.monotonic()
        response = await runner(self, arg)
        if nested:
            self.nested_ms += int((time.monotonic() - started) * 1000 / self.scale)
        elif self.nested_ms:
            await self._sleep(self.nested_ms)
            self.nested_ms = 0
        self.running = outer
        if response is not None and not self.hung_up:
            await self.emit("CHANNEL_EXECUTE_COMPLETE", ("Application", app), ("Application-Data", arg),
                            ("Application-Response", response), ("Application-UUID", app_uuid))
        if app == "transfer":
            self.detached = True
            await self.emit("CHANNEL_UNPARK")
            await self.emit("CHANNEL_EXECUTE_COMPLETE", ("Application", "socket"), ("Application-Response", "_none_"),
                            ("Application-UUID", str(uuidlib.uuid4())))

    async def _wait(self, ms: float) -> bool:
        """Sleep while the app runs; False if the caller hung up meanwhile."""
        try:
            await asyncio.wait_for(self._hup.wait(), ms * self.scale / 1000)
        except TimeoutError:
            return not self.hung_up
        return False

    async def _hang_up_later(self, ms: int) -> None:
        await self._sleep(ms)
        await self.hangup(self.caller.cause)

    async def hangup(self, cause: str) -> None:
        """The hang-up sequence as recorded in esl-outbound-hangup.txt, then the notice."""
        if self.hung_up:
            return
        self.hung_up = True
        self.result.hangup_cause = cause
        self.vars["hangup_cause"] = cause
        self._hup.set()
        await self.emit("CHANNEL_HANGUP", ("Hangup-Cause", cause))
        if self.running:
            app, app_uuid = self.running
            response = "PLAYBACK ERROR" if app == "playback" else "_none_"
            await self.emit("CHANNEL_EXECUTE_COMPLETE", ("Hangup-Cause", cause), ("Application", app),
                            ("Application-Response", response), ("Application-UUID", app_uuid))
        await self.emit("CHANNEL_UNPARK", ("Hangup-Cause", cause))
        await self.emit("CHANNEL_EXECUTE_COMPLETE", ("Hangup-Cause", cause), ("Application", "socket"),
                        ("Application-Response", "_none_"), ("Application-UUID", str(uuidlib.uuid4())))
        for state in ("CS_HANGUP", "CS_REPORTING"):
            await self.emit("CHANNEL_STATE", ("Hangup-Cause", cause), ("Channel-State", state))
        await self.emit("CHANNEL_HANGUP_COMPLETE", ("Hangup-Cause", cause))
        if self.linger is False:
            await self._close(disconnect_notice(self.uuid))
        else:
            await self._write(linger_notice(self.uuid, self.channel, self.linger))
            if self.linger is not None:
                asyncio.get_running_loop().call_later(self.linger * self.scale,
                                                      lambda: asyncio.ensure_future(self._close(disconnect_notice(self.uuid))))

    async def _fault(self, kind: str) -> None:
        """Bad input from the switch: a frame the app must reject, then (mostly) nothing more."""
        if kind == "bad-length":
            await self._write(b"Content-Length: 12x\nContent-Type: text/event-plain\n\n")
        elif kind == "no-content-type":
            await self._write(b"Reply-Text: hello\nweird line\n\n")
        elif kind == "close-mid-body":
            await self._write(b"Content-Length: 500\nContent-Type: text/event-plain\n\nEvent-Name: CHANNEL_EXEC")
            await self._close()
        elif kind == "oversize":
            await self._write(b"X-Junk: " + b"a" * (1 << 20) + b"x" * 1024)
        elif kind == "eof":
            await self._close()
        # "silent": nothing at all; the socket stays open

    async def _answer(self, arg: str) -> str:
        if not self.answered:
            self.answered = True
            await self.emit("CHANNEL_ANSWER")
        return "_none_"

    async def _set(self, arg: str) -> str:
        name, _, value = arg.partition("=")
        if value:
            self.vars[name] = value
        else:
            self.vars.pop(name, None)
        return "_none_"

    async def _unset(self, arg: str) -> str:
        self.vars.pop(arg, None)
        return "_none_"

    def _length(self, file: str) -> int | None:
        if file.startswith("silence_stream://"):
            return int(file.split("//")[1] or 0)
        if self.sounds is None:
            return 20
        return self.sounds.get(file)

    async def _playback(self, arg: str) -> str | None:
        length = self._length(arg)
        if length is None:
            return "FILE NOT FOUND"
        index, self.playbacks = self.playbacks, self.playbacks + 1
        await self.emit("PLAYBACK_START", ("Playback-File-Path", arg))
        key = self.caller.barge.get(index)
        terminators = self.vars.get("playback_terminators", "*")
        if key and key in terminators:
            if not await self._wait(length / 2):
                return None
            await self.emit("DTMF", ("DTMF-Digit", key), ("DTMF-Duration", "2000"), ("DTMF-Source", "UNKNOWN"))
            self.vars["playback_terminator_used"] = key
        elif not await self._wait(length):
            return None
        await self.emit("PLAYBACK_STOP", ("Playback-File-Path", arg))
        return "FILE PLAYED"

    async def _play_and_get_digits(self, arg: str) -> str | None:
        args = arg.split(" ")
        mn, mx, tries, timeout, terms, prompt, invalid, var, regexp, _inter_digit = args[:10]
        self.vars.pop(var, None)
        self.vars.pop("read_result", None)
        if prompt != "silence" and self._length(prompt) is None:  # switch_ivr_read: "goto end", nothing read
            await self._wait(self._length(invalid) or 0)
            return "_none_"
        pressed = self.caller.keys.pop(0) if self.caller.keys else None
        for attempt in range(int(tries)):
            if prompt != "silence":
                await self.emit("PLAYBACK_START", ("Playback-File-Path", prompt))
            if pressed:
                digits, used = "", ""
                for key in pressed:
                    if not await self._wait(10):
                        return None
                    await self.emit("DTMF", ("DTMF-Digit", key), ("DTMF-Duration", "2000"), ("DTMF-Source", "UNKNOWN"))
                    if key in terms and terms != "none":
                        used = key
                        break
                    digits += key
                    if len(digits) >= int(mx):
                        break
                if prompt != "silence":
                    await self.emit("PLAYBACK_STOP", ("Playback-File-Path", prompt))
                if int(mn) <= len(digits) <= int(mx) and re.fullmatch(regexp, digits):
                    self.vars.update({var: digits, "read_result": "success"})
                    if used:
                        self.vars["read_terminator_used"] = used
                    return "_none_"
            elif not await self._wait((0 if prompt == "silence" else self._length(prompt) or 0) + int(timeout)):
                return None
            if not await self._wait(self._length(invalid) or 0):  # played even after the last try
                return None
        self.vars["read_result"] = "failure"
        if len(args) > 10 and args[10]:  # transfer_on_fail: the extension does not exist here
            asyncio.create_task(self.hangup("NO_ROUTE_DESTINATION"))
        return "_none_"

    async def _bridge(self, arg: str) -> str | None:
        dial = re.sub(r"^\{[^}]*\}", "", arg)
        self.result.bridged.append(dial)
        outcome = next((v for k, v in self.bridges.items() if k in dial), "answer")
        b_uuid = str(uuidlib.uuid4())
        if outcome == "answer":
            self.vars.update(originate_disposition="SUCCESS", DIALSTATUS="SUCCESS")
            await self.emit("CHANNEL_BRIDGE", ("Bridge-A-Unique-ID", self.uuid), ("Bridge-B-Unique-ID", b_uuid),
                            ("Other-Leg-Unique-ID", b_uuid))
            if not await self._wait(self.talk_ms):
                self.vars["bridge_hangup_cause"] = self.result.hangup_cause
                return None
            self.vars.update(bridge_hangup_cause="NORMAL_CLEARING", last_bridge_hangup_cause="NORMAL_CLEARING")
            await self.emit("CHANNEL_UNBRIDGE", ("Bridge-A-Unique-ID", self.uuid), ("Bridge-B-Unique-ID", b_uuid))
            if self.vars.get("hangup_after_bridge") == "true" and self.running:
                await self.emit("CHANNEL_EXECUTE_COMPLETE", ("Application", "bridge"), ("Application-Data", arg),
                                ("Application-Response", "_none_"), ("Application-UUID", self.running[1]))
                self.running = None
                await self.hangup("NORMAL_CLEARING")
                return None
            return "_none_"
        self.vars.update(originate_disposition=outcome, DIALSTATUS=outcome, originate_failed_cause=outcome)
        if self.vars.get("continue_on_fail") != "true" and "continue_on_fail=true" not in arg:
            asyncio.create_task(self.hangup(outcome))
            return None
        return "_none_"

    async def _transfer(self, arg: str) -> str:
        self.result.transferred = arg
        return "_none_"

    async def _hangup_app(self, arg: str) -> None:
        await self.hangup(arg or "NORMAL_CLEARING")


_COMMANDS: dict[str, Callable] = {
    "connect": SimCall._connect, "myevents": SimCall._myevents, "linger": SimCall._linger,
    "nolinger": SimCall._nolinger, "getvar": SimCall._getvar, "api": SimCall._api, "exit": SimCall._exit,
    "sendmsg": SimCall._sendmsg,
}
_APPS: dict[str, Callable] = {
    "answer": SimCall._answer, "set": SimCall._set, "export": SimCall._set, "unset": SimCall._unset,
    "playback": SimCall._playback, "play_and_get_digits": SimCall._play_and_get_digits, "bridge": SimCall._bridge,
    "transfer": SimCall._transfer, "hangup": SimCall._hangup_app,
}


# -- inbound: the event socket the app connects to --------------------------------------------


@dataclass
class _Listener:
    writer: asyncio.StreamWriter
    authed: bool = False
    fmt: str = "plain"
    names: set[str] = field(default_factory=set)
    subclasses: set[str] = field(default_factory=set)

    def wants(self, name: str, subclass: str) -> bool:
        if name == "CUSTOM":
            return "ALL" in self.names or subclass in self.subclasses
        return "ALL" in self.names or name in self.names


class SimSwitch:
    """FreeSWITCH's event socket on 127.0.0.1:``port``; ``stop()`` then ``start()`` is a restart."""

    def __init__(self, port: int, password: str = "ClueCon", *, scale: float = 0.01,
                 originate: Callable[[str], str] | None = None, job_delay_ms: int = 200) -> None:
        self.port, self.password, self.scale = port, password, scale
        self.originate = originate or (lambda args: f"+OK {uuidlib.uuid4()}\n")
        self.job_delay_ms = job_delay_ms
        self.listeners: list[_Listener] = []
        self.commands: list[str] = []
        self.silent = False
        self.drop_on = ""  # a command starting with this closes the socket unanswered
        self.slow_api: dict[str, float] = {}  # api command -> seconds before its reply
        self.mute_on = ""  # a command starting with this gets no reply at all (FreeSWITCH: before connect)
        self.connections = 0
        self.seq = 1000
        self._server: asyncio.base_events.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    async def stop(self) -> None:
        """Close every connection and the listening socket (FreeSWITCH going away)."""
        for listener in self.listeners:
            listener.writer.close()
        self.listeners.clear()
        if self._server:
            self._server.close()
            self._server = None
        if self._handlers:  # closed writers end the handlers; never cancel them (asyncio logs that)
            await asyncio.wait(self._handlers, timeout=2)

    async def break_mid_body(self) -> None:
        """Start an event on every connection and close it 30 bytes into the body."""
        for listener in list(self.listeners):
            listener.writer.write(b"Content-Length: 500\nContent-Type: text/event-plain\n\nEvent-Name: CHANNEL_CREATE\nCor")
            listener.writer.close()

    async def emit(self, name: str, headers: list[tuple[str, str]], subclass: str = "", body: str = "") -> int:
        """Fire an event to every subscribed, authenticated connection; returns how many got it."""
        self.seq += 1
        full = core_headers(name, self.seq) + ([("Event-Subclass", subclass)] if subclass else []) + headers
        sent = 0
        for listener in list(self.listeners):
            if listener.authed and listener.wants(name, subclass) and not listener.writer.is_closing():
                listener.writer.write(event_frame(full, listener.fmt, body))
                sent += 1
        return sent

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        listener = _Listener(writer)
        self.listeners.append(listener)
        try:
            if not self.silent:
                writer.write(b"Content-Type: auth/request\n\n")
            buf = bytearray()
            while data := await reader.read(65536):
                buf += data
                while (parsed := parse_command(buf)) is not None:
                    command, used = parsed
                    del buf[:used]
                    self.commands.append(command.line)
                    if not self.silent:
                        await self._command(listener, command)
                    if writer.is_closing():
                        return
        except ConnectionError:
            pass
        finally:
            if listener in self.listeners:
                self.listeners.remove(listener)
            writer.close()

    async def _command(self, listener: _Listener, cmd: Command) -> None:
        w = listener.writer
        word, _, rest = cmd.line.strip().partition(" ")
        word, args = word.lower(), rest.split()
        if self.drop_on and cmd.line.startswith(self.drop_on):
            w.close()
            return
        if self.mute_on and cmd.line.startswith(self.mute_on):
            return
        if not listener.authed:
            if word == "auth" and rest.strip() == self.password:
                listener.authed = True
                w.write(reply("+OK accepted"))
            elif word == "auth":
                w.write(reply("-ERR invalid") + disconnect_notice())
                w.close()
            else:
                w.write(reply("-ERR command not found"))
            return
        if word == "event" and len(args) >= 2:
            listener.fmt = args[0] if args[0] in ("plain", "json", "xml") else "plain"
            names = args[1:]
            if "CUSTOM" in names:
                cut = names.index("CUSTOM")
                listener.subclasses.update(names[cut + 1:])
                names = names[:cut + 1]
            listener.names.update(names)
            w.write(reply(f"+OK event listener enabled {listener.fmt}"))
        elif word == "api":
            if args and args[0] in self.slow_api:
                await asyncio.sleep(self.slow_api[args[0]])
            w.write(api_response("FreeSWITCH (Version 1.10.12-release  64bit) is ready\n" if args[:1] == ["status"]
                                 else f"-ERR {args[0] if args else ''} Command not found!\n"))
        elif word == "bgapi":
            job = dict(cmd.headers).get("Job-UUID") or str(uuidlib.uuid4())
            w.write(reply(f"+OK Job-UUID: {job}", ("Job-UUID", job)))
            asyncio.create_task(self._job(job, args[0] if args else "", " ".join(args[1:])))
        elif word == "exit":
            w.write(reply("+OK bye") + disconnect_notice())
            w.close()
        else:
            w.write(reply("-ERR command not found"))

    async def _job(self, job: str, command: str, arg: str) -> None:
        await asyncio.sleep(self.job_delay_ms * self.scale / 1000)
        body = self.originate(arg) if command == "originate" else "+OK\n"
        await self.emit("BACKGROUND_JOB", [("Job-UUID", job), ("Job-Command", command), ("Job-Command-Arg", arg)],
                        body=body)
