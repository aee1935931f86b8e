"""The outbox dispatcher on real databases: retries, failover, leases, races, pacing."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from alerts import AlertState, acknowledge, find_escalation
from alerts.clock import SlaClock
from alerts.config import RateLimitConf, RetryConf
from alerts.delivery import mark_sent, retry_alert
from alerts.outbox import Outbox
from alerts.plan import Channel
from alerts.providers.base import GiveUp, Receipt, TryLater
from alerts.providers.log import LogProvider
from hotline.db import create_engine, session_factory
from tests.alerts.conftest import T0, Scripted, demo_plan, fast_conf, outbox_rows, scripted_set, start

DUE = T0 + timedelta(hours=1)


def fail(exc: Exception):  # noqa: ANN201
    def raiser(_note):  # noqa: ANN001, ANN202
        raise exc
    return raiser


async def fired(sessions, tenant, *tasks: str, at=DUE, levels=1) -> None:  # noqa: ANN001
    plan = demo_plan(levels=demo_plan().levels[:levels])
    for task in tasks or ("1001",):
        await start(sessions, tenant, task, plan)
    await SlaClock(sessions).run_once(at)


def outbox(sessions, *providers, conf=None, **kw) -> Outbox:  # noqa: ANN001
    return Outbox(sessions, scripted_set(*providers), conf or fast_conf(), rng=lambda: 0.0, **kw)


async def test_an_alert_is_sent_once_and_marked_sent(sessions, tenant) -> None:
    await fired(sessions, tenant)
    wecom = Scripted(Channel.WECOM)
    ob = outbox(sessions, wecom)
    assert (await ob.drain(DUE)).sent == 1
    assert (await ob.drain(DUE + timedelta(hours=1))).sent == 0
    (row,) = await outbox_rows(sessions, tenant)
    assert (row.state, row.attempts, row.provider_id, row.sent_at) == (AlertState.SENT, 1, f"wecom-{row.id}-1", DUE)
    assert [n.address for n in wecom.sent] == ["LiNa"]


async def test_provider_errors_are_retried_with_backoff_then_failed_over(sessions, tenant) -> None:
    await fired(sessions, tenant)
    err = TryLater("WeCom webhook answered HTTP 500")
    wecom, email = Scripted(Channel.WECOM, fail(err), fail(err), fail(err)), Scripted(Channel.EMAIL)
    ob = outbox(sessions, wecom, email)
    assert (await ob.drain(DUE)).retried == 1
    (row,) = await outbox_rows(sessions, tenant)
    assert row.next_attempt_at == DUE + timedelta(seconds=5), "attempt 1: 10 s base, jitter 0 → 5 s"
    assert (await ob.drain(DUE + timedelta(seconds=4))).retried == 0, "not due yet"
    assert (await ob.drain(DUE + timedelta(seconds=5))).retried == 1
    (row,) = await outbox_rows(sessions, tenant)
    assert row.next_attempt_at == DUE + timedelta(seconds=15), "attempt 2: 20 s, jitter 0 → 10 s"
    stats = await ob.drain(DUE + timedelta(seconds=15))
    assert (stats.failed, stats.failed_over, stats.sent) == (1, 1, 1), "3rd failure fails over; email goes at once"
    wecom_row, email_row = await outbox_rows(sessions, tenant)
    assert (wecom_row.state, wecom_row.attempts) == (AlertState.FAILED, 3)
    assert "gave up after 3 attempts: WeCom webhook answered HTTP 500" == wecom_row.last_error
    assert (email_row.channel, email_row.address, email_row.state) == ("email", "li.na@example.com", AlertState.SENT)
    assert email_row.subject == wecom_row.subject and len(email.sent) == 1


async def test_jitter_is_injected_and_retry_after_is_a_floor(sessions, tenant) -> None:
    await fired(sessions, tenant, "a", "b")
    wecom = Scripted(Channel.WECOM, fail(TryLater("429", after=120)), fail(TryLater("busy")))
    ob = Outbox(sessions, scripted_set(wecom), fast_conf(), rng=lambda: 0.999)
    await ob.drain(DUE)
    waits = sorted((r.next_attempt_at - DUE).total_seconds() for r in await outbox_rows(sessions, tenant))
    assert waits[0] == 9.995 and waits[1] == 120, waits


async def test_give_up_fails_over_at_once(sessions, tenant) -> None:
    await fired(sessions, tenant, levels=2)
    await SlaClock(sessions).run_once(DUE + timedelta(minutes=15))
    sms = Scripted(Channel.SMS, fail(GiveUp("Twilio SMS: HTTP 400, code 21614: not a mobile number")))
    voice = Scripted(Channel.VOICE)
    stats = await outbox(sessions, Scripted(Channel.WECOM), sms, voice).drain(DUE + timedelta(minutes=15))
    assert (stats.sent, stats.failed, stats.failed_over) == (2, 1, 1)
    rows = await outbox_rows(sessions, tenant)
    assert [(r.channel, r.state) for r in rows] == [("wecom", "sent"), ("sms", "failed"), ("voice", "sent")]
    assert [n.address for n in voice.sent] == ["+8613800000002"]


async def test_a_provider_that_hangs_is_timed_out_and_retried(sessions, tenant) -> None:
    await fired(sessions, tenant)
    conf = fast_conf(retry=RetryConf(max_attempts=3, base=timedelta(seconds=10), send_timeout=timedelta(seconds=0.2)))
    wecom = Scripted(Channel.WECOM)
    wecom.delay = 2
    ob = outbox(sessions, wecom, conf=conf)
    assert (await ob.drain(DUE)).retried == 1
    (row,) = await outbox_rows(sessions, tenant)
    assert row.state == AlertState.QUEUED and "did not answer within" in row.last_error
    wecom.delay = 0
    assert (await ob.drain(DUE + timedelta(minutes=1))).sent == 1


async def test_worker_killed_between_claim_and_send_is_sent_once_after_the_lease(sessions, tenant) -> None:
    await fired(sessions, tenant)
    wecom = Scripted(Channel.WECOM)
    dead = outbox(sessions, wecom, worker="dead")
    assert len(await dead.claim(DUE)) == 1            # committed claim, then the process dies: no send
    alive = outbox(sessions, wecom, worker="alive")
    assert (await alive.drain(DUE + timedelta(seconds=29))).sent == 0, "the lease hides it from other workers"
    assert (await alive.drain(DUE + timedelta(seconds=30))).sent == 1
    assert (await alive.drain(DUE + timedelta(hours=1))).sent == 0
    assert await SlaClock(sessions).run_once(DUE) and len(await outbox_rows(sessions, tenant)) == 1
    (row,) = await outbox_rows(sessions, tenant)
    assert (row.state, row.attempts, len(wecom.sent)) == (AlertState.SENT, 2, 1)


async def test_a_stale_worker_cannot_overwrite_the_newer_outcome(sessions, tenant) -> None:
    await fired(sessions, tenant)
    wecom = Scripted(Channel.WECOM)
    (slow,) = await outbox(sessions, wecom, worker="slow").claim(DUE)
    assert (await outbox(sessions, wecom, worker="fast").drain(DUE + timedelta(minutes=1))).sent == 1
    async with sessions.begin() as s:
        assert not await mark_sent(s, slow.id, slow.attempts, Receipt("late"), DUE + timedelta(minutes=2))
    (row,) = await outbox_rows(sessions, tenant)
    assert row.provider_id != "late" and row.attempts == 2


async def test_two_dispatchers_racing_send_each_alert_once(db_url, sessions, tenant) -> None:
    tasks = [str(n) for n in range(30)]
    await fired(sessions, tenant, *tasks)
    engines = [create_engine(db_url), create_engine(db_url)]
    wecom = Scripted(Channel.WECOM)
    wecom.delay = 0.01
    try:
        workers = [Outbox(session_factory(e), scripted_set(wecom), fast_conf(), worker=f"w{i}", concurrency=4)
                   for i, e in enumerate(engines)]
        results = await asyncio.gather(*(w.drain(DUE) for w in workers))
    finally:
        for e in engines:
            await e.dispose()
    assert sum(r.sent for r in results) == 30
    assert Counter(n.alert_id for n in wecom.calls) == Counter({n.alert_id: 1 for n in wecom.calls})
    assert len(wecom.calls) == 30


async def test_rate_limit_puts_alerts_off_and_drops_none(sessions, tenant) -> None:
    await fired(sessions, tenant, *[str(n) for n in range(5)])
    conf = fast_conf(rate_limit=RateLimitConf(per_recipient=2, window=timedelta(minutes=10)))
    wecom = Scripted(Channel.WECOM)
    ob = outbox(sessions, wecom, conf=conf)
    first = await ob.drain(DUE)
    assert (first.sent, first.deferred) == (2, 3)
    assert (await ob.drain(DUE + timedelta(minutes=9))).sent == 0
    assert (await ob.drain(DUE + timedelta(minutes=10))).sent == 2
    assert (await ob.drain(DUE + timedelta(minutes=20))).sent == 1
    rows = await outbox_rows(sessions, tenant)
    assert all(r.state == AlertState.SENT and r.attempts == 1 for r in rows), "a put-off is not an attempt"


async def test_unconfigured_channel_goes_to_the_log_or_fails_over(sessions, tenant) -> None:
    await fired(sessions, tenant, "a")
    log_provider = LogProvider()
    ob = Outbox(sessions, scripted_set(fallback=log_provider), fast_conf())
    assert (await ob.drain(DUE)).sent == 1
    assert [n.channel for n in log_provider.sent] == ["wecom"]
    await fired(sessions, tenant, "b")
    email = Scripted(Channel.EMAIL)
    stats = await Outbox(sessions, scripted_set(email), fast_conf()).drain(DUE)
    assert (stats.failed_over, stats.sent) == (1, 1)
    rows = await outbox_rows(sessions, tenant)
    assert [(r.task_id, r.channel, r.state) for r in rows] == [
        ("a", "wecom", "delivered"), ("b", "wecom", "failed"), ("b", "email", "sent")]
    assert rows[1].last_error == "no provider configured for wecom"


async def test_a_provider_bug_is_logged_and_retried_not_lost(sessions, tenant) -> None:
    await fired(sessions, tenant)
    wecom = Scripted(Channel.WECOM, fail(RuntimeError("boom")))
    assert (await outbox(sessions, wecom).drain(DUE)).retried == 1
    (row,) = await outbox_rows(sessions, tenant)
    assert row.state == AlertState.QUEUED and row.last_error == "unexpected RuntimeError: boom"
    assert (await outbox(sessions, wecom).drain(DUE + timedelta(minutes=1))).sent == 1


async def test_ack_while_a_send_is_in_flight_keeps_the_alert_cancelled(sessions, tenant) -> None:
    await fired(sessions, tenant)
    (claimed,) = await outbox(sessions, Scripted(Channel.WECOM)).claim(DUE)
    async with sessions.begin() as s:
        await acknowledge(s, await find_escalation(s, tenant, "1001"), now=DUE, by="li.na", via="api")
    async with sessions.begin() as s:
        assert not await mark_sent(s, claimed.id, claimed.attempts, Receipt("x"), DUE)
    (row,) = await outbox_rows(sessions, tenant)
    assert row.state == AlertState.CANCELLED


async def test_every_channel_failing_leaves_failed_rows_an_operator_can_retry(sessions, tenant) -> None:
    await fired(sessions, tenant)
    no = GiveUp("refused")
    wecom, email = Scripted(Channel.WECOM, fail(no)), Scripted(Channel.EMAIL, fail(no))
    stats = await outbox(sessions, wecom, email).drain(DUE)
    assert (stats.failed, stats.failed_over, stats.sent) == (2, 1, 0)
    rows = await outbox_rows(sessions, tenant)
    assert [(r.channel, r.state) for r in rows] == [("wecom", "failed"), ("email", "failed")]
    async with sessions.begin() as s:
        assert await retry_alert(s, rows[0].id, now=DUE + timedelta(minutes=5), tenant=tenant)
        assert await retry_alert(s, rows[0].id, now=DUE, tenant=tenant) is None, "only failed alerts are retried"
        assert await retry_alert(s, rows[1].id, now=DUE, tenant="other") is None
    assert (await outbox(sessions, wecom, email).drain(DUE + timedelta(minutes=5))).sent == 1
    async with sessions() as s:
        states = (await s.execute(select(rows[0].__class__.state).order_by(rows[0].__class__.id))).scalars().all()
    assert states == ["sent", "failed"]
