"""Tickets, their tasks, the calls attached to them and their append-only timeline."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from flows.models._types import BigId, str_enum
from hotline.models.base import Base, TenantScoped, utcnow

__all__ = [
    "OPEN_TASK_STATES",
    "EventKind",
    "Task",
    "TaskState",
    "Ticket",
    "TicketCall",
    "TicketEvent",
    "TicketState",
]


class TicketState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # reached a close node; ``result`` says which
    CANCELLED = "cancelled"


class TaskState(StrEnum):
    WAITING = "waiting"  # a later step of a sequence approval; not yet anyone's turn
    PENDING = "pending"  # assigned, not yet touched
    CLAIMED = "claimed"  # the assignee took it (and, in mode any, took it from the others)
    APPROVED = "approved"
    REJECTED = "rejected"
    DONE = "done"  # handled; ``outcome`` holds the outcome chosen
    CANCELLED = "cancelled"  # someone else decided the node, or the ticket was cancelled


#: States in which a task is someone's work (counted as load, shown in the inbox, on the SLA clock).
OPEN_TASK_STATES = (TaskState.PENDING, TaskState.CLAIMED)


class EventKind(StrEnum):
    """What a timeline entry records."""

    CREATED = "created"  # ticket opened from a call (data: call_id, ignored fields)
    CALL = "call"  # a repeat call attached to the open ticket (data: call_id, at)
    MOVED = "moved"  # from_node → to_node
    ASSIGNED = "assigned"  # tasks created at a node (data: people, note)
    NOTIFIED = "notified"  # CC or remind recipients (data: people, reason) for the alerts room
    CLAIMED = "claimed"
    APPROVED = "approved"
    REJECTED = "rejected"
    HANDLED = "handled"  # changes: fields changed {name: [old, new]}
    TRANSFERRED = "transferred"  # data: from, to
    COMMENTED = "commented"  # data: text
    DECIDED = "decided"  # a node's outcome (data: outcome)
    CONDITION_FAILED = "condition_failed"  # data: condition, error
    CANCELLED = "cancelled"
    REOPENED = "reopened"
    CLOSED = "closed"  # data: result


class Ticket(TenantScoped, Base):
    """One customer request moving through a flow, pinned to the flow version it started on.

    ``version`` increases on every change; actions take the row lock by
    bumping it first (``UPDATE ... RETURNING``), which serializes acts on one
    ticket on both PostgreSQL and SQLite.
    """

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("tenant", "call_id", "template", name="uq_tickets_tenant_call_id_template"),
        Index("ix_tickets_tenant_caller_template", "tenant", "caller", "template"),
        Index("ix_tickets_tenant_flow_key_current_node_state", "tenant", "flow_key", "current_node", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    flow_key: Mapped[str] = mapped_column(String(64))
    flow_version_id: Mapped[int] = mapped_column(ForeignKey("flow_versions.id"))
    template: Mapped[str] = mapped_column(String(64))
    intent: Mapped[str | None] = mapped_column(String(64))
    call_id: Mapped[str] = mapped_column(String(128))
    caller: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[TicketState] = mapped_column(str_enum(TicketState))
    result: Mapped[str | None] = mapped_column(String(64))
    current_node: Mapped[str] = mapped_column(String(64))
    step: Mapped[int] = mapped_column(default=0)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    outcomes: Mapped[dict[str, str]] = mapped_column(JSON)
    actors: Mapped[dict[str, str]] = mapped_column(JSON)
    repeat: Mapped[int] = mapped_column(default=0)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_call_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)


class TicketCall(TenantScoped, Base):
    """A later call attached to an open ticket; the named constraint makes a redelivered event a no-op."""

    __tablename__ = "ticket_calls"
    __table_args__ = (
        UniqueConstraint("tenant", "call_id", "template", name="uq_ticket_calls_tenant_call_id_template"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    call_id: Mapped[str] = mapped_column(String(128))
    template: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class Task(TenantScoped, Base):
    """One person's piece of work at one visit (``step``) of a node.

    ``due_at`` is ``activated_at + sla_s`` (wall clock for now; the SLA clock
    may recompute it for business hours), and ``warning_plan`` is the node's
    warning levels frozen when the task was made: ``[{level, after_s,
    channels, recipients: [people rules]}]``.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_tenant_assignee_state", "tenant", "assignee", "state"),
        Index("ix_tasks_state_due_at", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    node: Mapped[str] = mapped_column(String(64))
    node_type: Mapped[str] = mapped_column(String(32))
    step: Mapped[int]
    seq: Mapped[int] = mapped_column(default=0)
    assignee: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[TaskState] = mapped_column(str_enum(TaskState))
    outcome: Mapped[str | None] = mapped_column(String(64))
    acted_by: Mapped[str | None] = mapped_column(String(128))
    acted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    sla_s: Mapped[float | None] = mapped_column(Float)
    business_hours: Mapped[bool] = mapped_column(default=False)
    warning_plan: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    callback: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(default=1)


class TicketEvent(TenantScoped, Base):
    """One entry of a ticket's timeline; rows are only ever inserted."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket_id_id", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    task_id: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    kind: Mapped[EventKind] = mapped_column(str_enum(EventKind, 24))
    from_node: Mapped[str | None] = mapped_column(String(64))
    to_node: Mapped[str | None] = mapped_column(String(64))
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
