"""Deployed flow definitions: one immutable row per version of a flow."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hotline.models.base import Base, TenantScoped, utcnow

__all__ = ["FlowVersion"]


class FlowVersion(TenantScoped, Base):
    """A validated definition as deployed; tickets pin one (``tickets.flow_version_id``) for life.

    ``digest`` is the SHA-256 of ``source``: deploying unchanged text creates
    nothing, and parsed definitions are cached by it.
    """

    __tablename__ = "flow_versions"
    __table_args__ = (
        UniqueConstraint("tenant", "flow_key", "version", name="uq_flow_versions_tenant_flow_key_version"),
        Index("ix_flow_versions_tenant_flow_key", "tenant", "flow_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int]
    digest: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    templates: Mapped[list[str]] = mapped_column(JSON)
    permissions: Mapped[dict[str, Any]] = mapped_column(JSON)
    origin: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
