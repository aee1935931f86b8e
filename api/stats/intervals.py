"""15-minute interval reports: the figures of each target, computed from the offers that ended in it.

Strategy: offers are attributed to the interval in which they *ended* (were
answered, abandoned or diverted), so an interval is complete as soon as the
clock has passed it, and a row never has to wait for a call still queueing.
The consumer marks each interval it adds offers to as dirty; ``roll_up``
recomputes dirty intervals that are over and replaces their rows in one
transaction, so a late event simply rewrites its interval.

Definitions (also in the API docs): waits are those of *answered* offers
(time to answer); the 90th percentile is the nearest-rank one (the smallest
wait that at least 90 % of answered offers do not exceed); the share answered
within 20 s is taken of all offers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.stats.offers import Finished, Result
from api.stats.tables import StatsInterval, StatsOffer

__all__ = ["INTERVAL_S", "SERVICE_LEVEL_S", "Figures", "interval_start", "p90", "record_offers", "roll_up", "summarize"]

INTERVAL_S = 900
SERVICE_LEVEL_S = 20


def interval_start(ts: float) -> int:
    """Epoch seconds of the start of the interval holding ``ts``."""
    return int(ts // INTERVAL_S) * INTERVAL_S


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def p90(values: Sequence[int]) -> int | None:
    """Nearest-rank 90th percentile of ``values``; None for none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


@dataclass(frozen=True, slots=True)
class Figures:
    """One target's figures over one interval."""

    offered: int
    answered: int
    abandoned: int
    diverted: int
    answered_20s: int
    avg_wait_s: float | None
    p90_wait_s: float | None

    @property
    def answered_20s_share(self) -> float | None:
        return round(self.answered_20s / self.offered, 4) if self.offered else None


def summarize(offers: Iterable[tuple[str, int]]) -> Figures:
    """Figures of ``(result, wait_ms)`` pairs."""
    counts: dict[str, int] = defaultdict(int)
    waits: list[int] = []
    for result, wait_ms in offers:
        counts[result] += 1
        if result == Result.ANSWERED:
            waits.append(wait_ms)
    high = p90(waits)
    return Figures(
        offered=sum(counts.values()),
        answered=counts[Result.ANSWERED],
        abandoned=counts[Result.ABANDONED],
        diverted=counts[Result.DIVERTED],
        answered_20s=sum(1 for w in waits if w <= SERVICE_LEVEL_S * 1000),
        avg_wait_s=round(sum(waits) / len(waits) / 1000, 3) if waits else None,
        p90_wait_s=None if high is None else high / 1000,
    )


async def record_offers(conn: AsyncConnection, tenant: str, finished: Sequence[Finished]) -> None:
    """Insert settled offers; one already there (a redelivered event) is skipped by its unique constraint."""
    if not finished:
        return
    rows = [{"tenant": tenant, "dimension": str(f.dim), "name": f.name, "call_id": f.call_id,
             "offered_at": at(f.offered), "ended_at": at(f.ended), "result": str(f.result), "wait_ms": f.wait_ms}
            for f in finished]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    await conn.execute(dialect.insert(StatsOffer).values(rows).on_conflict_do_nothing(
        index_elements=["tenant", "dimension", "name", "call_id", "offered_at"]))


async def roll_up(engine: AsyncEngine, tenant: str, starts: Iterable[int]) -> int:
    """Rewrite the report rows of the intervals starting at ``starts`` (epoch s); returns rows written."""
    written = 0
    for start in sorted(set(starts)):
        begin = at(start)
        end = begin + timedelta(seconds=INTERVAL_S)
        async with engine.begin() as conn:
            offers = (await conn.execute(
                select(StatsOffer.dimension, StatsOffer.name, StatsOffer.result, StatsOffer.wait_ms)
                .where(StatsOffer.tenant == tenant, StatsOffer.ended_at >= begin, StatsOffer.ended_at < end)
            )).all()
            groups: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
            for dimension, name, result, wait_ms in offers:
                groups[(dimension, name)].append((result, wait_ms))
            await conn.execute(delete(StatsInterval).where(StatsInterval.tenant == tenant,
                                                           StatsInterval.starts_at == begin))
            rows = [{"tenant": tenant, "starts_at": begin, "dimension": dimension, "name": name,
                     **_columns(summarize(pairs))} for (dimension, name), pairs in sorted(groups.items())]
            if rows:
                await conn.execute(StatsInterval.__table__.insert(), rows)
            written += len(rows)
    return written


def _columns(figures: Figures) -> dict[str, int | float | None]:
    return {"offered": figures.offered, "answered": figures.answered, "abandoned": figures.abandoned,
            "diverted": figures.diverted, "answered_20s": figures.answered_20s,
            "avg_wait_s": figures.avg_wait_s, "p90_wait_s": figures.p90_wait_s}
