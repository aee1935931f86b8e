"""SQL rows of the alerts room: escalations, their pending deadlines, and the outbox.

Strategy: time is a score. A deadline is a row whose ``fire_at`` sits in a
partial index over pending rows only; firing deletes it, so the index holds
what is still to come and a claim stays one short index range scan however
many alerts are in the history. An outbox row is inserted before any provider
is called, in the same transaction as the firing, under the named unique
constraint ``uq_alert_outbox_dedup`` (task, level, recipient, channel): a
replayed firing is a no-op. Its ``next_attempt_at`` is both the retry time and
the dispatcher's lease.

A *notice* is an outbox row with no escalation (``escalation_id`` NULL): a
one-off message to someone outside the escalation chain, today the chat link
a caller gets by SMS (``alerts.notices``). It rides the same dispatcher for its
retries, backoff, pacing and delivery reports; ``task_id`` then holds the call
id, so the dedup constraint makes it one message per call.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from alerts.plan import Channel
from hotline.models.base import Base, TenantScoped, utcnow

__all__ = ["AlertState", "Deadline", "DeadlineState", "Escalation", "EscalationState", "OutboxAlert"]

#: BIGINT on PostgreSQL; INTEGER on SQLite so the key is the autoincrementing rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _enum(cls: type[StrEnum]) -> Enum:
    """A StrEnum stored as its string value (VARCHAR, no database enum type to migrate)."""
    return Enum(cls, native_enum=False, create_constraint=False, length=16,
                values_callable=lambda e: [m.value for m in e], validate_strings=True)


class EscalationState(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ACKED = "acked"
    STOPPED = "stopped"


class DeadlineState(StrEnum):
    PENDING = "pending"
    PAUSED = "paused"


class AlertState(StrEnum):
    """Delivery state of one notification; ``cancelled`` = never sent because the task was acted on."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    ACKED = "acked"
    CANCELLED = "cancelled"


class Escalation(TenantScoped, Base):
    """One task's escalation: its frozen plan and the generation that live deadlines must carry."""

    __tablename__ = "alert_escalations"
    __table_args__ = (UniqueConstraint("tenant", "task_id", name="uq_alert_escalations_task"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[EscalationState] = mapped_column(_enum(EscalationState), default=EscalationState.ACTIVE)
    generation: Mapped[int] = mapped_column(default=1)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    calendar: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime]
    due_at: Mapped[datetime]
    paused_at: Mapped[datetime | None]
    ack_code: Mapped[str] = mapped_column(String(12), index=True)
    fired_level: Mapped[int | None]
    acked_at: Mapped[datetime | None]
    acked_by: Mapped[str | None] = mapped_column(String(128))
    ack_via: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Deadline(Base):
    """A level still to fire. Fired, acknowledged or stopped levels have no row."""

    __tablename__ = "alert_deadlines"
    __table_args__ = (
        UniqueConstraint("escalation_id", "level", name="uq_alert_deadlines_escalation_level"),
        Index("ix_alert_deadlines_due", "fire_at",
              postgresql_where=text("state = 'pending'"), sqlite_where=text("state = 'pending'")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("alert_escalations.id", ondelete="CASCADE"))
    level: Mapped[int]
    fire_at: Mapped[datetime]
    generation: Mapped[int]
    state: Mapped[DeadlineState] = mapped_column(_enum(DeadlineState), default=DeadlineState.PENDING)


class OutboxAlert(TenantScoped, Base):
    """One notification to one person on one channel; sent by the dispatcher, never twice."""

    __tablename__ = "alert_outbox"
    __table_args__ = (
        UniqueConstraint("tenant", "task_id", "level", "recipient", "channel", name="uq_alert_outbox_dedup"),
        Index("ix_alert_outbox_due", "next_attempt_at",
              postgresql_where=text("state = 'queued'"), sqlite_where=text("state = 'queued'")),
        Index("ix_alert_outbox_recipient_sent", "recipient", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: None for a notice (see the module docstring): nothing to acknowledge, no channel to fail over to.
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("alert_escalations.id", ondelete="CASCADE"),
                                                      index=True)
    #: The task an alert escalates, or the call a notice is about (PBX call ids reach 128 characters).
    task_id: Mapped[str] = mapped_column(String(128))
    level: Mapped[int]
    recipient: Mapped[str] = mapped_column(String(128))
    recipient_name: Mapped[str] = mapped_column(String(128), default="")
    #: The person's addresses when the level fired; failover picks the next channel's address from here.
    contact: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    address: Mapped[str] = mapped_column(String(256))
    subject: Mapped[str] = mapped_column(String(256))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(512))
    ack_code: Mapped[str] = mapped_column(String(12))
    state: Mapped[AlertState] = mapped_column(_enum(AlertState), default=AlertState.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    provider_id: Mapped[str | None] = mapped_column(String(128), index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    acked_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
