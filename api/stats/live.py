"""The live figures in Redis: call states, gauges, today's counts, and the intervals waiting for a roll-up.

Strategy: a batch's whole effect on Redis (states, gauge deltas, day counts,
dirty intervals) goes in one atomic write, fenced by the statistics lock
(``api.stats.lock``), so either all of it lands or none and the batch is
retried, and a node that lost the lock mid-batch writes nothing. A call's
state says how far its events were applied (``api.stats.offers.CallState``)
and lands in the same step as the
counts those events caused: that is what makes a retried batch, a
redelivery, a replay or a duplicated XADD harmless.

A call with an open offer keeps its whole state in a hash. Once nothing is
open (hung up, or not offered anywhere yet) all that is kept is the time of
its last event, in a sorted set trimmed after ``REPLAY_WINDOW_S``: one
member per call, not a key per event, and a late event is checked against it.

Hash fields are ``dimension|name|figure``: dimension and figure never hold a
``|``, so a name (a dial string, say) may.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime

import redis.asyncio as aioredis

from api.stats.intervals import INTERVAL_S, interval_start
from api.stats.lock import StatsLock, Writes
from api.stats.offers import IN_USE, WAITING, CallState, Tally
from hotline.keys import stats_calls, stats_closed, stats_day, stats_dirty, stats_live
from hotline.pbx_events import REPLAY_WINDOW_S

__all__ = ["DAY_TTL_S", "STALE_S", "claim_dirty", "load_states", "mark_dirty", "snapshot", "sweep", "write"]

#: Today's counts are kept this long (yesterday's stay readable for a day).
DAY_TTL_S = 2 * 86_400
#: A call with open offers and no event for this long lost its hang-up: it is forgotten.
STALE_S = 4 * 3600
#: Figures the monitor shows per target, in order.
FIGURES = (WAITING, IN_USE, "offered", "answered", "abandoned", "diverted")


def day_of(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y%m%d")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _state(stored: bytes | None, closed_at: float | None) -> CallState:
    if stored:
        return CallState.from_json(stored)
    return CallState() if closed_at is None else CallState.closed(closed_at)


async def load_states(redis: aioredis.Redis, tenant: str, call_ids: list[str]) -> dict[str, CallState]:
    """The stored state of each call (a fresh one for calls not seen yet), in one round trip."""
    if not call_ids:
        return {}
    pipe = redis.pipeline(transaction=False)
    pipe.hmget(stats_calls(tenant), call_ids)
    pipe.zmscore(stats_closed(tenant), call_ids)
    stored, closed = await pipe.execute()
    return {cid: _state(raw, at) for cid, raw, at in zip(call_ids, stored, closed, strict=True)}


async def write(lock: StatsLock, tenant: str, states: dict[str, CallState], tally: Tally) -> None:
    """Store the states (those the tally changed) and everything the tally collected, atomically and only
    while ``lock`` is still held (``api.stats.lock``): raises ``LockLost`` otherwise."""
    call = Writes()
    open_calls = [x for cid, s in states.items() if s.offers for x in (cid, s.to_json())]
    if open_calls:
        call("HSET", stats_calls(tenant), *open_calls)
    _close(call, tenant, {cid: s.ts for cid, s in states.items() if not s.offers})
    _add_gauges(call, tenant, tally)
    days: set[str] = set()
    for f in tally.finished:
        key = stats_day(tenant, day_of(f.ended))
        days.add(key)
        call("HINCRBY", key, f"{f.dim}|{f.name}|offered", 1)
        call("HINCRBY", key, f"{f.dim}|{f.name}|{f.result}", 1)
    for key in days:
        call("EXPIRE", key, DAY_TTL_S)
    if tally.finished:
        call("SADD", stats_dirty(tenant), *{interval_start(f.ended) for f in tally.finished})
    await lock.write(call)


def _close(call: Writes, tenant: str, last_event: dict[str, float]) -> None:
    """Keep only the time of the last event of calls with nothing open (see the module docstring)."""
    if last_event:
        call("HDEL", stats_calls(tenant), *last_event)
        call("ZADD", stats_closed(tenant), *(x for cid, ts in last_event.items() for x in (ts, cid)))


def _add_gauges(call: Writes, tenant: str, tally: Tally) -> None:
    for (dim, name, figure), delta in tally.gauges.items():
        if delta:
            call("HINCRBY", stats_live(tenant), f"{dim}|{name}|{figure}", delta)


async def sweep(lock: StatsLock, tenant: str, now: float) -> int:
    """Forget calls with no event for ``STALE_S`` (their gauges undone) and closed calls past the replay
    window; returns the calls forgotten. Fenced by ``lock`` like ``write``: two sweeps must not undo a gauge twice."""
    tally = Tally()
    stale: dict[str, float] = {}
    async for cid, raw in lock.redis.hscan_iter(stats_calls(tenant)):
        state = CallState.from_json(raw)
        if state.ts < now - STALE_S:
            tally.expire(state)
            stale[_text(cid)] = state.ts
    call = Writes()
    _close(call, tenant, stale)
    _add_gauges(call, tenant, tally)
    call("ZREMRANGEBYSCORE", stats_closed(tenant), "-inf", now - REPLAY_WINDOW_S)
    await lock.write(call)
    return len(stale)


async def claim_dirty(redis: aioredis.Redis, tenant: str, now: float, grace_s: float) -> list[int]:
    """Intervals over (by ``grace_s``) that need their report rewritten; they leave the dirty set.

    The caller rolls them up next; should that fail it calls ``mark_dirty``.
    """
    starts = sorted(int(_text(v)) for v in await redis.smembers(stats_dirty(tenant)))
    due = [s for s in starts if s + INTERVAL_S + grace_s <= now]
    if due:
        await redis.srem(stats_dirty(tenant), *due)
    return due


async def mark_dirty(redis: aioredis.Redis, tenant: str, starts: Iterable[int]) -> None:
    starts = list(starts)
    if starts:
        await redis.sadd(stats_dirty(tenant), *starts)


Figures = dict[str, dict[str, dict[str, int]]]


async def snapshot(redis: aioredis.Redis, tenant: str, now: float | None = None) -> Figures:
    """Live figures as ``{dimension: {name: {figure: n}}}``: gauges now, counts since UTC midnight."""
    pipe = redis.pipeline(transaction=False)
    pipe.hgetall(stats_live(tenant))
    pipe.hgetall(stats_day(tenant, day_of(time.time() if now is None else now)))
    gauges, counts = await pipe.execute()
    out: dict[str, dict[str, dict[str, int]]] = {}
    for field, value in [*gauges.items(), *counts.items()]:
        dim, _, rest = _text(field).partition("|")
        name, _, figure = rest.rpartition("|")
        figures = out.setdefault(dim, {}).setdefault(name, dict.fromkeys(FIGURES, 0))
        figures[figure] = max(0, int(value))
    return {dim: dict(sorted(names.items())) for dim, names in sorted(out.items())}
