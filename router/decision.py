"""What the router answers for one call, and the errors it raises.

The edges dial ``dial`` (a trunk or the hard-phone group) or hand the call to
the diversion's ``target``; they set ``HOTLINE_ROUTE`` to ``name`` and
``HOTLINE_DIAL`` to ``dial``. The field names and kind values match
``ivr.commands.RouteDecision`` so a driver converts with
``RouteDecision(kind=RouteKind(d.kind), name=d.name, dial=d.dial, target=d.target, elapsed_ms=...)``
(``router/`` does not import ``ivr/``: rooms only import downwards).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from router.model import Level, Queue, RouteKind, TenantRouting

__all__ = [
    "Decision",
    "Reason",
    "RouterError",
    "RouterMisuse",
    "RouterUnavailable",
    "UnknownName",
    "decision_for",
]


class RouterError(Exception):
    """Base of the router's errors."""


class RouterMisuse(RouterError):
    """Local misuse: the caller asked for something the router cannot do as asked."""


class UnknownName(RouterMisuse, LookupError):
    """A tenant, trunk or target the loaded config does not have."""


class RouterUnavailable(RouterError):
    """Remote failure: Redis did not answer an operator request (status, set, load, reconcile) in time."""


class Reason(StrEnum):
    """Why a decision went where it went; logged and counted, and shown to operators."""

    OK = "ok"
    REPEAT = "repeat"  # the call already held a lease; same answer again
    BREAKER_OPEN = "breaker_open"  # a preferred trunk's breaker is open (level 1)
    OVERFLOW = "overflow"  # a preferred trunk is full, a later one took the call (level 2)
    NO_TRUNK = "no_trunk"  # no trunk could take the call; a diversion did (level 2)
    ALL_FULL = "all_full"  # trunks and diversions full: hard phones (level 3)
    REDIS_DOWN = "redis_down"  # decided locally: Redis refused or failed (level 3)
    REDIS_TIMEOUT = "redis_timeout"  # decided locally: Redis slower than the routing timeout (level 3)
    UNKNOWN_QUEUE = "unknown_queue"  # the dialplan asked for a queue the config lacks: hard phones (level 3)


@dataclass(frozen=True, slots=True)
class Decision:
    """Where one call goes.

    ``dial`` is set for trunks (template with the queue's number) and the
    hard-phone group; ``target`` for diversions (menu id, bot dial string or
    chat link). ``probe`` marks the one call let through a half-open breaker:
    the edge must report its outcome (``report_failure`` / ``report_success``).
    """

    kind: RouteKind
    name: str
    dial: str | None
    target: str | None
    level: Level
    reason: Reason
    probe: bool = False


def decision_for(
    routing: TenantRouting, queue: Queue | None, name: str, level: Level, reason: Reason, probe: bool = False
) -> Decision:
    """The decision that sends a call of ``queue`` to the target ``name``; raises ``UnknownName``."""
    trunk = routing.trunk(name)
    if trunk is not None:
        if queue is None:
            raise UnknownName(f"trunk '{name}' needs a queue to know the number to dial")
        return Decision(RouteKind.TRUNK, name, trunk.dial_string(queue.number), None, level, reason, probe)
    diversion = routing.diversion(name)
    if diversion is not None:
        return Decision(RouteKind.DIVERSION, name, None, diversion.target, level, reason)
    if name == routing.hardphones.name:
        return Decision(RouteKind.HARDPHONE, name, routing.hardphones.dial, None, level, reason)
    raise UnknownName(f"no route target '{name}'")
