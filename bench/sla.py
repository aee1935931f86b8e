"""SLA clock and alert dispatch on PostgreSQL: claim cost vs. pending deadlines, fire lag, dispatch rate.

Usage::

    python bench/sla.py [--url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres] [--sizes 10000,100000,1000000]
                        [--rounds 15] [--dispatch 1500] [--concurrency 16,64]

Strategy: a fresh database is created (and dropped at the end), migrated,
and bulk-loaded with COPY: escalations with three levels each, every
deadline in the future (1 h to 30 days), so they sit in the partial index but
are not due. At each size the bench puts a batch of 200 due deadlines in and
times one ``SlaClock.fire_batch`` (claim with SKIP LOCKED, generation check,
outbox inserts, commit) and one idle claim (nothing due: what every poll
costs). Fired rows are deleted, so later rounds also pay for the dead tuples
of earlier ones (no VACUUM in between). Fire lag is measured with the clock's
real loop (poll 250 ms) over the largest table; dispatch rate with a provider
that takes 50 ms per call. Everything is bounded by the sizes given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.clock import SlaClock  # noqa: E402
from alerts.config import AlertsConf, RateLimitConf  # noqa: E402
from alerts.outbox import Outbox  # noqa: E402
from alerts.plan import Channel, Contact, Level, Plan  # noqa: E402
from alerts.providers.base import Notification, ProviderFlags, Receipt  # noqa: E402
from alerts.providers.registry import ProviderSet  # noqa: E402
from bench._scratch_db import scratch_database  # noqa: E402
from hotline.db import create_engine, session_factory, upgrade  # noqa: E402
from hotline.logs import configure_logging  # noqa: E402

BATCH = 200
NOW = datetime.now(UTC).replace(microsecond=0)
PLAN = Plan(title="bench", text="bench task", levels=(
    Level(level=1, channels=(Channel.WECOM,), recipients=(Contact(key="a", wecom="a"),)),
    Level(level=2, offset=timedelta(minutes=15), channels=(Channel.SMS,), recipients=(Contact(key="b", phone="+1"),)),
    Level(level=3, offset=timedelta(minutes=30), channels=(Channel.VOICE,), recipients=(Contact(key="c", phone="+2"),)),
)).model_dump(mode="json")


def dsn(url: str, database: str | None = None) -> str:
    u = make_url(url).set(drivername="postgresql")
    return (u.set(database=database) if database else u).render_as_string(hide_password=False)


class Loader:
    """Bulk-loads escalations (three pending levels each) with COPY; ids are assigned here."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.next_esc = 1

    async def escalations(self, count: int, *, tenant: str, due: list[datetime]) -> list[int]:
        ids = list(range(self.next_esc, self.next_esc + count))
        self.next_esc += count
        plan = json.dumps(PLAN)
        await self.conn.copy_records_to_table("alert_escalations", columns=[
            "id", "tenant", "task_id", "state", "generation", "plan", "started_at", "due_at", "ack_code", "created_at"],
            records=[(i, tenant, str(i), "active", 1, plan, d - timedelta(hours=1), d, "123456", NOW)
                     for i, d in zip(ids, due)])
        await self.conn.copy_records_to_table("alert_deadlines", columns=[
            "escalation_id", "level", "fire_at", "generation", "state"],
            records=[(i, lv, d + timedelta(minutes=off), 1, "pending")
                     for i, d in zip(ids, due) for lv, off in ((1, 0), (2, 15), (3, 30))])
        await self.conn.execute("SELECT setval(pg_get_serial_sequence('alert_escalations', 'id'), $1)",
                                self.next_esc - 1)
        return ids

    async def future(self, deadlines: int) -> None:
        """``deadlines`` pending rows (a third as many escalations), all due between 1 h and 30 days from now."""
        count = deadlines // 3
        step = (30 * 86400 - 3600) / max(count, 1)
        for start in range(0, count, 50_000):
            n = min(50_000, count - start)
            due = [NOW + timedelta(seconds=3600 + (start + k) * step) for k in range(n)]
            await self.escalations(n, tenant="bench", due=due)


async def timed_fire(clock: SlaClock, loader: Loader, rounds: int) -> tuple[list[float], list[float]]:
    """(ms per fire_batch of 200 due deadlines, ms per idle claim) over ``rounds`` rounds."""
    fire_ms, idle_ms = [], []
    for _ in range(rounds):
        due = [NOW - timedelta(hours=1)] * (BATCH // 3 + 1)
        await loader.escalations(len(due), tenant="due", due=due)   # 3 levels each, all three already due
        t = time.perf_counter()
        stats = await clock.fire_batch(NOW)
        fire_ms.append((time.perf_counter() - t) * 1000)
        assert stats.fired == BATCH, stats
        while (await clock.run_once(NOW)).fired:                  # the leftovers of this round
            pass
        t = time.perf_counter()
        assert (await clock.fire_batch(NOW)).fired == 0
        idle_ms.append((time.perf_counter() - t) * 1000)
    return fire_ms, idle_ms


async def fire_lag(clock: SlaClock, loader: Loader, count: int = 60) -> list[float]:
    """Seconds from fire_at to the outbox row, for deadlines due over the next ~3 s, with the real loop."""
    real_now = datetime.now(UTC)
    due = [real_now + timedelta(seconds=1 + 2 * k / count) for k in range(count)]
    ids = await loader.escalations(count, tenant="lag", due=due)
    stop = asyncio.Event()
    runner = asyncio.create_task(clock.run(stop))
    await asyncio.sleep(4.5)
    stop.set()
    await runner
    rows = await loader.conn.fetch(
        "SELECT o.created_at, d.due_at FROM alert_outbox o JOIN alert_escalations d ON d.id = o.escalation_id "
        "WHERE o.tenant = 'lag' AND o.level = 1 AND d.id = ANY($1::bigint[])", ids)
    return sorted((r["created_at"] - r["due_at"]).total_seconds() for r in rows)


class SlowProvider:
    flags = ProviderFlags()

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.calls = 0

    async def send(self, note: Notification) -> Receipt:
        await asyncio.sleep(0.05)
        self.calls += 1
        return Receipt(provider_id=f"x{note.alert_id}")

    async def aclose(self) -> None:
        return None


async def dispatch_rate(sessions, conn: asyncpg.Connection, count: int, concurrency: int) -> float:  # noqa: ANN001
    tenant = f"dispatch{concurrency}"
    await conn.execute("DELETE FROM alert_outbox")       # only this run's alerts are due
    await conn.execute("""
        INSERT INTO alert_outbox (tenant, escalation_id, task_id, level, recipient, recipient_name, contact, channel,
            address, subject, body, ack_code, state, attempts, next_attempt_at, created_at)
        SELECT $1, 1, 'd' || g, 1, 'r' || g, '', '{}', 'wecom', 'r' || g, 'bench', 'bench', '123456', 'queued', 0,
            $2, $2
        FROM generate_series(1, $3) g""", tenant, NOW, count)
    provider = SlowProvider(Channel.WECOM)
    conf = AlertsConf(rate_limit=RateLimitConf(per_recipient=1000))
    outbox = Outbox(sessions, ProviderSet({Channel.WECOM: provider}), conf, concurrency=concurrency)
    t = time.perf_counter()
    stats = await outbox.drain(NOW)
    elapsed = time.perf_counter() - t
    assert stats.sent >= count and provider.calls >= count, (stats, provider.calls)
    return count / elapsed


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main(args: argparse.Namespace) -> None:
    configure_logging("ERROR")
    async with scratch_database(args.url) as url:
        await _run(args, url)


async def _run(args: argparse.Namespace, url: str) -> None:
    engine = create_engine(url, pool_size=max(args.concurrency) + 5, max_overflow=0)
    conn = None
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        conn = await asyncpg.connect(dsn(url))
        loader = Loader(conn)
        clock = SlaClock(sessions, AlertsConf(), batch=BATCH)
        loaded = 0
        print(f"claim cost: batches of {BATCH} due deadlines, {args.rounds} rounds per size (ms)")
        print(f"{'pending':>10} {'load s':>7} {'fire p50':>9} {'fire p90':>9} {'per row':>8} {'idle p50':>9} {'idle p90':>9}")
        for size in args.sizes:
            t = time.perf_counter()
            await loader.future(size - loaded)
            await conn.execute("ANALYZE alert_deadlines; ANALYZE alert_escalations")
            load_s = time.perf_counter() - t
            loaded = size
            fire, idle = await timed_fire(clock, loader, args.rounds)
            print(f"{size:>10,} {load_s:>7.1f} {statistics.median(fire):>9.1f} {pct(fire, 90):>9.1f} "
                  f"{statistics.median(fire) / BATCH:>8.3f} {statistics.median(idle):>9.2f} {pct(idle, 90):>9.2f}")
        plan = await conn.fetch("EXPLAIN SELECT id FROM alert_deadlines WHERE state = 'pending' AND fire_at <= $1 "
                                "ORDER BY fire_at LIMIT 200 FOR UPDATE SKIP LOCKED", NOW)
        scan = next((r[0].strip() for r in plan if "Scan" in r[0]), "?")
        print(f"claim plan at {loaded:,} pending: {scan.split('  (')[0]}")
        lags = await fire_lag(clock, loader)
        print(f"fire lag over {loaded:,} pending, poll 250 ms, {len(lags)} deadlines (s): "
              f"p50 {pct(lags, 50):.3f}  p99 {pct(lags, 99):.3f}  max {lags[-1]:.3f}")
        for c in args.concurrency:
            rate = await dispatch_rate(sessions, conn, args.dispatch, c)
            print(f"dispatch: {args.dispatch} alerts, provider 50 ms/call, concurrency {c}: {rate:,.0f} alerts/s")
    finally:
        if conn is not None:
            await conn.close()
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("HOTLINE_BENCH_POSTGRES_URL",
                                                        "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--dispatch", type=int, default=1500)
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[16, 64])
    asyncio.run(main(parser.parse_args()))
