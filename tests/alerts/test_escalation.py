"""Batched start and stop: the same rows as one task at a time, in a constant number of statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from alerts import (
    AlertState,
    Deadline,
    Escalation,
    EscalationRequest,
    EscalationState,
    NewEscalation,
    acknowledge,
    escalate_task,
    escalate_tasks,
    find_escalation,
    load_calendars,
    pause_escalation,
    settle_task,
    settle_tasks,
    start_escalation,
    start_escalations,
)
from alerts.clock import SlaClock
from tests.alerts.conftest import REPO, T0, demo_plan, fast_conf, outbox_rows

DUE = T0 + timedelta(hours=1)
RULES = [{"level": 1, "after_s": 0, "channels": ["wecom"], "recipients": [{"assignee": True}]},
         {"level": 2, "after_s": 900, "channels": ["sms"], "recipients": [{"supervisor": True}]}]
PRE_WARNING = [{"level": 1, "at_pct": 0.5, "channels": ["wecom"], "recipients": [{"assignee": True}]},
               *RULES[1:]]


def requests(tenant: str) -> list[EscalationRequest]:
    """Tasks 1-6: wall-clock and business-hours limits, a pre-warning, one node without levels."""
    cal = load_calendars(REPO / "conf").for_tenant(tenant)
    friday = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    return [
        EscalationRequest(1, T0, timedelta(hours=1), RULES, "Ticket #1", "text", "https://x/1"),
        EscalationRequest(2, friday, timedelta(hours=1), RULES, "Ticket #2", calendar=cal),
        EscalationRequest(3, T0, timedelta(hours=4), PRE_WARNING, "Ticket #3"),
        EscalationRequest(4, friday, timedelta(hours=8), PRE_WARNING, "Ticket #4", calendar=cal),
        EscalationRequest(5, T0, timedelta(hours=1), [], "no warnings"),
        EscalationRequest(6, T0 + timedelta(minutes=1), timedelta(minutes=30), RULES, "Ticket #6"),
    ]


async def snapshot(sessions, tenant: str) -> dict[str, Any]:
    """Everything but ids and ack codes: escalations with their deadlines, and outbox rows."""
    async with sessions() as s:
        escs = (await s.scalars(select(Escalation).where(Escalation.tenant == tenant))).all()
        by_id = {e.id: e.task_id for e in escs}
        deadlines = (await s.scalars(select(Deadline).where(Deadline.escalation_id.in_(list(by_id))))).all()
    alerts = await outbox_rows(sessions, tenant)
    return {
        "escalations": {e.task_id: (e.state, e.generation, e.plan, e.calendar, e.started_at, e.due_at, e.paused_at,
                                    len(e.ack_code) == 6 and e.ack_code.isdigit()) for e in escs},
        "deadlines": sorted((by_id[d.escalation_id], d.level, d.fire_at, d.generation, d.state) for d in deadlines),
        "alerts": sorted((a.task_id, a.level, a.state, a.last_error, a.claimed_by) for a in alerts),
    }


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement.split()[0])

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def test_batched_start_lays_out_what_one_task_at_a_time_does(sessions, tenant) -> None:
    one, many = tenant, f"{tenant}-b"
    async with sessions.begin() as s:
        for r in requests(one):
            await escalate_task(s, tenant=one, task_id=r.task_id, started_at=r.started_at, limit=r.limit,
                                warning_plan=r.warning_plan, title=r.title, text=r.text, link=r.link,
                                calendar=r.calendar)
    async with sessions.begin() as s:
        got = await escalate_tasks(s, many, requests(many))
        assert got["5"] is None and sorted(got) == ["1", "2", "3", "4", "5", "6"]
        assert got["2"].due_at == datetime(2026, 12, 7, 1, 30, tzinfo=UTC), "Monday 09:30 in Shanghai"
    left, right = await snapshot(sessions, one), await snapshot(sessions, many)
    assert sorted(left["escalations"]) == ["1", "2", "3", "4", "6"]
    assert left["escalations"] == right["escalations"]
    assert left["deadlines"] == right["deadlines"] and len(left["deadlines"]) == 10


async def test_batched_start_is_idempotent_and_keeps_existing_escalations_as_they_are(sessions, tenant) -> None:
    async with sessions.begin() as s:
        first = await start_escalations(s, tenant, [NewEscalation("7", demo_plan(), T0, DUE, ack_code="111111")])
    later = [NewEscalation(7, demo_plan(title="changed"), T0, DUE + timedelta(hours=9), ack_code="222222"),
             NewEscalation(8, demo_plan(), T0, DUE, ack_code="333333"),
             NewEscalation(8, demo_plan(title="a second item for 8"), T0, DUE, ack_code="444444")]
    async with sessions.begin() as s:
        again = await start_escalations(s, tenant, later)
        assert again["7"].id == first["7"].id and again["7"].ack_code == "111111" and again["7"].due_at == DUE
        assert again["8"].ack_code == "333333", "a task named twice is started once, from its first item"
        assert await start_escalation(s, tenant=tenant, task_id=8, plan=demo_plan(), started_at=T0,
                                      due_at=DUE) is again["8"]
    before = await snapshot(sessions, tenant)
    async with sessions.begin() as s:
        await escalate_tasks(s, tenant, [EscalationRequest(7, T0, timedelta(hours=2), RULES, "again")])
    assert await snapshot(sessions, tenant) == before
    assert [d[:2] for d in before["deadlines"]] == [("7", 1), ("7", 2), ("7", 3), ("8", 1), ("8", 2), ("8", 3)]


async def seed(sessions, tenant: str) -> None:
    """Tasks 1-3 running with L1 fired and queued, 4 paused, 5 acknowledged; 6 never started."""
    async with sessions.begin() as s:
        await start_escalations(s, tenant, [NewEscalation(t, demo_plan(), T0, DUE) for t in range(1, 6)])
    await SlaClock(sessions, fast_conf()).run_once(DUE)
    async with sessions.begin() as s:
        assert await pause_escalation(s, tenant, 4, now=DUE + timedelta(minutes=1))
        assert await acknowledge(s, await find_escalation(s, tenant, 5), now=DUE, by="li.na", via="api")


async def test_batched_settle_stops_and_cancels_what_one_task_at_a_time_does(sessions, tenant) -> None:
    one, many = tenant, f"{tenant}-b"
    reasons = {1: "task approved", 2: "task rejected", 3: "task approved", 4: "task cancelled", 5: "task done",
               6: "task done"}
    await seed(sessions, one)
    await seed(sessions, many)
    async with sessions.begin() as s:
        singles = {t for t, why in reasons.items() if await settle_task(s, one, t, reason=why)}
    async with sessions.begin() as s:
        assert await settle_tasks(s, many, reasons) == {"1", "2", "3", "4"}
    assert singles == {1, 2, 3, 4}
    left, right = await snapshot(sessions, one), await snapshot(sessions, many)
    assert left == right
    assert left["deadlines"] == []
    assert {t: e[:2] for t, e in left["escalations"].items()} == {
        "1": (EscalationState.STOPPED, 2), "2": (EscalationState.STOPPED, 2), "3": (EscalationState.STOPPED, 2),
        "4": (EscalationState.STOPPED, 2), "5": (EscalationState.ACKED, 2)}
    assert left["alerts"] == [
        ("1", 1, AlertState.CANCELLED, "task approved", None), ("2", 1, AlertState.CANCELLED, "task rejected", None),
        ("3", 1, AlertState.CANCELLED, "task approved", None), ("4", 1, AlertState.CANCELLED, "task cancelled", None),
        ("5", 1, AlertState.CANCELLED, "acknowledged by li.na via api", None)]
    async with sessions.begin() as s:
        assert await settle_tasks(s, many, reasons) == set(), "a second settle stops nothing"
    assert await snapshot(sessions, many) == right
    assert (await SlaClock(sessions).run_once(DUE + timedelta(hours=3))).fired == 0


async def test_batches_cost_the_same_statements_for_one_task_or_fifty(engine, sessions, tenant) -> None:
    counts = []
    for n, name in ((1, tenant), (50, f"{tenant}-b")):
        with statements(engine) as seen:
            async with sessions.begin() as s:
                await escalate_tasks(s, name, [EscalationRequest(t, T0, timedelta(hours=1), RULES, f"#{t}")
                                               for t in range(n)])
                await settle_tasks(s, name, {t: "task done" for t in range(n)})
        counts.append([w for w in seen if w.upper() not in ("BEGIN", "COMMIT")])
    assert counts[0] == counts[1] == ["SELECT", "INSERT", "INSERT", "DELETE", "SELECT", "UPDATE", "UPDATE"]
