"""Notices: one-off SMS to someone outside any escalation (today: the chat link a diverted caller gets).

Strategy: a notice is an ``alert_outbox`` row without an escalation, queued in
the caller's transaction and sent by the same ``Outbox`` dispatcher as alerts.
Why not a sender of its own: the outbox already makes a message durable before
any provider is called, retries it with backoff through provider outages and
restarts, paces each recipient, takes Twilio's delivery reports and lets an
operator retry a failed row (``hotline alerts retry``); a second sender would
copy all of that. The dedup constraint ``uq_alert_outbox_dedup`` (tenant,
task_id = call id, level 0, recipient = the number, sms) makes a replayed
queueing a no-op, so one call gets at most one SMS. A notice is never
acknowledged and never fails over (a chat link read aloud by a voice call
would help nobody); instead a transient fault never uses up its attempts, so
it waits out a provider outage however long (``alerts.outbox``). Only a
refusal (a number Twilio cannot text, bad credentials) fails it, for an
operator to see and retry.

Rate: the outbox's own per-recipient limit *defers* (an on-call person must
get every alert, late rather than never). A caller who calls ten times in a
minute needs one link, not ten, so a notice to a number that got one within
its ``quiet`` time is *dropped* here, with the reason logged and returned.
Two nodes queueing for the same number in the same instant may both pass
this check; the dedup per call still holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.clock import insert_alerts
from alerts.models import AlertState, OutboxAlert
from alerts.plan import Channel
from hotline.logs import get_logger

__all__ = ["Notice", "NoticeStats", "queue_notices"]

log = get_logger(__name__)
T = OutboxAlert.__table__


@dataclass(frozen=True, slots=True)
class Notice:
    """One SMS about one call: ``address`` is the number, ``quiet`` how long that number gets no other."""

    tenant: str
    call_id: str
    address: str
    text: str
    quiet: timedelta


@dataclass
class NoticeStats:
    """What ``queue_notices`` did: rows new in the outbox, and ``(call id, reason)`` for each notice left out."""

    queued: int = 0
    skips: list[tuple[str, str]] = field(default_factory=list)


def _values(notice: Notice, now: datetime) -> dict[str, Any]:
    return dict(tenant=notice.tenant, escalation_id=None, task_id=notice.call_id, level=0,
                recipient=notice.address, recipient_name="", contact={}, channel=Channel.SMS,
                address=notice.address, subject="", body=notice.text, link=None, ack_code="",
                state=AlertState.QUEUED, attempts=0, next_attempt_at=now, created_at=now)


async def _recent(session: AsyncSession, notices: Sequence[Notice],
                  now: datetime) -> dict[tuple[str, str], list[tuple[str, datetime]]]:
    """(tenant, number) → (call id, queued at) of the notices not failed within the longest quiet time."""
    since = now - max(n.quiet for n in notices)
    rows = await session.execute(
        select(T.c.tenant, T.c.recipient, T.c.task_id, T.c.created_at)
        .where(T.c.recipient.in_(sorted({n.address for n in notices})), T.c.escalation_id.is_(None),
               T.c.channel == Channel.SMS, T.c.created_at > since, T.c.state != AlertState.FAILED))
    found: dict[tuple[str, str], list[tuple[str, datetime]]] = {}
    for tenant, number, call_id, at in rows:
        found.setdefault((tenant, number), []).append((call_id, at))
    return found


def _skip_reason(notice: Notice, sent: list[tuple[str, datetime]], now: datetime) -> str | None:
    if any(call_id == notice.call_id for call_id, _ in sent):
        return "already queued for this call"
    last = max((at for _, at in sent if at > now - notice.quiet), default=None)
    if last is not None:
        return f"this number got one at {last.isoformat()}, within {notice.quiet}"
    return None


async def queue_notices(session: AsyncSession, notices: Sequence[Notice], *, now: datetime) -> NoticeStats:
    """Queue ``notices`` in the caller's transaction (flush only); notices of one batch are taken in order."""
    stats = NoticeStats()
    if not notices:
        return stats
    recent = await _recent(session, notices, now)
    rows = []
    for notice in notices:
        sent = recent.setdefault((notice.tenant, notice.address), [])
        reason = _skip_reason(notice, sent, now)
        if reason is None:
            rows.append(_values(notice, now))
            sent.append((notice.call_id, now))
            continue
        stats.skips.append((notice.call_id, reason))
        log.info("notice not queued", tenant=notice.tenant, call_id=notice.call_id, to=notice.address, reason=reason)
    stats.queued = await insert_alerts(session, rows)
    return stats
