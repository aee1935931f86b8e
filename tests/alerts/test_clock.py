"""The SLA clock on real databases: levels fire on time, once, and stop when someone acts."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from alerts import (
    AlertState,
    Contact,
    Deadline,
    Escalation,
    Level,
    acknowledge,
    find_escalation,
    load_calendars,
    pause_escalation,
    reschedule_escalation,
    resume_escalation,
    start_escalation,
    stop_escalation,
)
from alerts.clock import SlaClock
from alerts.hooks import escalate_task, settle_task
from alerts.plan import Channel, Plan
from hotline.db import create_engine, session_factory
from tests.alerts.conftest import ASSIGNEE, HEAD, REPO, SUPERVISOR, T0, demo_plan, fast_conf, outbox_rows, start

DUE = T0 + timedelta(hours=1)


async def pending(sessions) -> int:  # noqa: ANN001
    async with sessions() as s:
        return (await s.execute(select(func.count()).select_from(Deadline))).scalar_one()


def sent_to(rows) -> list[tuple[int, str, str]]:  # noqa: ANN001
    return [(r.level, str(r.channel), r.recipient) for r in rows]


async def test_levels_fire_at_their_times_to_their_people_each_once(sessions, tenant) -> None:
    await start(sessions, tenant, "1001")
    clock = SlaClock(sessions, fast_conf())
    assert (await clock.run_once(DUE - timedelta(seconds=1))).fired == 0
    assert (await clock.run_once(DUE)).fired == 1
    assert (await clock.run_once(DUE)).fired == 0, "a fired level has no deadline left"
    assert (await clock.run_once(DUE + timedelta(minutes=14, seconds=59))).fired == 0
    assert (await clock.run_once(DUE + timedelta(minutes=15))).fired == 1
    assert (await clock.run_once(DUE + timedelta(minutes=30))).fired == 1
    rows = await outbox_rows(sessions, tenant)
    assert sent_to(rows) == [(1, "wecom", ASSIGNEE.key), (2, "sms", SUPERVISOR.key), (3, "voice", HEAD.key)]
    assert [r.created_at for r in rows] == [DUE, DUE + timedelta(minutes=15), DUE + timedelta(minutes=30)]
    assert [r.address for r in rows] == ["LiNa", SUPERVISOR.phone, HEAD.phone]
    assert all(r.state == AlertState.QUEUED for r in rows)
    assert rows[1].subject.startswith("[L2] Overdue: Fee reduction") and "overdue by 15 min" in rows[1].body
    assert await pending(sessions) == 0


async def test_restart_loses_nothing_and_fires_nothing_twice(db_url, sessions, tenant) -> None:
    await start(sessions, tenant, "1001")
    assert (await SlaClock(sessions).run_once(DUE)).fired == 1
    engine = create_engine(db_url)          # a new process: new engine, new clock
    try:
        stats = await SlaClock(session_factory(engine)).run_once(DUE + timedelta(hours=2))
    finally:
        await engine.dispose()
    assert stats.fired == 2
    assert sent_to(await outbox_rows(sessions, tenant)) == [(1, "wecom", "li.na"), (2, "sms", "wang.fang"),
                                                           (3, "voice", "zhao.lei")]


async def test_replayed_firing_queues_no_second_alert(sessions, tenant) -> None:
    esc_id = await start(sessions, tenant, "1001")
    clock = SlaClock(sessions)
    await clock.run_once(DUE)
    async with sessions.begin() as s:       # a crashed worker's claim replayed: the L1 deadline is back
        await s.execute(insert(Deadline).values(escalation_id=esc_id, level=1, fire_at=DUE, generation=1,
                                                state="pending"))
    stats = await clock.run_once(DUE)
    assert (stats.fired, stats.queued) == (1, 0)
    assert len(await outbox_rows(sessions, tenant)) == 1


async def test_stale_generation_fires_nothing_and_says_why(sessions, tenant) -> None:
    esc_id = await start(sessions, tenant, "1001")
    async with sessions.begin() as s:
        await s.execute(insert(Deadline).values(escalation_id=esc_id, level=9, fire_at=T0, generation=0,
                                                state="pending"))
    stats = await SlaClock(sessions).run_once(T0)
    assert stats.skipped == 1 and stats.skips == ["stale deadline: generation 0, escalation is at 1"]
    assert await outbox_rows(sessions, tenant) == []


async def test_ack_between_levels_stops_the_remaining_levels(sessions, tenant) -> None:
    await start(sessions, tenant, "1001")
    clock = SlaClock(sessions)
    await clock.run_once(DUE)
    async with sessions.begin() as s:
        esc = await find_escalation(s, tenant, "1001")
        assert await acknowledge(s, esc, now=DUE + timedelta(minutes=5), by="li.na", via="api")
        assert not await acknowledge(s, esc, now=DUE + timedelta(minutes=6), by="li.na", via="api")
    assert await pending(sessions) == 0
    assert (await clock.run_once(DUE + timedelta(hours=3))).fired == 0
    rows = await outbox_rows(sessions, tenant)
    assert sent_to(rows) == [(1, "wecom", "li.na")]
    assert rows[0].state == AlertState.CANCELLED, "queued but unsent when acknowledged: never sent"


async def test_acting_on_the_task_stops_escalation(sessions, tenant) -> None:
    await start(sessions, tenant, 1001)
    async with sessions.begin() as s:
        assert await stop_escalation(s, tenant, 1001)
        assert not await stop_escalation(s, tenant, 1001)
    assert (await SlaClock(sessions).run_once(DUE + timedelta(hours=3))).fired == 0
    assert await outbox_rows(sessions, tenant) == []


async def test_pause_and_resume_move_every_deadline(sessions, tenant) -> None:
    await start(sessions, tenant, "1001")
    async with sessions.begin() as s:
        assert await pause_escalation(s, tenant, "1001", now=T0 + timedelta(minutes=30))
    clock = SlaClock(sessions)
    assert (await clock.run_once(T0 + timedelta(hours=5))).fired == 0, "paused deadlines never fire"
    resumed = T0 + timedelta(hours=5)
    async with sessions.begin() as s:
        assert await resume_escalation(s, tenant, "1001", now=resumed)
    assert (await clock.run_once(resumed + timedelta(minutes=29))).fired == 0
    assert (await clock.run_once(resumed + timedelta(minutes=30))).fired == 1
    async with sessions() as s:
        assert (await find_escalation(s, tenant, "1001")).due_at == resumed + timedelta(minutes=30)


async def test_reschedule_lays_out_the_unfired_levels_again(sessions, tenant) -> None:
    await start(sessions, tenant, "1001")
    clock = SlaClock(sessions)
    await clock.run_once(DUE)
    async with sessions.begin() as s:
        assert await reschedule_escalation(s, tenant, "1001", due_at=T0 + timedelta(hours=3))
        assert (await find_escalation(s, tenant, "1001")).generation == 2
    assert (await clock.run_once(DUE + timedelta(minutes=15))).fired == 0
    assert (await clock.run_once(T0 + timedelta(hours=3, minutes=30))).fired == 2
    assert [r.level for r in await outbox_rows(sessions, tenant)] == [1, 2, 3]


async def test_business_hours_deadline_waits_for_monday(sessions, tenant) -> None:
    cal = load_calendars(REPO / "conf").for_tenant(tenant)
    friday = datetime(2026, 12, 4, 9, 40, tzinfo=UTC)            # 17:40 in Shanghai
    await start(sessions, tenant, "1001", started_at=friday, limit=timedelta(0), calendar=cal)
    async with sessions() as s:
        esc = (await s.execute(select(Escalation))).scalar_one()
    # limit 0 → due at the start; L2 is 15 working minutes later: Friday 17:55; L3 (30) Monday 09:10
    clock = SlaClock(sessions, calendars=load_calendars(REPO / "conf"))
    assert esc.calendar == "cn-office"
    assert (await clock.run_once(friday + timedelta(minutes=15))).fired == 2
    assert (await clock.run_once(datetime(2026, 12, 7, 1, 9, tzinfo=UTC))).fired == 0
    assert (await clock.run_once(datetime(2026, 12, 7, 1, 10, tzinfo=UTC))).fired == 1
    rows = await outbox_rows(sessions, tenant)
    assert "CST" in rows[0].body, "the deadline is shown in the calendar's time zone"


async def test_pre_warning_fires_before_the_deadline(sessions, tenant) -> None:
    warn = Level(level=0, at_pct=0.75, channels=(Channel.WECOM,), recipients=(ASSIGNEE,))
    await start(sessions, tenant, "1001", demo_plan(levels=(warn, *demo_plan().levels)))
    stats = await SlaClock(sessions).run_once(T0 + timedelta(minutes=45))
    assert stats.fired == 1
    (row,) = await outbox_rows(sessions, tenant)
    assert row.level == 0 and row.subject.startswith("[L0] Due soon") and "in 15 min" in row.body


async def test_recipient_without_any_address_is_a_visible_failure(sessions, tenant) -> None:
    nobody = Contact(key="ghost", name="No Phone")
    plan = demo_plan(levels=(Level(level=1, channels=(Channel.SMS,), recipients=(nobody,)),))
    await start(sessions, tenant, "1001", plan)
    await SlaClock(sessions).run_once(DUE)
    (row,) = await outbox_rows(sessions, tenant)
    assert row.state == AlertState.FAILED and row.last_error == "no address for ghost on sms, voice"


async def test_two_workers_racing_fire_each_level_once(db_url, sessions, tenant) -> None:
    tasks = [f"{n}" for n in range(60)]
    async with sessions.begin() as s:
        for task in tasks:
            await start_escalation(s, tenant=tenant, task_id=task, plan=demo_plan(), started_at=T0, due_at=DUE)
    engines = [create_engine(db_url), create_engine(db_url)]
    try:
        for e in engines:                   # connect first, so the race is between claims, not connects
            async with e.connect() as conn:
                await conn.execute(select(1))
        clocks = [SlaClock(session_factory(e), batch=5) for e in engines]
        results = await asyncio.gather(*(c.run_once(DUE + timedelta(hours=1)) for c in clocks))
    finally:
        for e in engines:
            await e.dispose()
    assert sum(r.fired for r in results) == 3 * len(tasks), f"a deadline claimed twice counts twice: {results}"
    rows = await outbox_rows(sessions, tenant)
    assert Counter((r.task_id, r.level) for r in rows) == Counter({(t, lv): 1 for t in tasks for lv in (1, 2, 3)})


@pytest.mark.postgres
async def test_rows_another_worker_holds_are_skipped_not_waited_for(db_url, sessions, tenant) -> None:
    for task in ("a", "b", "c", "d"):
        await start(sessions, tenant, task, demo_plan(levels=demo_plan().levels[:1]))
    other = create_engine(db_url)
    try:
        async with other.begin() as conn:   # another worker, mid-claim, holds a and b
            held = (await conn.execute(
                select(Deadline.id).join(Escalation).where(Escalation.task_id.in_(["a", "b"])).with_for_update()
            )).scalars().all()
            assert len(held) == 2
            stats = await asyncio.wait_for(SlaClock(sessions).run_once(DUE), timeout=5)
            assert stats.fired == 2, "the free rows fire without waiting for the held ones"
        stats = await SlaClock(sessions).run_once(DUE)
    finally:
        await other.dispose()
    assert stats.fired == 2
    assert sorted(r.task_id for r in await outbox_rows(sessions, tenant)) == ["a", "b", "c", "d"]


async def test_a_due_warning_fires_within_a_second(sessions, tenant) -> None:
    due = datetime.now(UTC) + timedelta(milliseconds=300)
    plan = demo_plan(levels=demo_plan().levels[:1])
    await start(sessions, tenant, "1001", plan, started_at=due - timedelta(hours=1))
    stop = asyncio.Event()
    runner = asyncio.create_task(SlaClock(sessions, fast_conf()).run(stop))
    try:
        for _ in range(40):
            if await outbox_rows(sessions, tenant):
                break
            await asyncio.sleep(0.05)
        seen = datetime.now(UTC)
    finally:
        stop.set()
        await runner
    rows = await outbox_rows(sessions, tenant)
    assert len(rows) == 1
    assert timedelta(0) <= rows[0].created_at - due < timedelta(seconds=1)
    assert seen - due < timedelta(seconds=1)


async def test_flow_hook_counts_the_limit_in_business_hours_and_skips_plans_without_levels(sessions, tenant) -> None:
    cal = load_calendars(REPO / "conf").for_tenant(tenant)
    friday = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)            # 17:30 in Shanghai
    rules = [{"level": 1, "after_s": 0, "channels": ["wecom"], "recipients": [{"assignee": True}]}]
    async with sessions.begin() as s:
        esc = await escalate_task(s, tenant=tenant, task_id=7, started_at=friday, limit=timedelta(hours=1),
                                  warning_plan=rules, title="Ticket #7", calendar=cal)
        assert esc.due_at == datetime(2026, 12, 7, 1, 30, tzinfo=UTC), "Monday 09:30 in Shanghai"
        assert Plan.model_validate(esc.plan).levels[0].recipients == (), "people rules are resolved when it fires"
        assert await escalate_task(s, tenant=tenant, task_id=8, started_at=friday, limit=timedelta(hours=1),
                                   warning_plan=[], title="no warnings") is None
        assert await settle_task(s, tenant, 7, reason="approved")
    stats = await SlaClock(sessions).run_once(datetime(2026, 12, 8, tzinfo=UTC))
    assert stats.fired == 0


async def test_level_without_recipients_and_no_resolver_is_logged_not_sent(sessions, tenant) -> None:
    plan = Plan.from_warning_plan([{"level": 1, "after_s": 0, "channels": ["sms"], "recipients": [{"role": "x"}]}],
                                  title="t")
    await start(sessions, tenant, "1001", plan)
    stats = await SlaClock(sessions).run_once(DUE)
    assert stats.skips == ["no recipients"] and await outbox_rows(sessions, tenant) == []
