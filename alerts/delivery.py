"""State changes of one outbox row after it was claimed: sent, retry later, failed over, delivered.

Strategy: every write is guarded. A dispatcher writes its outcome only
``WHERE id = :id AND attempts = :attempts AND state = 'queued'``: if its lease
ran out and another worker took the row over (or an acknowledgement cancelled
it), the stale outcome changes nothing and says so in the log. Failing over
locks the escalation first (the lock order of ``alerts.escalation``), marks
the row failed and queues the next channel of the level's chain for the same
person under the dedup constraint, so one person never gets the same level
twice on one channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, literal, null, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts._sql import insert_ignore
from alerts.clock import DEDUP, outbox_values
from alerts.config import AlertsConf, channel_chain
from alerts.models import AlertState, Escalation, EscalationState, OutboxAlert
from alerts.plan import Contact, Plan
from alerts.providers.base import Receipt
from hotline.logs import get_logger

__all__ = ["Outcome", "defer", "fail_over", "mark_delivered", "mark_sent", "retry_alert", "write_outcomes"]

log = get_logger(__name__)
T = OutboxAlert.__table__


def _guard(alert_id: int, attempts: int) -> list:
    return [T.c.id == alert_id, T.c.attempts == attempts, T.c.state == AlertState.QUEUED]


@dataclass(frozen=True, slots=True)
class Outcome:
    """One claimed alert's result to write: sent (``receipt``) or retry at ``until`` (``error``)."""

    alert_id: int
    attempts: int
    receipt: Receipt | None = None
    until: datetime | None = None
    error: str | None = None


def _at(value: datetime | None) -> Any:
    """A time as a bound value of the columns' own UTC type (CASE branches carry no column type)."""
    return literal(value, T.c.next_attempt_at.type)


async def write_outcomes(session: AsyncSession, outcomes: list[Outcome], now: datetime) -> set[int]:
    """Write many sent / retry-later outcomes in two statements; returns the ids actually written.

    Rows are locked in id order first (the order ``alerts.escalation`` locks
    outbox rows in), then updated with per-row values and the same
    (id, attempts, state) guard as a single write: an id missing from the
    result was stale (lease expired and taken over, or cancelled meanwhile).
    """
    if not outcomes:
        return set()
    ids = sorted(o.alert_id for o in outcomes)
    await session.execute(select(T.c.id).where(T.c.id.in_(ids)).order_by(T.c.id).with_for_update())
    written: set[int] = set()
    sent = [o for o in outcomes if o.receipt is not None]
    later = [o for o in outcomes if o.receipt is None]
    if sent:
        by = {o.alert_id: o for o in sent}
        state = {i: str(AlertState.DELIVERED if o.receipt and o.receipt.delivered else AlertState.SENT)
                 for i, o in by.items()}
        delivered = [i for i, o in by.items() if o.receipt and o.receipt.delivered]
        stmt = (update(T).where(T.c.id.in_(by), T.c.state == AlertState.QUEUED,
                                T.c.attempts == case({i: o.attempts for i, o in by.items()}, value=T.c.id))
                .values(state=case(state, value=T.c.id), sent_at=now,
                        delivered_at=case((T.c.id.in_(delivered), _at(now)), else_=null()) if delivered else null(),
                        provider_id=case({i: o.receipt.provider_id for i, o in by.items() if o.receipt}, value=T.c.id),
                        claimed_by=None, last_error=None)
                .returning(T.c.id))
        written |= set((await session.execute(stmt)).scalars())
    if later:
        by = {o.alert_id: o for o in later}
        stmt = (update(T).where(T.c.id.in_(by), T.c.state == AlertState.QUEUED,
                                T.c.attempts == case({i: o.attempts for i, o in by.items()}, value=T.c.id))
                .values(next_attempt_at=case({i: _at(o.until) for i, o in by.items()}, value=T.c.id), claimed_by=None,
                        last_error=case({i: (o.error or "")[:2000] for i, o in by.items()}, value=T.c.id))
                .returning(T.c.id))
        written |= set((await session.execute(stmt)).scalars())
    for stale in sorted(set(ids) - written):
        log.warning("outcome not recorded: claim no longer ours (lease expired or alert cancelled)", alert=stale)
    return written


async def mark_sent(session: AsyncSession, alert_id: int, attempts: int, receipt: Receipt, now: datetime) -> bool:
    """The provider accepted it; False when this worker's claim was stale (nothing written)."""
    return bool(await write_outcomes(session, [Outcome(alert_id, attempts, receipt=receipt)], now))


async def defer(session: AsyncSession, alert_id: int, attempts: int, until: datetime, error: str | None, *,
                uncount: bool = False) -> bool:
    """Try again at ``until``; ``uncount`` gives the attempt back (rate-limited, never sent)."""
    values: dict = {"next_attempt_at": until, "claimed_by": None}
    if error is not None:
        values["last_error"] = error[:2000]
    if uncount:
        values["attempts"] = T.c.attempts - 1
    result = await session.execute(update(T).where(*_guard(alert_id, attempts)).values(**values))
    return bool(result.rowcount)


async def fail_over(session: AsyncSession, alert_id: int, *, now: datetime, conf: AlertsConf, reason: str,
                    attempts: int | None = None) -> int | None:
    """Mark the alert failed and queue the next channel; returns the new alert's id, or None.

    ``attempts`` guards a dispatcher's claim (None: a provider callback about
    a sent alert). Nothing is queued when the escalation was settled meanwhile,
    the chain is exhausted (logged as an error: that person was not reached),
    or the row is a notice (no escalation: no chain to go on with).
    """
    found = (await session.execute(select(T.c.escalation_id).where(T.c.id == alert_id))).one_or_none()
    if found is None:
        return None
    esc = None if found.escalation_id is None else (await session.execute(
        select(Escalation).where(Escalation.id == found.escalation_id).with_for_update()
        .execution_options(populate_existing=True))).scalar_one()
    where = ([*_guard(alert_id, attempts)] if attempts is not None
             else [T.c.id == alert_id, T.c.state.in_([AlertState.SENT, AlertState.DELIVERED, AlertState.QUEUED])])
    result = await session.execute(update(T).where(*where).values(
        state=AlertState.FAILED, failed_at=now, last_error=reason[:2000], claimed_by=None))
    if not result.rowcount:
        log.warning("failure not recorded: alert already settled or claim no longer ours", alert=alert_id)
        return None
    row = await session.get(OutboxAlert, alert_id, populate_existing=True)
    assert row is not None
    if esc is None:
        log.error("! notice not delivered: it has no other channel", alert=alert_id, tenant=row.tenant,
                  call_id=row.task_id, to=row.address, reason=reason)
        return None
    if esc.state not in (EscalationState.ACTIVE, EscalationState.PAUSED):
        log.info("no failover", alert=alert_id, reason=f"escalation is {esc.state}")
        return None
    return await _queue_next(session, esc, row, now, conf, reason)


async def _queue_next(session: AsyncSession, esc: Escalation, row: OutboxAlert, now: datetime, conf: AlertsConf,
                      reason: str) -> int | None:
    plan = Plan.model_validate(esc.plan)
    level = plan.level(row.level)
    if level is None or not row.contact:
        log.error("no failover: the level or the recipient's addresses are unknown", alert=row.id,
                  recipient=row.recipient)
        return None
    contact = Contact.model_validate(row.contact)
    chain = channel_chain(level.channels, conf.failover)
    after = chain[chain.index(row.channel) + 1:] if row.channel in chain else chain
    for channel in after:
        address = contact.address(channel)
        if not address:
            continue
        values = outbox_values(esc, level, contact, channel=channel, address=address, subject=row.subject,
                               text=row.body, link=row.link, now=now)
        result = await session.execute(insert_ignore(session, T, DEDUP, **values).returning(T.c.id))
        new_id = result.scalar_one_or_none()
        if new_id is not None:
            log.info("↻ failed over", tenant=row.tenant, task_id=row.task_id, alert_level=row.level,
                     recipient=row.recipient, failed=row.channel, to=channel, reason=reason)
            return int(new_id)
    log.error("! alert failed on every channel: recipient not reached", tenant=row.tenant, task_id=row.task_id,
              alert_level=row.level, recipient=row.recipient, channels=",".join(chain), reason=reason)
    return None


async def mark_delivered(session: AsyncSession, alert_id: int, now: datetime) -> bool:
    """A provider callback confirmed delivery; an acknowledged alert stays acknowledged."""
    result = await session.execute(update(T).where(T.c.id == alert_id, T.c.state == AlertState.SENT)
                                   .values(state=AlertState.DELIVERED, delivered_at=now))
    return bool(result.rowcount)


async def retry_alert(session: AsyncSession, alert_id: int, *, now: datetime,
                      tenant: str | None = None) -> OutboxAlert | None:
    """Queue a failed or cancelled alert again, from attempt zero (operator's ``alerts retry``).

    Returns the row, or None when there is no such alert (in this tenant) or it is not failed/cancelled.
    """
    row = await session.get(OutboxAlert, alert_id)
    if row is None or (tenant is not None and row.tenant != tenant):
        return None
    if row.state not in (AlertState.FAILED, AlertState.CANCELLED):
        log.info("retry ignored", alert=alert_id, why=f"alert is {row.state}")
        return None
    if not row.address:
        log.info("retry ignored", alert=alert_id, why="alert has no address to send to")
        return None
    row.state, row.attempts, row.next_attempt_at = AlertState.QUEUED, 0, now
    row.failed_at, row.claimed_by = None, None
    row.last_error = f"retried by operator at {now.isoformat()}; was: {row.last_error or ''}"[:2000]
    await session.flush()
    return row


def backoff(attempt: int, *, base: timedelta, cap: timedelta, jitter: float) -> timedelta:
    """Exponential backoff with equal jitter: half fixed, half random (``jitter`` in [0, 1) is injected).

    The exponent stops growing long after any sane ``cap`` is reached, so a
    notice's hundredth attempt still has a delay (a timedelta overflows at 10**9 days).
    """
    delay = min(cap, base * (2 ** min(max(0, attempt - 1), 20)))
    return delay * (0.5 + 0.5 * jitter)
