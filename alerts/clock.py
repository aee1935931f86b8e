"""The SLA clock: fire due deadlines into the outbox, exactly once, from any number of workers.

Strategy: one transaction per batch. It deletes up to ``batch`` due pending
deadlines (``DELETE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)
RETURNING``, see ``alerts._sql``), locks their escalations in id order, checks
each row's generation and state, and inserts one outbox row per recipient
under the dedup constraint, before any provider is called. Commit makes the
firing and its alerts durable together; a crash before commit leaves the
deadline in place, and a replayed firing inserts nothing new. ``run_once(now)``
is burst mode: it fires everything due at ``now`` and returns counts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts._sql import insert_ignore
from alerts.config import AlertsConf, Calendars, channel_chain
from alerts.messages import compose
from alerts.models import AlertState, Deadline, DeadlineState, Escalation, EscalationState, OutboxAlert
from alerts.plan import Contact, Level, Plan
from hotline.logs import get_logger
from hotline.models.base import utcnow

__all__ = ["FireStats", "RecipientResolver", "SlaClock", "insert_alerts", "level_rows"]

log = get_logger(__name__)
DEDUP = ["tenant", "task_id", "level", "recipient", "channel"]

#: ``(session, tenant, task_id, level) -> contacts`` for levels whose recipients are named when they fire.
#: Contacts are mappings as ``Contact.from_mapping`` reads them (the flow engine's ``Person.contact()``).
RecipientResolver = Callable[[AsyncSession, str, str, int], Awaitable[Sequence[Mapping[str, Any]]]]


@dataclass
class FireStats:
    fired: int = 0
    skipped: int = 0
    queued: int = 0
    skips: list[str] = field(default_factory=list)

    def add(self, other: FireStats) -> None:
        self.fired += other.fired
        self.skipped += other.skipped
        self.queued += other.queued
        self.skips += other.skips


def outbox_values(esc: Escalation, level: Level, contact: Contact, *, channel: Any, address: str, subject: str,
                  text: str, link: str | None, now: datetime, state: AlertState = AlertState.QUEUED,
                  error: str | None = None) -> dict[str, Any]:
    return dict(tenant=esc.tenant, escalation_id=esc.id, task_id=esc.task_id, level=level.level,
                recipient=contact.key, recipient_name=contact.name[:128], contact=contact.model_dump(mode="json"),
                channel=channel, address=address[:256],
                subject=subject, body=text, link=link, ack_code=esc.ack_code, state=state, attempts=0,
                next_attempt_at=now, created_at=now, last_error=error,
                failed_at=now if state == AlertState.FAILED else None)


def level_rows(esc: Escalation, plan: Plan, level: Level, contacts: Sequence[Contact], *, now: datetime,
               conf: AlertsConf, tz: Any = None) -> list[dict[str, Any]]:
    """This level's outbox rows: one per recipient, on the first channel of the chain they have an address for."""
    subject, text = compose(plan, level, esc.due_at, now, tz)
    chain = channel_chain(level.channels, conf.failover)
    rows = []
    for contact in contacts:
        channel = next((ch for ch in chain if contact.address(ch)), None)
        if channel is None:
            log.error("alert cannot reach recipient: no address on any channel", tenant=esc.tenant,
                      task_id=esc.task_id, alert_level=level.level, recipient=contact.key, channels=",".join(chain))
            rows.append(outbox_values(esc, level, contact, channel=chain[0], address="", subject=subject, text=text,
                                      link=plan.link, now=now, state=AlertState.FAILED,
                                      error=f"no address for {contact.key} on {', '.join(chain)}"))
        else:
            rows.append(outbox_values(esc, level, contact, channel=channel, address=contact.address(channel) or "",
                                      subject=subject, text=text, link=plan.link, now=now))
    return rows


async def insert_alerts(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Insert outbox rows under the dedup constraint in one statement; returns how many were new."""
    if not rows:
        return 0
    table = OutboxAlert.__table__
    stmt = insert_ignore(session, table, DEDUP).returning(*(table.c[k] for k in DEDUP))
    new = {tuple(r) for r in (await session.execute(stmt, rows)).all()}
    for row in rows:
        if tuple(row[k] for k in DEDUP) not in new:
            log.info("alert already in outbox; not queued again", tenant=row["tenant"], task_id=row["task_id"],
                     alert_level=row["level"], recipient=row["recipient"], channel=row["channel"])
    return len(new)


class SlaClock:
    """Fires due deadlines. Safe to run in many processes against one database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], conf: AlertsConf | None = None, *,
                 calendars: Calendars | None = None, resolver: RecipientResolver | None = None, batch: int = 200,
                 on_fired: Callable[[], None] | None = None) -> None:
        self.sessions = sessions
        self.resolver = resolver
        self.conf = conf or AlertsConf()
        self.calendars = calendars or Calendars({}, {})
        self.batch = batch
        self.on_fired = on_fired

    async def fire_batch(self, now: datetime) -> FireStats:
        """Claim and fire up to ``batch`` due deadlines in one transaction."""
        stats = FireStats()
        table = Deadline.__table__
        due = (select(table.c.id).where(table.c.state == DeadlineState.PENDING, table.c.fire_at <= now)
               .order_by(table.c.fire_at).limit(self.batch).with_for_update(skip_locked=True))
        claim = (delete(table).where(table.c.id.in_(due))
                 .returning(table.c.id, table.c.escalation_id, table.c.level, table.c.generation, table.c.fire_at))
        async with self.sessions.begin() as session:
            claimed = (await session.execute(claim)).all()
            if not claimed:
                return stats
            ids = sorted({row.escalation_id for row in claimed})
            escs = {e.id: e for e in (await session.execute(
                select(Escalation).where(Escalation.id.in_(ids)).order_by(Escalation.id).with_for_update()
            )).scalars()}
            rows: list[dict[str, Any]] = []
            for row in sorted(claimed, key=lambda r: (r.fire_at, r.level)):
                rows += await self._fire(session, escs.get(row.escalation_id), row, now, stats)
            stats.queued = await insert_alerts(session, rows)
        if stats.queued and self.on_fired:
            self.on_fired()
        return stats

    async def _fire(self, session: AsyncSession, esc: Escalation | None, row: Any, now: datetime,
                    stats: FireStats) -> list[dict[str, Any]]:
        """The outbox rows one claimed deadline fires (none when it is skipped, with the reason logged)."""
        reason = self._skip_reason(esc, row)
        plan = level = None
        if reason is None and esc is not None:
            plan = Plan.model_validate(esc.plan)
            level = plan.level(row.level)
            if level is None:
                reason = f"level {row.level} is not in the frozen plan"
        if reason is not None or esc is None or plan is None or level is None:
            stats.skipped += 1
            stats.skips.append(reason or "")
            log.info("deadline skipped", deadline=row.id, escalation=row.escalation_id, alert_level=row.level,
                     reason=reason)
            return []
        contacts = list(level.recipients) or await self._resolve(session, esc, level.level)
        if not contacts:
            stats.skipped += 1
            stats.skips.append("no recipients")
            why = "the resolver named nobody" if self.resolver else "no recipients and no resolver"
            log.error("! level fired with nobody to tell", tenant=esc.tenant, task_id=esc.task_id,
                      alert_level=level.level, reason=why)
            return []
        cal = self.calendars.get(esc.calendar)
        rows = level_rows(esc, plan, level, contacts, now=now, conf=self.conf, tz=cal.tz if cal else None)
        stats.fired += 1
        esc.fired_level = level.level if esc.fired_level is None else max(esc.fired_level, level.level)
        log.info("→ level fired", tenant=esc.tenant, task_id=esc.task_id, alert_level=level.level,
                 lag_s=round((now - row.fire_at).total_seconds(), 3))
        return rows

    async def _resolve(self, session: AsyncSession, esc: Escalation, level: int) -> list[Contact]:
        if self.resolver is None:
            return []
        found = await self.resolver(session, esc.tenant, esc.task_id, level)
        return [Contact.from_mapping(c) for c in found]

    @staticmethod
    def _skip_reason(esc: Escalation | None, row: Any) -> str | None:
        if esc is None:
            return "escalation no longer exists"
        if esc.generation != row.generation:
            return f"stale deadline: generation {row.generation}, escalation is at {esc.generation}"
        if esc.state != EscalationState.ACTIVE:
            return f"escalation is {esc.state}"
        return None

    async def run_once(self, now: datetime) -> FireStats:
        """Burst mode: fire every deadline due at ``now``, batch after batch, and return the counts."""
        total = FireStats()
        while True:
            stats = await self.fire_batch(now)
            total.add(stats)
            if stats.fired + stats.skipped < self.batch:
                return total

    async def run(self, stop: asyncio.Event, clock: Callable[[], datetime] = utcnow) -> None:
        """Fire due deadlines until ``stop`` is set, polling every ``conf.poll`` when idle."""
        poll = self.conf.poll.total_seconds()
        while not stop.is_set():
            try:
                await self.run_once(clock())
            except Exception:  # the loop must outlive a database outage; the rows wait in SQL
                log.exception("SLA clock tick failed; retrying after the poll interval")
            try:
                await asyncio.wait_for(stop.wait(), timeout=poll)
            except TimeoutError:
                pass
