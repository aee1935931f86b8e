"""The statistics worker: PBX events in, live figures and settled offers out, interval reports rolled up.

Strategy: per tenant, one process reads the PBX event stream at a time. It
holds a Redis lock with an expiry, renewed on every loop (``api.stats.lock``), because the live
gauges need each call's events in order and a consumer group alone would hand
consecutive batches to different processes. Another process takes over when
the holder stops renewing (crash, stop). Each batch: load the calls' states,
apply the events the calls are not past yet (``api.stats.offers``: by each
event's fingerprint and time, never its stream id, since a replayed or
re-sent event is a new entry), commit the settled offers to SQL, then write
the changed states and the figures to Redis in one step fenced by the lock,
then ack. A batch that outlasted the lock writes nothing to Redis and is not
acked (``LockLost``): its offers are already in SQL, where the unique
constraint makes the node that took over insert them at most once.
The holder also rolls up finished intervals and sweeps stale call states.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine

from api.stats.intervals import record_offers, roll_up
from api.stats.live import claim_dirty, load_states, mark_dirty, sweep, write
from api.stats.lock import LockLost, StatsLock
from api.stats.offers import CallState, Tally, TrunkMatcher
from hotline.keys import pbx_events_stream
from hotline.logs import get_logger
from hotline.pbx_events import PbxEvent, fingerprint
from hotline.serve import Runtime
from hotline.streams import Entry, StreamConsumer, ensure_group
from hotline.workers import background, tenants_in
from hotline.yamlconf import ConfigErrors
from router.check import ROUTING_FILE, load_routing_config

__all__ = ["GROUP", "StatsRecorder", "stats", "trunk_matchers"]

log = get_logger(__name__)
GROUP = "stats"
LOCK_TTL_MS = 15_000
HOUSEKEEPING_EVERY_S = 30.0
#: An interval is rolled up this long after it ends, so events a little late still land in it first.
ROLLUP_GRACE_S = 5.0

class StatsRecorder:
    """Turns batches of one tenant's PBX events into offers and figures (see the module docstring)."""

    def __init__(self, engine: AsyncEngine, redis: aioredis.Redis, tenant: str, matcher: TrunkMatcher,
                 holder: str) -> None:
        self.engine = engine
        self.redis = redis
        self.tenant = tenant
        self.matcher = matcher
        self.lock = StatsLock(redis, tenant, holder)

    def _events(self, entries: list[Entry]) -> list[tuple[str, PbxEvent]]:
        """Each usable entry's event with its fingerprint."""
        out = []
        for entry in entries:
            try:
                event = PbxEvent.from_fields(entry.fields)
            except (KeyError, ValueError) as exc:
                log.error("malformed PBX event skipped", tenant=self.tenant, entry=entry.id, error=repr(exc))
                continue
            if not event.call_id:
                log.debug("PBX event without a call id skipped", tenant=self.tenant, entry=entry.id)
                continue
            out.append((fingerprint(entry.fields), event))
        return out

    async def handle(self, entries: list[Entry]) -> Tally:
        """Apply one batch; returns the tally (what changed) for callers that want to see it.

        Raises ``LockLost`` if the lock lapsed meanwhile: nothing was written to Redis, the batch stays pending.
        """
        changed, tally = await self.plan(entries)
        await self.commit(changed, tally)
        return tally

    async def plan(self, entries: list[Entry]) -> tuple[dict[str, CallState], Tally]:
        """Read the calls' states and apply the batch to them in memory: the states it changed and its tally."""
        events = self._events(entries)
        states = await load_states(self.redis, self.tenant, list(dict.fromkeys(e.call_id for _, e in events)))
        tally = Tally(self.matcher)
        changed: set[str] = set()
        for identity, event in events:
            if tally.apply(states[event.call_id], event, identity):
                changed.add(event.call_id)
        return {cid: states[cid] for cid in changed}, tally

    async def commit(self, changed: dict[str, CallState], tally: Tally) -> None:
        """Store a plan: settled offers to SQL (idempotent), then the rest to Redis, fenced by the lock."""
        if tally.finished:
            async with self.engine.begin() as conn:
                await record_offers(conn, self.tenant, tally.finished)
        await write(self.lock, self.tenant, changed, tally)

    async def housekeeping(self, now: float) -> None:
        """Roll up the intervals that are over and dirty; forget ended and stale calls."""
        due = await claim_dirty(self.redis, self.tenant, now, ROLLUP_GRACE_S)
        try:
            rows = await roll_up(self.engine, self.tenant, due)
        except BaseException:
            await mark_dirty(self.redis, self.tenant, due)
            raise
        if due:
            log.info("interval reports written", tenant=self.tenant, intervals=len(due), rows=rows)
        await sweep(self.lock, self.tenant, now)


def trunk_matchers(conf_dir: Path) -> dict[str, TrunkMatcher]:
    """Each tenant's trunk dial templates, from routing.yaml; none (everything an extension) if it is unusable."""
    if not (conf_dir / ROUTING_FILE).is_file():
        return {}
    try:
        config = load_routing_config(conf_dir)
    except ConfigErrors as exc:
        log.warning("routing config unusable; dials count as extensions", error=str(exc.errors[0]))
        return {}
    return {tenant: TrunkMatcher({t.name: t.dial for t in routing.trunks})
            for tenant, routing in config.tenants.items()}


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


def _worker(runtime: Runtime, tenant: str, matcher: TrunkMatcher):
    redis, me = runtime.redis, runtime.settings.node_name
    recorder = StatsRecorder(runtime.engine, redis, tenant, matcher, me)
    consumer = StreamConsumer(redis, pbx_events_stream(tenant), GROUP, me)

    async def run(stop: asyncio.Event) -> None:
        next_housekeeping, grouped = 0.0, False
        try:
            while not stop.is_set():
                try:
                    if not await recorder.lock.hold(LOCK_TTL_MS):
                        await _pause(stop, LOCK_TTL_MS / 3000)
                        continue
                    if not grouped:
                        await ensure_group(redis, consumer.stream, GROUP)
                        grouped = True
                    await consumer.run_once(recorder.handle, stop)
                    if time.monotonic() >= next_housekeeping:
                        next_housekeeping = time.monotonic() + HOUSEKEEPING_EVERY_S
                        await recorder.housekeeping(time.time())
                except LockLost:
                    log.warning("statistics lock lapsed during housekeeping; another node took over", tenant=tenant)
                except RedisError as exc:
                    log.warning("statistics: Redis failed; retrying", tenant=tenant, error=str(exc))
                    await _pause(stop, 1.0)
        finally:
            try:
                await recorder.lock.release()
            except RedisError as exc:
                log.warning("statistics lock not released; it lapses", tenant=tenant, error=str(exc))

    return run


@asynccontextmanager
async def stats(runtime: Runtime) -> AsyncIterator[None]:
    """Serve part: one statistics worker per tenant with IVR menus or routing."""
    matchers = trunk_matchers(runtime.settings.conf_dir)
    tenants = sorted(set(tenants_in(runtime.settings.conf_dir, "ivr")) | set(matchers))
    workers = {f"stats:{t}": _worker(runtime, t, matchers.get(t, TrunkMatcher({}))) for t in tenants}
    async with background(workers):
        yield
