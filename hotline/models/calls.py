"""Finished calls with their IVR trajectory, written off the call path by a stream consumer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hotline.models.base import Base, TenantScoped


class Call(TenantScoped, Base):
    __tablename__ = "calls"
    __table_args__ = (UniqueConstraint("tenant", "call_id", name="uq_calls_tenant_call_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(128))
    caller: Mapped[str] = mapped_column(String(64), index=True)
    menu: Mapped[str | None] = mapped_column(String(128))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
    outcome_node: Mapped[str | None] = mapped_column(String(128))
    intent: Mapped[str | None] = mapped_column(String(64))
    repeat: Mapped[bool] = mapped_column(default=False)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    trajectory: Mapped[list[Any]] = mapped_column(JSON, default=list)
