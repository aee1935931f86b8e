"""Statistics: PBX events become settled offers, live figures and 15-minute reports that match exactly."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.stats.consumer import LOCK_TTL_MS, StatsRecorder, stats
from api.stats.intervals import p90, roll_up, summarize
from api.stats.live import claim_dirty, snapshot, sweep
from api.stats.offers import CallState, Result, Tally, TrunkMatcher
from api.stats.tables import StatsInterval, StatsOffer
from hotline.keys import pbx_events_stream, stats_calls, stats_closed
from hotline.pbx_events import REPLAY_WINDOW_S, PbxEvent, fingerprint
from hotline.pbx_events import PbxEventKind as K
from hotline.serve import Runtime
from hotline.settings import Settings
from hotline.streams import Entry

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC).timestamp()
MATCHER = TrunkMatcher({"primary": "PJSIP/${number}@carrier-a", "backup": "sofia/gateway/carrier_b/${number}"})


def ev(tenant: str, kind: K, call: str, at: float, **fields: Any) -> PbxEvent:
    raw = fields.pop("raw", {})
    return PbxEvent(tenant=tenant, pbx="ast-1", kind=kind, call_id=call, ts=T0 + at, raw=raw, **fields)


def script(tenant: str) -> list[PbxEvent]:
    """Nine calls with known fates (seconds after 10:00:00 UTC)."""
    q, agent = "billing", lambda name: {"MemberName": name}
    return [
        ev(tenant, K.QUEUE_JOIN, "c1", 10, queue=q),                     # answered after 5 s by alice
        ev(tenant, K.AGENT_CONNECT, "c1", 15, queue=q, raw=agent("alice")),
        ev(tenant, K.QUEUE_JOIN, "c2", 60, queue=q),                     # answered after 30 s by bob
        ev(tenant, K.AGENT_CONNECT, "c2", 90, queue=q, raw=agent("bob")),
        ev(tenant, K.QUEUE_JOIN, "c3", 120, queue=q),                    # abandoned after 45 s
        ev(tenant, K.QUEUE_ABANDON, "c3", 165, queue=q),
        ev(tenant, K.QUEUE_LEAVE, "c3", 165, queue=q),
        ev(tenant, K.HANGUP, "c3", 165),
        ev(tenant, K.HANGUP, "c2", 180),
        ev(tenant, K.QUEUE_JOIN, "c4", 180, queue=q),                    # left after 60 s (timeout): diverted
        ev(tenant, K.QUEUE_LEAVE, "c4", 240, queue=q),
        ev(tenant, K.HANGUP, "c4", 270),
        ev(tenant, K.HANGUP, "c1", 300),
        ev(tenant, K.QUEUE_JOIN, "c5", 300, queue=q),                    # hung up while waiting: abandoned
        ev(tenant, K.HANGUP, "c5", 312),
        ev(tenant, K.QUEUE_JOIN, "c7", 360, queue="general"),            # answered after 8 s by carol
        ev(tenant, K.AGENT_CONNECT, "c7", 368, queue="general", raw=agent("carol")),
        ev(tenant, K.DIAL_BEGIN, "c8", 420, exten="4001@carrier-a", raw={"DestUniqueid": "d8"}),  # trunk
        ev(tenant, K.DIAL_END, "c8", 424, cause="ANSWER", raw={"DestUniqueid": "d8"}),
        ev(tenant, K.DIAL_BEGIN, "c9", 480, exten="6001", raw={"DestUniqueid": "d9"}),            # extension
        ev(tenant, K.DIAL_END, "c9", 500, cause="NOANSWER", raw={"DestUniqueid": "d9"}),
        ev(tenant, K.HANGUP, "c8", 540),
        ev(tenant, K.HANGUP, "c9", 501),
        ev(tenant, K.QUEUE_JOIN, "c6", 890, queue=q),                    # answered at 10:15:05: next interval
        ev(tenant, K.AGENT_CONNECT, "c6", 905, queue=q, raw=agent("alice")),
    ]


def entries(events: list[PbxEvent]) -> list[Entry]:
    return [Entry(f"{1000 + i}-0", e.to_fields()) for i, e in enumerate(events)]


async def recorder_of(engine, redis, tenant: str, matcher: TrunkMatcher = MATCHER,
                      holder: str = "node-a") -> StatsRecorder:
    """A recorder holding the tenant's statistics lock, as the worker's loop has it before each batch."""
    recorder = StatsRecorder(engine, redis, tenant, matcher, holder)
    assert await recorder.lock.hold(LOCK_TTL_MS)
    return recorder


def apply(tally: Tally, state: CallState, event: PbxEvent) -> bool:
    return tally.apply(state, event, fingerprint(event.to_fields()))


async def interval_rows(sessions, tenant: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    async with sessions() as session:
        rows = (await session.execute(select(StatsInterval).where(StatsInterval.tenant == tenant))).scalars()
        return {(r.starts_at.strftime("%H:%M"), r.dimension, r.name): {
            "offered": r.offered, "answered": r.answered, "abandoned": r.abandoned, "diverted": r.diverted,
            "answered_20s": r.answered_20s, "avg_wait_s": r.avg_wait_s, "p90_wait_s": r.p90_wait_s} for r in rows}


def figures(offered: int, answered: int, abandoned: int, diverted: int, a20: int, avg: float | None,
            high: float | None) -> dict[str, Any]:
    return {"offered": offered, "answered": answered, "abandoned": abandoned, "diverted": diverted,
            "answered_20s": a20, "avg_wait_s": avg, "p90_wait_s": high}


#: The interval report of ``script``, worked out by hand.
REPORT = {
    ("10:00", "queue", "billing"): figures(5, 2, 2, 1, 1, 17.5, 30.0),
    ("10:00", "queue", "general"): figures(1, 1, 0, 0, 1, 8.0, 8.0),
    ("10:00", "agent", "alice"): figures(1, 1, 0, 0, 1, 5.0, 5.0),
    ("10:00", "agent", "bob"): figures(1, 1, 0, 0, 0, 30.0, 30.0),
    ("10:00", "agent", "carol"): figures(1, 1, 0, 0, 1, 8.0, 8.0),
    ("10:00", "trunk", "primary"): figures(1, 1, 0, 0, 1, 4.0, 4.0),
    ("10:00", "extension", "6001"): figures(1, 0, 0, 1, 0, None, None),
    ("10:15", "queue", "billing"): figures(1, 1, 0, 0, 1, 15.0, 15.0),
    ("10:15", "agent", "alice"): figures(1, 1, 0, 0, 1, 15.0, 15.0),
}
#: The live figures of the billing queue once all of ``script`` is in: c6 still talking to alice.
BILLING_AFTER_SCRIPT = {"waiting": 0, "in_use": 1, "offered": 6, "answered": 3, "abandoned": 2, "diverted": 1}


async def test_interval_report_matches_a_scripted_set_of_calls_exactly(engine, sessions, async_redis, tenant) -> None:
    recorder = await recorder_of(engine, async_redis, tenant)
    await recorder.handle(entries(script(tenant)))
    assert await claim_dirty(async_redis, tenant, T0 + 900, grace_s=5) == []  # 10:00 is not over + grace yet
    due = await claim_dirty(async_redis, tenant, T0 + 1800 + 5, grace_s=5)
    assert due == [int(T0), int(T0) + 900]
    await roll_up(engine, tenant, due)

    assert await interval_rows(sessions, tenant) == REPORT


async def test_live_figures_count_waiting_and_in_use_now_and_results_since_midnight(engine, async_redis, tenant) -> None:
    recorder = await recorder_of(engine, async_redis, tenant)
    events = script(tenant)
    await recorder.handle(entries(events[:5]))  # c1 talking, c2 answered, c3 waiting
    live = await snapshot(async_redis, tenant, now=T0)
    assert live["queue"]["billing"] == {"waiting": 1, "in_use": 2, "offered": 2, "answered": 2, "abandoned": 0,
                                        "diverted": 0}
    await recorder.handle(entries(events)[5:])
    live = await snapshot(async_redis, tenant, now=T0)
    assert live["queue"]["billing"] == BILLING_AFTER_SCRIPT
    assert live["agent"]["alice"]["in_use"] == 1 and live["agent"]["bob"]["in_use"] == 0
    assert live["trunk"]["primary"] == {"waiting": 0, "in_use": 0, "offered": 1, "answered": 1, "abandoned": 0,
                                        "diverted": 0}


async def test_a_redelivered_batch_changes_nothing(engine, sessions, async_redis, tenant) -> None:
    recorder = await recorder_of(engine, async_redis, tenant)
    batch = entries(script(tenant))
    await recorder.handle(batch)
    before = await snapshot(async_redis, tenant, now=T0)
    again = await recorder.handle(batch)
    assert again.finished == [] and not any(again.gauges.values())
    assert await snapshot(async_redis, tenant, now=T0) == before
    async with sessions() as session:
        offers = (await session.execute(select(StatsOffer).where(StatsOffer.tenant == tenant))).scalars().all()
    assert len(offers) == 13


async def test_sweep_forgets_lost_calls_and_closed_ones_past_the_replay_window(engine, async_redis, tenant) -> None:
    recorder = await recorder_of(engine, async_redis, tenant)
    await recorder.handle(entries(script(tenant)))
    assert await async_redis.hlen(stats_calls(tenant)) == 2  # c6 and c7 talk; the 7 others are closed
    assert await async_redis.zcard(stats_closed(tenant)) == 7
    assert await sweep(recorder.lock, tenant, T0 + 3600) == 0
    assert await sweep(recorder.lock, tenant, T0 + 5 * 3600) == 2  # c6 and c7 never hung up
    live = await snapshot(async_redis, tenant, now=T0)
    assert live["queue"]["billing"]["in_use"] == 0 and live["agent"]["alice"]["in_use"] == 0
    assert await async_redis.hlen(stats_calls(tenant)) == 0
    assert await async_redis.zcard(stats_closed(tenant)) == 9  # lost calls are closed too: no replay reopens them
    await sweep(recorder.lock, tenant, T0 + 900 + REPLAY_WINDOW_S)  # a week after 10:15: only c6 (10:15:05) is left
    assert await async_redis.zrange(stats_closed(tenant), 0, -1) == [b"c6"]


def test_p90_is_the_nearest_rank() -> None:
    assert p90([]) is None
    assert p90([7]) == 7
    assert p90(list(range(1, 11))) == 9
    assert p90(list(range(1, 12))) == 10
    assert summarize([("answered", 20_000), ("answered", 20_001), ("abandoned", 3_000)]).answered_20s_share == 0.3333


@pytest.mark.parametrize(("dial", "trunk"), [
    ("4001@carrier-a", "primary"), ("PJSIP/4001@carrier-a", "primary"), ("gateway/carrier_b/4001", "backup"),
    ("sofia/gateway/carrier_b/4001", "backup"), ("6001", None), ("4001@carrier-b", None),
])
def test_dial_strings_are_told_apart_by_the_trunks_dial_templates(dial: str, trunk: str | None) -> None:
    assert MATCHER.trunk_of(dial) == trunk


def test_a_repeated_join_does_not_count_twice() -> None:
    tally, state = Tally(), CallState()
    apply(tally, state, ev("t", K.QUEUE_JOIN, "c", 0, queue="q"))
    apply(tally, state, ev("t", K.QUEUE_JOIN, "c", 1, queue="q"))
    apply(tally, state, ev("t", K.HANGUP, "c", 5))
    assert [(f.result, f.wait_ms) for f in tally.finished] == [(Result.ABANDONED, 5000)]
    assert tally.gauges[("queue", "q", "waiting")] == 0


async def test_the_serve_part_reads_the_stream_and_keeps_figures(engine, async_redis, redis_url, tenant,
                                                                 tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    (conf / "ivr" / tenant).mkdir(parents=True)
    runtime = Runtime(Settings(conf_dir=conf, data_dir=tmp_path, redis_url=redis_url), engine, async_redis, redis_url)
    for event in script(tenant)[:2]:
        await async_redis.xadd(pbx_events_stream(tenant), event.to_fields())
    async with stats(runtime):
        for _ in range(100):
            live = await snapshot(async_redis, tenant, now=T0)
            if live.get("agent", {}).get("alice", {}).get("answered"):
                break
            await asyncio.sleep(0.05)
    assert live["queue"]["billing"]["in_use"] == 1 and live["agent"]["alice"]["answered"] == 1


def test_a_skill_group_named_by_the_edge_follows_its_queue() -> None:
    tally, state = Tally(), CallState()
    skill = {"ChanVariable": ["OTHER=x", "HOTLINE_SKILL=billing-en"]}
    apply(tally, state, ev("t", K.QUEUE_JOIN, "c", 0, queue="billing", raw=skill))
    assert tally.gauges[("skill", "billing-en", "waiting")] == 1
    apply(tally, state, ev("t", K.AGENT_CONNECT, "c", 12, queue="billing", raw={"Interface": "PJSIP/6001"}))
    apply(tally, state, ev("t", K.HANGUP, "c", 90))
    assert sorted((str(f.dim), f.name, str(f.result), f.wait_ms) for f in tally.finished) == [
        ("agent", "PJSIP/6001", "answered", 12000), ("queue", "billing", "answered", 12000),
        ("skill", "billing-en", "answered", 12000)]
    assert not any(tally.gauges.values())
