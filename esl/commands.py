"""Commands to FreeSWITCH's event socket, and their bytes.

Strategy: every command is one ``Command`` (a first line, optional header
lines, an optional body) encoded as mod_event_socket reads it: LF line ends,
an empty line, then ``content-length`` bytes of body. The constructors below
are the only commands Hotline sends; each says what FreeSWITCH answers.
``execute`` always sends ``Event-UUID`` (FreeSWITCH reports it back as the
``Application-UUID`` of the app's CHANNEL_EXECUTE/_COMPLETE events, so a
completion is matched by id, never by order) and ``event-lock: true`` (queued
executes run one after another instead of inside each other).
"""

from __future__ import annotations

from dataclasses import dataclass

from esl._events import EslLocalError

__all__ = [
    "Command", "api", "auth", "bgapi", "connect", "event", "execute", "exit_", "getvar", "hangup", "linger",
    "myevents", "nolinger",
]


@dataclass(frozen=True, slots=True)
class Command:
    """One command: ``line`` (``api status``), header lines, and a body sent with ``content-length``."""

    line: str
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""

    @property
    def word(self) -> str:
        """The command name as FreeSWITCH dispatches on it (lower case: ``GETVAR`` works too)."""
        return self.line.strip().split(" ", 1)[0].lower()

    def encode(self) -> bytes:
        """The wire bytes; raises ``EslLocalError`` for a newline that would end the frame early."""
        for part in (self.line, *(p for pair in self.headers for p in pair)):
            if "\n" in part:
                raise EslLocalError(f"newline inside {part[:40]!r} would split the command; send it as a body")
        if not self.line.strip():
            raise EslLocalError("empty command line: FreeSWITCH skips it and the reply would never come")
        lines = [self.line, *(f"{name}: {value}" for name, value in self.headers)]
        body = self.body.encode()
        if body:
            lines.append(f"content-length: {len(body)}")
        return ("\n".join(lines) + "\n\n").encode("utf-8", "surrogateescape") + body


def connect() -> Command:
    """Outbound socket, first command: answered by the channel's data (``ChannelData``)."""
    return Command("connect")


def myevents(fmt: str = "") -> Command:
    """Subscribe to this channel's events (``+OK Events Enabled``); ``-ERR aready enabled.`` a second time."""
    return Command(f"myevents {fmt}".strip())


def linger(seconds: int | None = None) -> Command:
    """Keep the socket open after hang-up so the last events arrive (``+OK will linger``)."""
    return Command("linger" if seconds is None else f"linger {seconds}")


def nolinger() -> Command:
    return Command("nolinger")


def exit_() -> Command:
    """``+OK bye``, then a disconnect notice and close; the call itself continues in the dialplan."""
    return Command("exit")


def auth(password: str) -> Command:
    """Inbound socket: ``+OK accepted`` or ``-ERR invalid`` (then a disconnect notice and close)."""
    return Command(f"auth {password}")


def event(fmt: str, names: str) -> Command:
    """Subscribe to ``names`` (``CUSTOM`` last, followed by its subclasses) in ``fmt`` (plain, json, xml)."""
    return Command(f"event {fmt} {names}")


def api(command: str) -> Command:
    """Run an API command; answered by ``ApiResponse`` once it has finished (blocks the socket meanwhile)."""
    return Command(f"api {command}")


def bgapi(command: str, job_uuid: str = "") -> Command:
    """Run an API command in the background: ``+OK Job-UUID: <uuid>`` now, BACKGROUND_JOB later."""
    return Command(f"bgapi {command}", (("Job-UUID", job_uuid),) if job_uuid else ())


def getvar(name: str) -> Command:
    """Outbound only: ``Reply-Text`` is the raw value; unset or empty gives ``-ERR command not found``."""
    return Command(f"getvar {name}")


def execute(app: str, arg: str = "", *, event_uuid: str, lock: bool = True, uuid: str = "") -> Command:
    """Run dialplan application ``app``: ``+OK`` at once (async mode), then CHANNEL_EXECUTE and
    CHANNEL_EXECUTE_COMPLETE with ``Application-UUID: <event_uuid>``. An argument with a newline
    goes as a ``text/plain`` body, which FreeSWITCH reads whole."""
    headers = [("call-command", "execute"), ("execute-app-name", app)]
    body = ""
    if "\n" in arg:
        headers.append(("content-type", "text/plain"))
        body = arg
    elif arg:
        headers.append(("execute-app-arg", arg))
    if lock:
        headers.append(("event-lock", "true"))
    headers.append(("Event-UUID", event_uuid))
    return Command(f"sendmsg {uuid}".strip(), tuple(headers), body)


def hangup(cause: str = "NORMAL_CLEARING", uuid: str = "") -> Command:
    """Hang the channel up: ``+OK``, then the hang-up sequence of events."""
    return Command(f"sendmsg {uuid}".strip(), (("call-command", "hangup"), ("hangup-cause", cause)))
