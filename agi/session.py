"""What an AGI script may ask its driver to do, and the per-call context it runs in.

Strategy: a script (agi/scripts/) is a generator with no I/O. It yields

* an ``agi.protocol.Command``: the driver sends it and answers with the reply
  event (``Reply``, ``UsageReply``) or ``ConnectionClosed``; ``HANGUP``
  notices never reach the script, they only move ``call.conn.hung_up``;
* an effect (``RouteCall``, ``ReleaseCall``, ``FinishCall``, ``ReportDial``,
  ``RecordHangup``): the driver performs it (router, Redis, asyncio or blocking)
  and answers with its value, or with ``EffectFailed`` when it raised.

So FastAGI and spawned AGI run the same scripts, and a test can drive a script
with a list of replies. The clock is injected (``CallContext.clock``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from agi.protocol import (
    AgiConnection,
    AgiLocalError,
    Command,
    ConnectionClosed,
    Environment,
    Reply,
    UsageReply,
)
from agi.variables import (
    FALLBACK_ROUTE,
    HOTLINE_CALL_ID,
    HOTLINE_ERROR,
    HOTLINE_OUTCOME,
    HOTLINE_ROUTE,
    OUTCOME_ERROR,
)

__all__ = [
    "AgiTimeouts",
    "CallContext",
    "EffectFailed",
    "FinishCall",
    "Op",
    "RecordHangup",
    "ReleaseCall",
    "ReportDial",
    "RouteCall",
    "Script",
    "ScriptError",
    "agi",
    "fallback_commands",
    "is_hung_up",
    "set_variables",
]

PBX_KIND = "asterisk"
#: Commands that play media or wait for the caller; they get ``media_s`` instead of ``command_s``.
MEDIA_COMMANDS = frozenset({"STREAM FILE", "GET DATA", "WAIT FOR DIGIT", "GET OPTION", "EXEC", "RECORD FILE",
                            "CONTROL STREAM FILE", "SAY DIGITS", "SAY NUMBER", "SPEECH RECOGNIZE"})


@dataclass(frozen=True, slots=True)
class AgiTimeouts:
    """Seconds. ``header_s``: connect to full environment. ``command_s``: a reply to a quick command.
    ``media_s``: a reply to a media command (prompt plus caller input). ``effect_s``: a router or Redis
    effect. ``session_s``: the whole script, whatever it is doing."""

    header_s: float = 5.0
    command_s: float = 10.0
    media_s: float = 300.0
    effect_s: float = 3.0
    session_s: float = 3600.0

    def for_command(self, command: Command | str | bytes) -> float:
        name = command.name if isinstance(command, Command) else ""
        return self.media_s if name in MEDIA_COMMANDS else self.command_s


class ScriptError(AgiLocalError):
    """The script cannot go on (bad path, unknown menu, Asterisk rejected a command we built)."""


@dataclass(frozen=True, slots=True)
class RouteCall:
    """Ask the router where ``call_id`` goes for ``queue``; answered with a ``router`` ``Decision``.

    ``pbx`` names the Asterisk instance the call id belongs to (for lease reconciling).
    """

    tenant: str
    queue: str
    call_id: str
    pbx: str = "asterisk"


@dataclass(frozen=True, slots=True)
class ReleaseCall:
    """Free the call's trunk lease; answered with ``bool`` (something was held)."""

    tenant: str
    call_id: str


@dataclass(frozen=True, slots=True)
class ReportDial:
    """Feed a trunk's breaker with a dial outcome; answered with the breaker state or ``None``."""

    tenant: str
    trunk: str
    call_id: str
    ok: bool


@dataclass(frozen=True, slots=True)
class FinishCall:
    """Resolve the intent and put the event on the stream; answered with ``hotline.handoff.Handoff``."""

    end: Any  # hotline.handoff.CallEnd (imported lazily by the effect runners)


@dataclass(frozen=True, slots=True)
class RecordHangup:
    """Append a ``PbxEvent`` to the tenant's PBX event stream; answered with the entry id."""

    event: Any  # hotline.pbx_events.PbxEvent


@dataclass(frozen=True, slots=True)
class EffectFailed:
    """The driver's answer when an effect raised; the script decides how to degrade."""

    error: BaseException


Effect = RouteCall | ReleaseCall | ReportDial | FinishCall | RecordHangup
Op = Command | Effect


@dataclass
class CallContext:
    """One AGI session as a script sees it.

    ``tenant``/``name``/``arg`` come from the script path (``<tenant>/<name>/<arg>``),
    ``call_id`` is ``agi_uniqueid``. ``clock`` returns epoch seconds (the driver's).
    ``conn`` is read only: scripts look at ``conn.hung_up``.
    """

    env: Environment
    tenant: str
    name: str
    arg: str
    query: dict[str, str]
    conn: AgiConnection
    clock: Callable[[], float]
    menus: Mapping[Any, Any] = field(default_factory=dict)
    started_at: float = 0.0
    route_probe: bool = False  # the router let this call through a half-open breaker
    transfer_to: str = ""  # a Transfer's destination, dialled by the dialplan

    def __post_init__(self) -> None:
        if not self.started_at:
            self.started_at = self.clock()

    @property
    def call_id(self) -> str:
        return self.env.uniqueid

    @property
    def caller(self) -> str:
        return self.env.callerid

    def elapsed_ms(self) -> int:
        return max(0, int((self.clock() - self.started_at) * 1000))


Script = Callable[[CallContext], Generator[Op, Any, None]]
AgiReply = Reply | UsageReply | ConnectionClosed


def agi(name: str, *args: str | int) -> Generator[Op, Any, AgiReply]:
    """Send one AGI command; returns its reply. A 510/520 means we built a bad command: ``ScriptError``."""
    command = Command(name, tuple(str(a) for a in args))
    reply = yield command
    if isinstance(reply, UsageReply) or (isinstance(reply, Reply) and reply.code in (503, 510)):
        raise ScriptError(f"Asterisk rejected {command}: {getattr(reply, 'lines', None) or reply}")
    return reply


def is_hung_up(call: CallContext, reply: AgiReply) -> bool:
    return call.conn.hung_up or isinstance(reply, ConnectionClosed) or (isinstance(reply, Reply) and reply.code == 511)


def _clean(value: str) -> str:
    """Channel variable values never carry NUL/CR/LF (res_agi would mangle the line)."""
    return value.replace("\x00", " ").replace("\r", " ").replace("\n", " ")


def set_variables(call: CallContext, variables: Mapping[str, str]) -> Generator[Op, Any, None]:
    """SET VARIABLE each one, unless the channel is gone (the dialplan is in ``h`` by then)."""
    for name, value in variables.items():
        if call.conn.hung_up:
            return
        yield from agi("SET VARIABLE", name, _clean(value))


def fallback_commands(call_id: str, error: str) -> list[Command]:
    """What the driver sends when a script fails on a live channel: the dialplan falls back on these."""
    return [
        Command("SET VARIABLE", (HOTLINE_OUTCOME, OUTCOME_ERROR)),
        Command("SET VARIABLE", (HOTLINE_ERROR, _clean(error)[:64] or "error")),
        Command("SET VARIABLE", (HOTLINE_ROUTE, FALLBACK_ROUTE)),
        Command("SET VARIABLE", (HOTLINE_CALL_ID, call_id or "unknown")),
    ]
