"""Offers: what each PBX event does to a live call's standing with its queues, trunks, agents...

Strategy: sans-IO. A call's ``CallState`` lists its open ``Offer``s (the
call presented to one target and not yet settled). ``Tally.apply`` takes one
normalized ``PbxEvent`` and the call's state, changes the state, and records
what follows: gauge deltas (``waiting``, ``in_use``) and ``Finished`` offers
(answered, abandoned, diverted). The consumer loads the states of a batch's
calls, applies the batch, and writes it all back; nothing here reads a clock.

A call's events count by their identity and their time, never by their
stream position: an event comes back as a new stream entry when it is
replayed from the dead letters or when a producer retries an XADD. Each
state remembers the time of the last event applied and the fingerprints
(``hotline.pbx_events.fingerprint``) of those applied at that very time;
an event already applied, or older than that, is ignored. So a redelivered
batch, a replayed call or a duplicated XADD changes nothing, and a late
queue join cannot make an answered or hung-up call wait again.

What counts as what:

* queue (and the call's skill group, when the edge names one): joined →
  waiting; agent connected → answered, then in use until hang-up; the caller
  hung up while waiting → abandoned; left the queue (timeout, exit key) and
  ended without an agent → diverted.
* trunk or extension (a ``dial_begin``): ringing → waiting; ``dial_end``
  ANSWER → answered and in use; any other dial status → diverted; the caller
  hung up while it rang → abandoned. A dial string matching a trunk's dial
  template counts for that trunk, any other for the extension dialled.
* agent: one answered offer per connect (its wait is the caller's queue
  wait), in use until hang-up.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from hotline.pbx_events import PbxEvent, PbxEventKind

__all__ = ["CallState", "Dimension", "Finished", "Offer", "Phase", "Result", "Tally", "TrunkMatcher"]

K = PbxEventKind


class Dimension(StrEnum):
    """What kind of target an offer was made to; reports are grouped ``by`` one of these."""

    QUEUE = "queue"
    TRUNK = "trunk"
    AGENT = "agent"
    EXTENSION = "extension"
    SKILL = "skill"


class Result(StrEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"  # the caller hung up while it waited or rang
    DIVERTED = "diverted"  # it went elsewhere unanswered: queue timeout or exit, busy, no answer


class Phase(StrEnum):
    WAITING = "waiting"  # in the queue, or ringing (counted in the ``waiting`` gauge)
    LEFT = "left"  # left the queue; answered, abandoned or diverted is not known yet
    TALKING = "talking"  # answered and already recorded; counted in ``in_use`` until hang-up


#: Figures kept live per target.
WAITING, IN_USE = "waiting", "in_use"
_DIALS = (Dimension.TRUNK, Dimension.EXTENSION)
_QUEUES = (Dimension.QUEUE, Dimension.SKILL)


@dataclass(slots=True)
class Offer:
    """One open offer; ``key`` ties it to the events that settle it (queue name, or dialled channel id)."""

    dim: Dimension
    name: str
    since: float
    phase: Phase = Phase.WAITING
    key: str = ""
    left: float | None = None


@dataclass(frozen=True, slots=True)
class Finished:
    """A settled offer: one row of ``stats_offers``."""

    dim: Dimension
    name: str
    call_id: str
    offered: float
    ended: float
    result: Result

    @property
    def wait_ms(self) -> int:
        return max(0, round((self.ended - self.offered) * 1000))


@dataclass(slots=True)
class CallState:
    """What is open for one call, and how far its events were applied.

    ``ts`` is the time of the last event applied and ``seen`` the
    fingerprints of the events applied at exactly that time (one call's
    events may share a timestamp). ``seen`` is None for a call read back
    from the closed calls (``closed``), which keep no fingerprints: every
    event up to ``ts`` counts as applied there.
    """

    ts: float = 0.0
    seen: list[str] | None = field(default_factory=list)
    offers: list[Offer] = field(default_factory=list)

    @classmethod
    def closed(cls, ts: float) -> CallState:
        """A call with nothing open whose events were applied up to ``ts``."""
        return cls(ts, None)

    def passed(self, event: PbxEvent, fingerprint: str) -> bool:
        """Whether the call is past ``event``: applied it already, or applied a later event."""
        if event.ts != self.ts:
            return event.ts < self.ts
        return self.seen is None or fingerprint in self.seen

    def to_json(self) -> str:
        return json.dumps({"ts": self.ts, "seen": self.seen, "offers": [asdict(o) for o in self.offers]},
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> CallState:
        data = json.loads(text)
        offers = [Offer(Dimension(o["dim"]), o["name"], o["since"], Phase(o["phase"]), o["key"], o["left"])
                  for o in data["offers"]]
        return cls(data["ts"], data.get("seen", []), offers)  # states stored before fingerprints have none


class TrunkMatcher:
    """Tells a trunk's dial string from an extension's, by the trunks' dial templates.

    Asterisk's ``DialString`` lacks the technology (``4001@carrier-a`` for
    ``PJSIP/${number}@carrier-a``), so each template is tried with and without
    it. A template that is nothing but the number after its technology cannot
    be told from an extension and is left out.
    """

    def __init__(self, dials: dict[str, str]) -> None:
        self._patterns: list[tuple[re.Pattern[str], str]] = []
        for trunk, template in dials.items():
            bare = template.split("/", 1)[1] if "/" in template.split("$", 1)[0] else template
            for text in dict.fromkeys((template, bare)):
                if text.replace("${number}", ""):
                    parts = [re.escape(p) for p in text.split("${number}")]
                    self._patterns.append((re.compile("^" + ".+".join(parts) + "$"), trunk))

    def trunk_of(self, dial_string: str) -> str | None:
        for pattern, trunk in self._patterns:
            if pattern.match(dial_string):
                return trunk
        return None


def _raw_value(raw: dict[str, Any], *names: str) -> str:
    for name in names:
        value = raw.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def skill_of(event: PbxEvent) -> str:
    """The skill group the edge put on the event (``HOTLINE_SKILL``, as header or AMI channel variable)."""
    direct = _raw_value(event.raw, "HOTLINE_SKILL", "variable_hotline_skill")
    if direct:
        return direct
    values = event.raw.get("ChanVariable", [])
    for item in [values] if isinstance(values, str) else values:
        name, _, value = str(item).partition("=")
        if name.strip() == "HOTLINE_SKILL" and value.strip():
            return value.strip()
    return ""


def agent_of(event: PbxEvent) -> str:
    """The agent of an ``agent_connect`` (Asterisk ``MemberName``/``Interface``, FreeSWITCH ``CC-Agent``)."""
    return _raw_value(event.raw, "MemberName", "Interface", "CC-Agent")


@dataclass
class Tally:
    """Applies events to call states; collects the gauge deltas and finished offers they cause."""

    matcher: TrunkMatcher = field(default_factory=lambda: TrunkMatcher({}))
    gauges: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    finished: list[Finished] = field(default_factory=list)

    def apply(self, state: CallState, event: PbxEvent, fingerprint: str) -> bool:
        """Apply ``event`` (its identity: ``fingerprint``) unless the call is past it; whether it was applied.

        Older events are dropped, not merged in: a call's figures follow its
        order (waiting, then answered or abandoned), and an event that comes
        after its call moved on is a replay or a duplicate, not news.
        """
        if state.passed(event, fingerprint):
            return False
        state.seen = [*state.seen, fingerprint] if event.ts == state.ts and state.seen else [fingerprint]
        state.ts = event.ts
        handler = _HANDLERS.get(event.kind)
        if handler is not None:
            handler(self, state, event)
        return True

    # -- bookkeeping ----------------------------------------------------------

    def _gauge(self, offer: Offer, figure: str, delta: int) -> None:
        self.gauges[(str(offer.dim), offer.name, figure)] += delta

    def _open(self, state: CallState, offer: Offer) -> None:
        state.offers.append(offer)
        self._gauge(offer, WAITING, 1)

    def _settle(self, state: CallState, call_id: str, offer: Offer, result: Result, at: float) -> None:
        """Record ``offer``'s fate; an answered offer stays open as TALKING, the others close."""
        if offer.phase is Phase.WAITING:
            self._gauge(offer, WAITING, -1)
        ended = offer.left if result is Result.DIVERTED and offer.left is not None else at
        self.finished.append(Finished(offer.dim, offer.name, call_id, offer.since, ended, result))
        if result is Result.ANSWERED:
            offer.phase = Phase.TALKING
            self._gauge(offer, IN_USE, 1)
        else:
            state.offers.remove(offer)

    @staticmethod
    def _open_for(state: CallState, dims: Iterable[Dimension], key: str | None) -> list[Offer]:
        return [o for o in state.offers if o.dim in dims and o.phase is not Phase.TALKING
                and (key is None or o.key == key)]

    # -- events ---------------------------------------------------------------

    def _queue_join(self, state: CallState, event: PbxEvent) -> None:
        if self._open_for(state, _QUEUES, event.queue):
            return  # already waiting there (a repeated join)
        self._open(state, Offer(Dimension.QUEUE, event.queue, event.ts, key=event.queue))
        if skill := skill_of(event):
            self._open(state, Offer(Dimension.SKILL, skill, event.ts, key=event.queue))

    def _queue_leave(self, state: CallState, event: PbxEvent) -> None:
        for offer in self._open_for(state, _QUEUES, event.queue):
            if offer.phase is Phase.WAITING:
                self._gauge(offer, WAITING, -1)
                offer.phase, offer.left = Phase.LEFT, event.ts

    def _queue_abandon(self, state: CallState, event: PbxEvent) -> None:
        for offer in self._open_for(state, _QUEUES, event.queue):
            self._settle(state, event.call_id, offer, Result.ABANDONED, event.ts)

    def _agent_connect(self, state: CallState, event: PbxEvent) -> None:
        offers = self._open_for(state, _QUEUES, event.queue)
        since = min((o.since for o in offers), default=event.ts)
        for offer in offers:
            self._settle(state, event.call_id, offer, Result.ANSWERED, event.ts)
        if agent := agent_of(event):
            offer = Offer(Dimension.AGENT, agent, since, key=event.queue)
            self._open(state, offer)
            self._settle(state, event.call_id, offer, Result.ANSWERED, event.ts)

    def _dial_begin(self, state: CallState, event: PbxEvent) -> None:
        trunk = self.matcher.trunk_of(event.exten)
        dim, name = (Dimension.TRUNK, trunk) if trunk else (Dimension.EXTENSION, event.exten)
        if name:
            self._open(state, Offer(dim, name, event.ts, key=_raw_value(event.raw, "DestUniqueid")))

    def _dial_end(self, state: CallState, event: PbxEvent) -> None:
        dest = _raw_value(event.raw, "DestUniqueid")
        result = Result.ANSWERED if event.cause.upper() == "ANSWER" else Result.DIVERTED
        for offer in self._open_for(state, _DIALS, dest or None):
            self._settle(state, event.call_id, offer, result, event.ts)

    def _hangup(self, state: CallState, event: PbxEvent) -> None:
        for offer in list(state.offers):
            if offer.phase is Phase.TALKING:
                self._gauge(offer, IN_USE, -1)
                state.offers.remove(offer)
            else:
                result = Result.DIVERTED if offer.phase is Phase.LEFT else Result.ABANDONED
                self._settle(state, event.call_id, offer, result, event.ts)

    def expire(self, state: CallState) -> None:
        """Forget a call whose hang-up never came: its gauges are undone, nothing is recorded."""
        for offer in state.offers:
            if offer.phase is not Phase.LEFT:
                self._gauge(offer, IN_USE if offer.phase is Phase.TALKING else WAITING, -1)
        state.offers.clear()


_HANDLERS = {
    K.QUEUE_JOIN: Tally._queue_join,
    K.QUEUE_LEAVE: Tally._queue_leave,
    K.QUEUE_ABANDON: Tally._queue_abandon,
    K.AGENT_CONNECT: Tally._agent_connect,
    K.DIAL_BEGIN: Tally._dial_begin,
    K.DIAL_END: Tally._dial_end,
    K.HANGUP: Tally._hangup,
}
