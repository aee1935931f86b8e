"""A tenant's people and org units in SQL, plus the round-robin cursors of assignment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from flows.models._types import BigId
from hotline.models.base import Base, TenantScoped, utcnow

__all__ = ["AssignCursor", "OrgUnit", "PeopleDirectory", "Person"]


class Person(TenantScoped, Base):
    """Someone tasks can go to. ``open_tasks`` is the least-loaded counter, kept by the engine.

    The counter moves in the same transaction as the task rows it counts; it
    only steers assignment, so a drift would skew balance, never correctness.
    """

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("tenant", "key", name="uq_people_tenant_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    unit: Mapped[str | None] = mapped_column(String(64))
    roles: Mapped[list[str]] = mapped_column(JSON)
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    wecom: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    open_tasks: Mapped[int] = mapped_column(default=0)


class OrgUnit(TenantScoped, Base):
    __tablename__ = "org_units"
    __table_args__ = (UniqueConstraint("tenant", "key", name="uq_org_units_tenant_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    parent: Mapped[str | None] = mapped_column(String(64))
    manager: Mapped[str | None] = mapped_column(String(64))


class PeopleDirectory(TenantScoped, Base):
    """Where a tenant's people last came from.

    ``file_digest`` is the digest of the tenant's section of people.yaml when
    it was last loaded: the file is applied again only when that section
    changes, so an unchanged file never overwrites edits made through the API.
    """

    __tablename__ = "people_directories"
    __table_args__ = (UniqueConstraint("tenant", name="uq_people_directories_tenant"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    file_digest: Mapped[str | None] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(128))


class AssignCursor(TenantScoped, Base):
    """Round-robin position per (flow, node): the next candidate is ``position % len(candidates)``."""

    __tablename__ = "assign_cursors"
    __table_args__ = (UniqueConstraint("tenant", "scope", name="uq_assign_cursors_tenant_scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(160))
    position: Mapped[int] = mapped_column(BigId, default=0)
