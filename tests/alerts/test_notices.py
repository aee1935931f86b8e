"""Notices (outbox rows without an escalation): one SMS per call, one per number per quiet time, never failed over."""

from __future__ import annotations

from datetime import timedelta

from alerts.delivery import backoff
from alerts.inbound import ack_alert, delivery_report
from alerts.notices import Notice, queue_notices
from tests.alerts.conftest import T0, fast_conf, outbox_rows, sms_outbox
from tests.alerts.fakes import Reply

NUMBER = "+8613900000007"
QUIET = timedelta(minutes=10)


def notice(call_id: str, address: str = NUMBER) -> Notice:
    return Notice("demo", call_id, address, f"Chat with us online: https://chat.example.com/demo?call={call_id}", QUIET)


async def queue(sessions, *notices: Notice, now=T0):  # noqa: ANN001, ANN201
    async with sessions.begin() as session:
        return await queue_notices(session, notices, now=now)


async def test_a_notice_goes_out_once_as_its_text_alone(sessions, twilio) -> None:
    outbox = sms_outbox(sessions, twilio)
    try:
        assert (await queue(sessions, notice("c1"))).queued == 1
        assert (await outbox.drain(T0)).sent == 1
        again = await queue(sessions, notice("c1"), now=T0 + timedelta(seconds=30))
        much_later = await queue(sessions, notice("c1"), now=T0 + timedelta(days=1))
        assert (await outbox.drain(T0 + timedelta(days=1))).sent == 0
    finally:
        await outbox.providers.aclose()
    assert (again.queued, again.skips) == (0, [("c1", "already queued for this call")])
    assert (much_later.queued, much_later.skips) == (0, [])  # past the quiet time the dedup constraint holds
    (sms,) = twilio.of("Messages")
    assert (sms["To"], sms["Body"]) == (NUMBER, "Chat with us online: https://chat.example.com/demo?call=c1")
    (row,) = await outbox_rows(sessions, "demo")
    assert (row.escalation_id, row.task_id, row.state, row.ack_code) == (None, "c1", "sent", "")


async def test_a_number_gets_one_notice_per_quiet_time(sessions) -> None:
    burst = await queue(sessions, *(notice(f"c{i}") for i in range(1, 6)), notice("other", "+8613900000008"))
    within = await queue(sessions, notice("c6"), now=T0 + timedelta(minutes=1))
    after = await queue(sessions, notice("c7"), now=T0 + QUIET + timedelta(seconds=1))

    assert burst.queued == 2 and [call for call, _ in burst.skips] == ["c2", "c3", "c4", "c5"]
    assert burst.skips[0][1] == f"this number got one at {T0.isoformat()}, within 0:10:00"
    assert (within.queued, after.queued) == (0, 1)
    assert [r.task_id for r in await outbox_rows(sessions, "demo")] == ["c1", "other", "c7"]


async def test_a_refused_notice_fails_without_failing_over(sessions, twilio) -> None:
    twilio.replies.append(Reply(400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}))
    await queue(sessions, notice("c1"))
    outbox = sms_outbox(sessions, twilio)
    try:
        stats = await outbox.drain(T0)
    finally:
        await outbox.providers.aclose()
    assert (stats.failed, stats.failed_over) == (1, 0)
    (row,) = await outbox_rows(sessions, "demo")
    assert row.state == "failed" and "Invalid 'To' Phone Number" in row.last_error


async def test_a_notice_is_not_acknowledged_but_takes_delivery_reports(sessions, twilio) -> None:
    await queue(sessions, notice("c1"), notice("c2", "+8613900000008"))
    outbox = sms_outbox(sessions, twilio)
    try:
        await outbox.drain(T0)
    finally:
        await outbox.providers.aclose()
    first, second = await outbox_rows(sessions, "demo")
    async with sessions.begin() as session:
        ack = await ack_alert(session, first.id, now=T0, by="someone", via="api")
        delivered = await delivery_report(session, first.id, first.provider_id, "delivered", now=T0, conf=fast_conf())
        lost = await delivery_report(session, second.id, second.provider_id, "undelivered", now=T0, conf=fast_conf())
    assert (ack.found, delivered, lost) == (False, "delivered", "failed")
    assert [r.state for r in await outbox_rows(sessions, "demo")] == ["delivered", "failed"]


def test_backoff_stays_at_its_cap_however_many_attempts() -> None:
    assert backoff(500, base=timedelta(seconds=10), cap=timedelta(minutes=10), jitter=0.0) == timedelta(minutes=5)
