"""End of call: resolve the caller's intent against their history and hand it to the flow engine.

Strategy: two round trips, both per tenant slot (``{tenant}`` hash tag).

1. One MULTI/EXEC transaction on the caller's history sorted set: drop entries
   older than the window, read the rest, record this call, refresh the expiry.
   Reading and recording in one atomic step means two calls from the same
   caller that end together still see each other (the later one is the repeat).
2. The pure resolver (``ivr.intent.resolve``) decides ``repeat`` from what step 1
   read, and one XADD (``MAXLEN ~``) puts the ``IntentEvent`` on the stream.

Why not one Lua round trip: the repeat decision would then live in Lua as a
second copy of ``ivr.intent``'s rule. The decision must read history before the
event exists, so it is a read, a pure decision, then a write. A retry after a
failure between the two steps is safe: this call's own history entry is
ignored by the resolver, and the flow engine dedupes events on call id + template.

An anonymous caller (``caller == ""``) has no history: step 1 is skipped and
the call is never a repeat. Redis errors propagate as ``redis.RedisError``;
the driver logs them (the caller has already left, nothing waits on this).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis

from hotline import keys
from ivr.events import IntentEvent
from ivr.intent import HistoryEntry, IntentRules, intent_of, resolve
from ivr.trajectory import CallRecord

__all__ = ["STREAM_MAXLEN", "CallEnd", "Handoff", "finish_call_async", "finish_call_sync"]

STREAM_MAXLEN = 1_000_000
"""Approximate cap of each tenant's intent stream; consumers keep far less than this pending."""


@dataclass(frozen=True, slots=True)
class CallEnd:
    """What the driver knows when the call script has finished.

    ``started_at``/``ended_at`` are epoch seconds from the driver's clock;
    ``ended_at`` is also "now" for the history window.
    """

    record: CallRecord
    call_id: str
    caller: str
    started_at: float
    ended_at: float


@dataclass(frozen=True, slots=True)
class Handoff:
    """The event as written and its stream entry id."""

    entry_id: str
    event: IntentEvent


def _queue_history(pipe: Any, end: CallEnd, rules: IntentRules) -> None:
    """Queue step 1 on a transaction pipeline (sync or asyncio: queuing is synchronous in both)."""
    key = keys.caller_history(end.record.tenant, end.caller)
    since = end.ended_at - rules.window
    entry = HistoryEntry(end.call_id, intent_of(end.record)[0], end.ended_at)
    pipe.zremrangebyscore(key, "-inf", since)
    pipe.zrangebyscore(key, f"({since!r}", "+inf", withscores=True)
    pipe.zadd(key, {entry.member(): end.ended_at})
    pipe.expire(key, math.ceil(rules.window))


def _event(end: CallEnd, replies: list[Any] | None, rules: IntentRules) -> IntentEvent:
    """Step 2's pure part: the event, from the transaction's replies (``None``: no history read)."""
    rows = replies[1] if replies else []
    history = [HistoryEntry.from_member(member, score) for member, score in rows]
    resolution = resolve(end.record, end.call_id, history, rules, now=end.ended_at)
    return IntentEvent.from_call(end.record, resolution, call_id=end.call_id, caller=end.caller,
                                 started_at=end.started_at, ended_at=end.ended_at)


def _entry_id(raw: str | bytes) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def finish_call_sync(client: redis.Redis, end: CallEnd, rules: IntentRules,
                     maxlen: int = STREAM_MAXLEN) -> Handoff:
    """Blocking hand-off (spawned AGI, gevent ESL). Raises ``redis.RedisError``."""
    replies = None
    if end.caller:
        pipe = client.pipeline(transaction=True)
        _queue_history(pipe, end, rules)
        replies = pipe.execute()
    event = _event(end, replies, rules)
    raw_id = client.xadd(keys.intents_stream(end.record.tenant), event.to_fields(),
                         maxlen=maxlen, approximate=True)
    return Handoff(_entry_id(raw_id), event)


async def finish_call_async(client: aioredis.Redis, end: CallEnd, rules: IntentRules,
                            maxlen: int = STREAM_MAXLEN) -> Handoff:
    """asyncio hand-off (FastAGI). Raises ``redis.RedisError``."""
    replies = None
    if end.caller:
        pipe = client.pipeline(transaction=True)
        _queue_history(pipe, end, rules)
        replies = await pipe.execute()
    event = _event(end, replies, rules)
    raw_id = await client.xadd(keys.intents_stream(end.record.tenant), event.to_fields(),
                               maxlen=maxlen, approximate=True)
    return Handoff(_entry_id(raw_id), event)
