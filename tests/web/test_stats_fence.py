"""Two nodes applying one batch at once count it once: the lock fences every statistics write to Redis."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select

from api.stats.consumer import LOCK_TTL_MS, StatsRecorder
from api.stats.intervals import roll_up
from api.stats.live import claim_dirty, snapshot, sweep
from api.stats.lock import LockLost
from api.stats.tables import StatsOffer
from bench.stats import CountingConnection
from hotline.streams import Entry, StreamConsumer
from tests.web.test_stats import BILLING_AFTER_SCRIPT, REPORT, T0, entries, interval_rows, recorder_of, script
from tests.web.test_stats_replay import consumer_of, xadd


async def lapse(recorder: StatsRecorder) -> None:
    """The lock's expiry passes while its holder is stuck in SQL (what a stall longer than 15 s does)."""
    await recorder.redis.delete(recorder.lock.key)


async def test_a_batch_applied_by_two_nodes_at_once_counts_once_and_the_loser_does_not_ack(
        engine, sessions, async_redis, tenant) -> None:
    node_a = await recorder_of(engine, async_redis, tenant, holder="node-a")
    node_b = StatsRecorder(engine, async_redis, tenant, node_a.matcher, "node-b")
    consumer_a = await consumer_of(async_redis, tenant)
    events = script(tenant)
    await xadd(async_redis, tenant, events)

    async def stalled(batch: list[Entry]) -> None:
        """Node A reads the calls' states, then stalls in SQL; node B takes over and applies the same events
        from the same states; then node A carries on: the interleaving that used to count twice."""
        plan = await node_a.plan(batch)
        await lapse(node_a)
        assert await node_b.lock.hold(LOCK_TTL_MS)
        assert (await node_b.handle(batch)).finished  # B found the states A read: the same work
        await node_a.commit(*plan)

    assert await consumer_a.run_once(stalled) == 0  # node A gave the batch up
    pending = await async_redis.xpending(consumer_a.stream, consumer_a.group)
    assert pending["consumers"] == [{"name": b"node-a", "pending": len(events)}]

    consumer_b = StreamConsumer(async_redis, consumer_a.stream, consumer_a.group, "node-b", claim_idle_ms=0)
    assert await consumer_b.run_once(node_b.handle) == len(events)  # B reclaims A's batch: a no-op, acked
    assert (await async_redis.xpending(consumer_a.stream, consumer_a.group))["pending"] == 0

    await roll_up(engine, tenant, await claim_dirty(async_redis, tenant, T0 + 1805, grace_s=5))
    assert await interval_rows(sessions, tenant) == REPORT
    live = await snapshot(async_redis, tenant, now=T0)
    assert live["queue"]["billing"] == BILLING_AFTER_SCRIPT
    async with sessions() as session:
        assert (await session.execute(select(func.count()).where(StatsOffer.tenant == tenant))).scalar_one() == 13


async def test_a_sweep_by_a_node_that_lost_the_lock_undoes_no_gauge(engine, async_redis, tenant) -> None:
    node_a = await recorder_of(engine, async_redis, tenant, holder="node-a")
    await node_a.handle(entries(script(tenant)))
    await lapse(node_a)
    node_b = await recorder_of(engine, async_redis, tenant, holder="node-b")
    assert await sweep(node_b.lock, tenant, T0 + 5 * 3600) == 2  # c6 and c7 never hung up
    with pytest.raises(LockLost):
        await sweep(node_a.lock, tenant, T0 + 5 * 3600)
    assert (await snapshot(async_redis, tenant, now=T0))["queue"]["billing"]["in_use"] == 0  # not -1


async def test_the_fenced_write_is_still_one_round_trip_per_batch(engine, redis_url, tenant) -> None:
    redis = aioredis.Redis.from_url(redis_url, connection_class=CountingConnection)
    try:
        recorder = await recorder_of(engine, redis, tenant)
        events = entries(script(tenant))
        await recorder.handle(events[:5])  # loads the script into Redis once
        before = CountingConnection.sent
        await recorder.handle(events[5:])
        assert CountingConnection.sent - before == 2  # read the states, then the fenced write
    finally:
        await redis.aclose()
