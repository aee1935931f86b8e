"""Statistics count each PBX event once, whatever stream entry it comes in: replays, re-sent XADDs, late joins."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import func, select

from api.stats.consumer import GROUP, StatsRecorder
from api.stats.intervals import roll_up
from api.stats.live import claim_dirty, snapshot, sweep
from api.stats.offers import CallState, Tally
from api.stats.tables import StatsOffer
from hotline import stream_admin
from hotline.keys import pbx_events_stream
from hotline.pbx_events import PbxEvent
from hotline.pbx_events import PbxEventKind as K
from hotline.streams import Entry, StreamConsumer, decode_entries, ensure_group
from tests.web.test_stats import (
    BILLING_AFTER_SCRIPT,
    MATCHER,
    REPORT,
    T0,
    apply,
    ev,
    interval_rows,
    recorder_of,
    script,
)

INTERVALS = [int(T0), int(T0) + 900]


async def consumer_of(async_redis, tenant: str, batch: int = 100) -> StreamConsumer:
    consumer = StreamConsumer(async_redis, pbx_events_stream(tenant), GROUP, "node-a", batch=batch, block_ms=10)
    await ensure_group(async_redis, consumer.stream, GROUP)
    return consumer


async def drain(consumer: StreamConsumer, recorder: StatsRecorder) -> int:
    """Run the worker's loop until the stream has nothing new; returns the entries handled."""
    handled = 0
    while count := await consumer.run_once(recorder.handle):
        handled += count
    return handled


async def xadd(async_redis, tenant: str, events: list[PbxEvent]) -> None:
    for event in events:
        await async_redis.xadd(pbx_events_stream(tenant), event.to_fields())


async def everything(async_redis, sessions, tenant: str) -> tuple[Any, ...]:
    """Every figure statistics keep: live figures and today's counts, report rows, settled offers."""
    async with sessions() as session:
        offers = (await session.execute(select(func.count()).where(StatsOffer.tenant == tenant))).scalar_one()
    return await snapshot(async_redis, tenant, now=T0), await interval_rows(sessions, tenant), offers


async def test_calls_replayed_from_the_dead_letters_after_they_were_applied_change_nothing(
        engine, sessions, async_redis, sync_redis, tenant) -> None:
    recorder = await recorder_of(engine, async_redis, tenant)
    consumer = await consumer_of(async_redis, tenant)
    await xadd(async_redis, tenant, script(tenant))
    await drain(consumer, recorder)
    await roll_up(engine, tenant, await claim_dirty(async_redis, tenant, T0 + 1805, grace_s=5))
    before = await everything(async_redis, sessions, tenant)
    assert before[1] == REPORT

    applied = decode_entries(await async_redis.xrange(consumer.stream))
    await consumer.bury(applied, "RuntimeError: sent back for the test")  # as if their batch had given up
    dead, _ = stream_admin.dead_letters(sync_redis, tenant, stream_admin.STREAMS["pbx-events"])
    stream_admin.replay(sync_redis, tenant, stream_admin.STREAMS["pbx-events"], [d.id for d in dead])
    assert await drain(consumer, recorder) == len(applied)  # every call again, as new entries after the originals

    assert await claim_dirty(async_redis, tenant, T0 + 1805, grace_s=5) == []  # no report to rewrite
    await roll_up(engine, tenant, INTERVALS)
    assert await everything(async_redis, sessions, tenant) == before


@pytest.mark.parametrize("twice", ["each right after itself", "the whole script again"])
async def test_the_interval_report_stays_exact_with_every_event_sent_twice(
        engine, sessions, async_redis, tenant, twice: str) -> None:
    """Right after itself: a producer re-sending an XADD whose reply was lost (batches of 7 split some pairs)."""
    events = script(tenant)
    doubled = [e for e in events for _ in range(2)] if twice.startswith("each") else events + events
    recorder = await recorder_of(engine, async_redis, tenant)
    await xadd(async_redis, tenant, doubled)
    assert await drain(await consumer_of(async_redis, tenant, batch=7), recorder) == 2 * len(events)
    await roll_up(engine, tenant, await claim_dirty(async_redis, tenant, T0 + 1805, grace_s=5))
    live, report, offers = await everything(async_redis, sessions, tenant)
    assert report == REPORT and offers == 13
    assert live["queue"]["billing"] == BILLING_AFTER_SCRIPT
    assert live["agent"]["alice"] == {"waiting": 0, "in_use": 1, "offered": 2, "answered": 2, "abandoned": 0,
                                      "diverted": 0}


async def test_a_replayed_queue_join_does_not_make_an_answered_call_wait_again(engine, async_redis, tenant) -> None:
    recorder, ids = await recorder_of(engine, async_redis, tenant), itertools.count(1)
    join = ev(tenant, K.QUEUE_JOIN, "c1", 10, queue="billing")

    async def send(*events: PbxEvent) -> dict[str, int]:
        await recorder.handle([Entry(f"{next(ids)}-0", e.to_fields()) for e in events])
        return (await snapshot(async_redis, tenant, now=T0))["queue"]["billing"]

    await send(join, ev(tenant, K.AGENT_CONNECT, "c1", 15, queue="billing", raw={"MemberName": "alice"}))
    talking = {"waiting": 0, "in_use": 1, "offered": 1, "answered": 1, "abandoned": 0, "diverted": 0}
    assert await send(join) == talking
    late = ev(tenant, K.QUEUE_JOIN, "c1", 12, queue="billing", raw={"Position": "1"})  # never applied: it died
    assert await send(late) == talking

    await send(ev(tenant, K.HANGUP, "c1", 300))
    ended = {**talking, "in_use": 0}
    assert await send(join) == ended
    await sweep(recorder.lock, tenant, T0 + 5 * 3600)  # long after the call, well within the replay window
    assert await send(join, late) == ended


def test_events_of_one_call_at_the_same_instant_count_apart_and_once_each() -> None:
    """A parallel dial rings two phones at the same microsecond: only the events' contents tell them apart."""
    tally, state = Tally(MATCHER), CallState()
    first = ev("t", K.DIAL_BEGIN, "c", 0, exten="6001", raw={"DestUniqueid": "d1"})
    second = ev("t", K.DIAL_BEGIN, "c", 0, exten="6002", raw={"DestUniqueid": "d2"})
    assert [apply(tally, state, e) for e in (first, second, first, second)] == [True, True, False, False]
    assert tally.gauges == {("extension", "6001", "waiting"): 1, ("extension", "6002", "waiting"): 1}
