"""SQL rows of the statistics: every finished offer, and the 15-minute interval reports built from them.

An *offer* is one call presented to one target (a queue, trunk, agent,
extension or skill group) and how that ended. Offers are the facts; interval
rows are derived from them and can always be rebuilt, which is why the
roll-up may rewrite an interval when a late event adds an offer to it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hotline.models.base import Base, TenantScoped

__all__ = ["StatsInterval", "StatsOffer"]

_BigId = BigInteger().with_variant(Integer(), "sqlite")


class StatsOffer(TenantScoped, Base):
    """One offer's fate; the named unique constraint makes a redelivered PBX event a no-op."""

    __tablename__ = "stats_offers"
    __table_args__ = (
        UniqueConstraint("tenant", "dimension", "name", "call_id", "offered_at",
                         name="uq_stats_offers_tenant_dimension_name_call_id_offered_at"),
        Index("ix_stats_offers_tenant_ended_at", "tenant", "ended_at"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16))  # api.stats.offers.Dimension
    name: Mapped[str] = mapped_column(String(128))
    call_id: Mapped[str] = mapped_column(String(128))
    offered_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    result: Mapped[str] = mapped_column(String(16))  # api.stats.offers.Result
    wait_ms: Mapped[int] = mapped_column(Integer)


class StatsInterval(TenantScoped, Base):
    """Figures of one target over one 15-minute interval, counting the offers that *ended* in it.

    Waits are those of answered offers (the time to answer); ``answered_20s``
    counts answers within 20 s, and its share is taken of everything offered.
    """

    __tablename__ = "stats_intervals"
    __table_args__ = (
        UniqueConstraint("tenant", "starts_at", "dimension", "name",
                         name="uq_stats_intervals_tenant_starts_at_dimension_name"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    starts_at: Mapped[datetime]
    dimension: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128))
    offered: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    abandoned: Mapped[int] = mapped_column(Integer)
    diverted: Mapped[int] = mapped_column(Integer)
    answered_20s: Mapped[int] = mapped_column(Integer)
    avg_wait_s: Mapped[float | None] = mapped_column(Float)
    p90_wait_s: Mapped[float | None] = mapped_column(Float)
