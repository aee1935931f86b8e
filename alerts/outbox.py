"""The outbox dispatcher: claim due alerts, send them concurrently, record each outcome.

Strategy (arq's, in SQL): time is a score. A claim is one ``UPDATE ... WHERE
id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING`` that counts the attempt
and pushes ``next_attempt_at`` one lease into the future, and commits at once;
a worker that dies after the claim leaves a row that is due again when the
lease ends, so it is sent by another worker, once. Each send's outcome is
written in its own short transaction, guarded by (id, attempts, state), so a
stale worker cannot overwrite a newer one. A provider says ``TryLater(after)``
(backoff with injected jitter, at least ``after``) or ``GiveUp`` (fail over to
the next channel at once); after ``max_attempts`` a channel is failed over
too. A notice (no escalation, ``alerts.notices``) has no next channel, so a
TryLater never uses up its attempts: it waits out the provider's outage at the
backoff's cap and is sent when the provider is back. Anything else a provider
raises is a bug: logged with its traceback and retried like TryLater, because
losing the alert would be worse.

``drain(now)`` is burst mode: it sends everything due at ``now`` and returns
the counts, so tests drive retries and failover by moving ``now``.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.acklinks import AckLinks
from alerts.config import AlertsConf
from alerts.delivery import Outcome, backoff, defer, fail_over, write_outcomes
from alerts.models import AlertState, OutboxAlert
from alerts.plan import Channel
from alerts.providers.base import GiveUp, Notification, Receipt, TryLater
from alerts.providers.registry import ProviderSet
from hotline.logs import get_logger
from hotline.models.base import utcnow

__all__ = ["Claimed", "DrainStats", "Outbox"]

log = get_logger(__name__)
T = OutboxAlert.__table__
LINK_CHANNELS = (Channel.EMAIL, Channel.WECOM)


@dataclass(frozen=True, slots=True)
class Claimed:
    """The part of a claimed outbox row a send needs; ``attempts`` is this claim's number."""

    id: int
    attempts: int
    escalation_id: int | None  # None: a notice
    tenant: str
    task_id: str
    level: int
    recipient: str
    recipient_name: str
    channel: Channel
    address: str
    subject: str
    body: str
    link: str | None
    ack_code: str


_CLAIM_COLUMNS = [T.c[f.name] for f in fields(Claimed)]


@dataclass
class DrainStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    failed_over: int = 0
    deferred: int = 0
    stale: int = 0

    def add(self, other: DrainStats) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


class Outbox:
    """Sends queued alerts. Safe to run in many processes against one database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], providers: ProviderSet,
                 conf: AlertsConf | None = None, *, worker: str = "worker", rng: Callable[[], float] = random.random,
                 links: AckLinks | None = None, callback_base: str | None = None, concurrency: int = 16) -> None:
        self.sessions = sessions
        self.providers = providers
        self.conf = conf or AlertsConf()
        self.worker = worker
        self.rng = rng
        self.links = links
        self.callback_base = callback_base
        #: Rows claimed at once, all sent at once: a claimed row never waits for a free slot, so its
        #: lease (longer than the send timeout) cannot run out before its outcome is written.
        self.concurrency = concurrency
        self.wake = asyncio.Event()

    # -- claim -----------------------------------------------------------------------------------

    async def claim(self, now: datetime, limit: int | None = None) -> list[Claimed]:
        """Claim up to ``limit`` due alerts for one lease, and commit; rate-limited ones are put off."""
        return (await self._claim(now, limit))[0]

    async def _claim(self, now: datetime, limit: int | None) -> tuple[list[Claimed], int]:
        due = (select(T.c.id).where(T.c.state == AlertState.QUEUED, T.c.next_attempt_at <= now)
               .order_by(T.c.next_attempt_at, T.c.id).limit(limit or self.concurrency)
               .with_for_update(skip_locked=True))
        stmt = (update(T).where(T.c.id.in_(due))
                .values(attempts=T.c.attempts + 1, next_attempt_at=now + self.conf.lease, claimed_by=self.worker)
                .returning(*_CLAIM_COLUMNS))
        async with self.sessions.begin() as session:
            rows = [Claimed(**r._mapping) for r in (await session.execute(stmt)).all()]
            keep = await self._pace(session, sorted(rows, key=lambda c: c.id), now) if rows else []
        return keep, len(rows) - len(keep)

    async def _pace(self, session: AsyncSession, rows: list[Claimed], now: datetime) -> list[Claimed]:
        """Per-recipient rate limit: rows past the budget wait for the window to move; none is dropped."""
        limit = self.conf.rate_limit
        since = now - limit.window
        keys = {(c.tenant, c.recipient) for c in rows}
        counts = (await session.execute(
            select(T.c.tenant, T.c.recipient, func.count(), func.min(T.c.sent_at))
            .where(T.c.recipient.in_(sorted({k[1] for k in keys})), T.c.sent_at > since)
            .group_by(T.c.tenant, T.c.recipient))).all()
        used: Counter[tuple[str, str]] = Counter({(t, r): n for t, r, n, _ in counts if (t, r) in keys})
        oldest = {(t, r): first for t, r, _, first in counts}
        keep = []
        for c in rows:
            key = (c.tenant, c.recipient)
            if used[key] < limit.per_recipient:
                used[key] += 1
                keep.append(c)
                continue
            until = (oldest[key] + limit.window) if key in oldest else now + limit.window
            await defer(session, c.id, c.attempts, max(until, now + timedelta(seconds=1)),
                        f"rate limit: {limit.per_recipient} alerts per {limit.window} to {c.recipient}", uncount=True)
            log.info("alert put off by the per-recipient rate limit", alert=c.id, recipient=c.recipient,
                     until=until.isoformat())
        return keep

    # -- send ------------------------------------------------------------------------------------

    def notification(self, c: Claimed, now: datetime) -> Notification:
        ack_url = self.links.url(c.id, now) if self.links and c.channel in LINK_CHANNELS else None
        return Notification(alert_id=c.id, tenant=c.tenant, task_id=c.task_id, level=c.level, recipient=c.recipient,
                            recipient_name=c.recipient_name, channel=Channel(c.channel), address=c.address,
                            subject=c.subject, text=c.body, link=c.link, ack_code=c.ack_code, ack_url=ack_url,
                            callback_base=self.callback_base)

    async def _attempt(self, c: Claimed, now: datetime) -> Receipt | TryLater | GiveUp:
        provider = self.providers.get(Channel(c.channel))
        if provider is None:
            return GiveUp(f"no provider configured for {c.channel}")
        try:
            return await asyncio.wait_for(provider.send(self.notification(c, now)),
                                          self.conf.retry.send_timeout.total_seconds())
        except (TryLater, GiveUp) as exc:
            return exc
        except TimeoutError:
            return TryLater(f"{c.channel} provider did not answer within {self.conf.retry.send_timeout}")
        except Exception as exc:  # a provider bug must not lose the alert: log loudly, retry like TryLater
            log.exception("provider raised an unexpected error; treated as transient", alert=c.id, channel=c.channel)
            return TryLater(f"unexpected {type(exc).__name__}: {exc}")

    def _outcome(self, c: Claimed, result: Receipt | TryLater | GiveUp, now: datetime) -> Outcome | None:
        """What to write for a sent or retry-later result; None when the result needs a failover."""
        where = dict(alert=c.id, tenant=c.tenant, task_id=c.task_id, alert_level=c.level, channel=c.channel,
                     attempt=c.attempts)
        if isinstance(result, Receipt):
            log.info("← alert sent", provider_id=result.provider_id, **where)
            return Outcome(c.id, c.attempts, receipt=result)
        retry = self.conf.retry
        if isinstance(result, TryLater) and (c.attempts < retry.max_attempts or c.escalation_id is None):
            delay = backoff(c.attempts, base=retry.base, cap=retry.cap, jitter=self.rng())
            if result.after is not None:
                delay = max(delay, timedelta(seconds=result.after))
            log.info("↻ alert will be retried", reason=result.reason, in_s=round(delay.total_seconds(), 1), **where)
            return Outcome(c.id, c.attempts, until=now + delay, error=result.reason)
        if isinstance(result, GiveUp):
            log.warning("! alert refused", reason=result.reason, fault=str(result.fault), **where)
        return None

    async def _fail(self, c: Claimed, result: TryLater | GiveUp, now: datetime, stats: DrainStats) -> None:
        reason = (result.reason if isinstance(result, GiveUp)
                  else f"gave up after {c.attempts} attempts: {result.reason}")
        async with self.sessions.begin() as session:
            new_id = await fail_over(session, c.id, now=now, conf=self.conf, reason=reason, attempts=c.attempts)
        stats.failed += 1
        stats.failed_over += new_id is not None

    async def send_claimed(self, claimed: list[Claimed], now: datetime) -> DrainStats:
        """Send a claimed batch all at once, then write the outcomes.

        Sent and retry-later outcomes are written together in one transaction
        (``write_outcomes``, rows locked in id order, as acknowledgements lock
        them); each failover gets its own transaction, because it locks the
        escalation first.
        """
        stats = DrainStats()
        results = await asyncio.gather(*(self._attempt(c, now) for c in claimed))
        outcomes, failing = [], []
        for c, result in zip(claimed, results):
            outcome = self._outcome(c, result, now)
            if outcome is None:
                failing.append((c, result))
            else:
                outcomes.append(outcome)
        async with self.sessions.begin() as session:
            written = await write_outcomes(session, outcomes, now)
        stats.sent = sum(1 for o in outcomes if o.receipt is not None and o.alert_id in written)
        stats.retried = sum(1 for o in outcomes if o.receipt is None and o.alert_id in written)
        stats.stale = len(outcomes) - len(written)
        for c, result in failing:
            await self._fail(c, result, now, stats)
        return stats

    async def dispatch_once(self, now: datetime) -> tuple[DrainStats, bool]:
        """One claim and its sends; the flag says whether anything was due."""
        claimed, deferred = await self._claim(now, None)
        stats = await self.send_claimed(claimed, now)
        stats.deferred += deferred
        return stats, bool(claimed or deferred)

    async def drain(self, now: datetime) -> DrainStats:
        """Burst mode: send everything due at ``now`` (failovers included), then return the counts."""
        total = DrainStats()
        while True:
            stats, busy = await self.dispatch_once(now)
            total.add(stats)
            if not busy:
                return total

    async def run(self, stop: asyncio.Event, clock: Callable[[], datetime] = utcnow) -> None:
        """Send until ``stop`` is set; wakes early when ``wake`` is set (the clock just queued alerts)."""
        poll = self.conf.poll.total_seconds()
        while not stop.is_set():
            self.wake.clear()
            try:
                await self.drain(clock())
            except Exception:  # the loop must outlive a database outage; the alerts wait in SQL
                log.exception("outbox dispatch failed; retrying after the poll interval")
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
            await asyncio.wait(waiters, timeout=poll, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()
