"""What the IVR engine asks a driver to do (commands) and what it hears back (results).

Strategy: commands are verbs, results are nouns, all frozen slotted dataclasses
so a driver can match on them and a test can compare them with ``==``. The
engine yields one command at a time and the driver answers each with exactly one
result via ``gen.send(result)``. Any command may be answered with ``HungUp``.
Every result carries ``elapsed_ms`` (milliseconds since the call started, from
the driver's clock): the engine never reads a clock, so the trajectory's times
come from here.

Which result answers which command:

========================  ==================================================
command                   results the engine accepts
========================  ==================================================
``Answer``                ``Done``
``Play``                  ``Done``; ``Digits(key)`` if ``escape_digits`` and
                          the caller pressed one of them (barge-in)
``Collect``               ``Digits(value)`` (terminator stripped), ``Timeout``
                          when nothing was pressed in time
``GetVariable``           ``Variable(value or None)``
``SetVariable``           ``Done``
``Route``                 ``RouteDecision``
``Transfer``, ``Hangup``  ``Done``
any                       ``HungUp`` (the caller left; after ``Hangup`` it
                          only confirms the IVR's own hang-up)
========================  ==================================================

Mapping ``Collect`` onto the PBXs:

* Asterisk ``GET DATA <prompt.sound> <first_timeout_ms> <max_digits>``: Asterisk
  applies one timeout per digit and always ends on ``#``; an empty result with
  ``(timeout)`` is ``Timeout``. A menu's one-key wait (``prompt is None``,
  ``max_digits == 1``, no terminator) maps better to ``WAIT FOR DIGIT
  <first_timeout_ms>``, which also returns ``*`` and ``#`` as keys.
* FreeSWITCH ``play_and_get_digits <min_digits> <max_digits> 1
  <first_timeout_ms> <terminator or 'none'> <prompt.sound or silence_stream://250>
  silence_stream://250 <var> [0-9*#]+ <inter_digit_timeout_ms>``: ``tries`` is 1
  because retries and retry prompts belong to the engine. An empty variable
  afterwards (nothing pressed, or fewer than ``min_digits``) is ``Timeout``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "Answer",
    "Collect",
    "Command",
    "Digits",
    "Done",
    "GetVariable",
    "Hangup",
    "HungUp",
    "Play",
    "Prompt",
    "Result",
    "Route",
    "RouteDecision",
    "RouteKind",
    "SetVariable",
    "Timeout",
    "Transfer",
    "Variable",
]


@dataclass(frozen=True, slots=True)
class Prompt:
    """One recording, already resolved to the call's language.

    ``sound`` is a PBX sound name without extension (``hotline/welcome``), for
    Asterisk ``STREAM FILE`` or FreeSWITCH ``playback``; ``text`` is the same
    words for a PBX that speaks through TTS instead.
    """

    sound: str
    text: str = ""


# -- commands (verbs) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """Answer the channel (idempotent on the PBX side)."""


@dataclass(frozen=True, slots=True)
class Play:
    """Play prompts in order.

    ``escape_digits`` are the keys that interrupt playback (Asterisk
    ``STREAM FILE <sound> <escape_digits>``); empty means not interruptible. A
    menu sets them to its own keys so callers who know the menu can barge in; the
    driver then answers ``Digits(key)`` and skips the remaining prompts.
    """

    prompts: tuple[Prompt, ...]
    escape_digits: str = ""


@dataclass(frozen=True, slots=True)
class Collect:
    """Play an optional prompt and read up to ``max_digits`` DTMF keys.

    ``terminator`` is ``"#"`` or ``""`` (none: the read ends at ``max_digits`` or
    on the inter-digit timeout). Fewer than ``min_digits`` keys is still reported
    as ``Digits``; the engine decides whether that counts as invalid.
    """

    prompt: Prompt | None
    max_digits: int
    terminator: str = "#"
    first_timeout_ms: int = 5000
    inter_digit_timeout_ms: int = 3000
    min_digits: int = 1


@dataclass(frozen=True, slots=True)
class GetVariable:
    """Read a channel variable (e.g. ``BOT_INTENT`` left by a speech bot)."""

    name: str


@dataclass(frozen=True, slots=True)
class SetVariable:
    """Set a channel variable so the dialplan after the IVR can use it."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class Route:
    """Ask the router where this call goes for ``queue``; the driver dials what it decides.

    The engine's script ends after the ``RouteDecision``: dialling is the
    driver's (or dialplan's) job, not the IVR's.
    """

    queue: str


@dataclass(frozen=True, slots=True)
class Transfer:
    """Blind-transfer the call to a fixed destination (extension or dial string)."""

    destination: str


@dataclass(frozen=True, slots=True)
class Hangup:
    """Hang the call up from the IVR side."""


Command = Answer | Play | Collect | GetVariable | SetVariable | Route | Transfer | Hangup


# -- results (nouns) --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Done:
    """The command completed and has nothing to report."""

    elapsed_ms: int = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class Digits:
    """Keys pressed: a ``Collect``'s input without terminator, or the key that interrupted a ``Play``."""

    value: str
    elapsed_ms: int = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class Timeout:
    """The caller pressed nothing before the first-digit timeout."""

    elapsed_ms: int = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class HungUp:
    """The caller hung up (Asterisk ``HANGUP`` notice or 511, FreeSWITCH ``CHANNEL_HANGUP``)."""

    elapsed_ms: int = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class Variable:
    """Value of a channel variable; ``None`` when it is not set."""

    value: str | None
    elapsed_ms: int = field(kw_only=True)


class RouteKind(StrEnum):
    """Where the router sent the call."""

    TRUNK = "trunk"
    DIVERSION = "diversion"
    HARDPHONE = "hardphone"


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """The router's answer to ``Route``, reduced to what the IVR records.

    ``name`` is the trunk, diversion or hard-phone group chosen; ``dial`` the
    dial string the driver uses (trunk, hard-phone); ``target`` the number a
    diversion goes to. The router room has its own richer type; the driver
    converts (``RouteKind(kind)``) so ``ivr/`` never imports ``router/``.
    """

    kind: RouteKind
    name: str
    dial: str | None = None
    target: str | None = None
    elapsed_ms: int = field(kw_only=True)


Result = Done | Digits | Timeout | HungUp | Variable | RouteDecision
