"""People and org units in SQL: reading a tenant's directory, replacing it, loading people.yaml.

Strategy: a directory is replaced whole (delete the tenant's rows, insert the
new ones) inside the caller's transaction, and ``people_directories`` keeps
where it came from. A tenant's section of people.yaml is applied only when
its digest differs from the one last applied, so restarting with an unchanged
file keeps edits made through the API, while editing the file wins.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, insert, literal, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from flows.directory import Directory, TenantPeople, Unit
from flows.directory import Person as DirPerson
from flows.files import read_people
from flows.models import OrgUnit, PeopleDirectory, Person
from hotline.logs import get_logger
from hotline.yamlconf import ConfigErrors

__all__ = ["load_directory", "person_named", "replace_directory", "sync_people_file"]

log = get_logger(__name__)


async def load_directory(session: AsyncSession, tenant: str) -> Directory:
    """The tenant's people and units as stored (empty when none were loaded); one round trip."""
    p, u = Person.__table__.c, OrgUnit.__table__.c
    people = select(
        literal("p").label("src"), p.key, p.name, p.unit, p.roles, p.phone, p.email, p.wecom, p.active,
        null().label("manager"),
    ).where(p.tenant == tenant)
    units = select(
        literal("u"), u.key, u.name, u.parent, null(), null(), null(), null(), null(), u.manager
    ).where(u.tenant == tenant)
    by_person: dict[str, DirPerson] = {}
    by_unit: dict[str, Unit] = {}
    for r in (await session.execute(union_all(people, units))).all():
        if r.src == "p":
            by_person[r.key] = DirPerson(r.key, r.name, r.unit, tuple(r.roles), r.phone, r.email, r.wecom, r.active)
        else:  # a unit row: its parent is in the ``unit`` column
            by_unit[r.key] = Unit(r.key, r.name, r.unit, r.manager)
    return Directory(by_person, by_unit)


def _digest(org: TenantPeople) -> str:
    return hashlib.sha256(json.dumps(org.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


async def replace_directory(
    session: AsyncSession,
    tenant: str,
    org: TenantPeople,
    by: str,
    now: datetime,
    file_digest: str | None = None,
) -> int:
    """Make ``org`` the tenant's directory; returns its new revision.

    Open-task counters survive for people who stay. ``file_digest`` is given
    when the org came from people.yaml (see the module docstring).
    """
    counts = dict(
        (await session.execute(select(Person.key, Person.open_tasks).where(Person.tenant == tenant))).all()
    )
    await session.execute(delete(Person).where(Person.tenant == tenant))
    await session.execute(delete(OrgUnit).where(OrgUnit.tenant == tenant))
    if org.units:
        await session.execute(
            insert(OrgUnit),
            [
                {"tenant": tenant, "key": k, "name": u.name or k, "parent": u.parent, "manager": u.manager}
                for k, u in org.units.items()
            ],
        )
    if org.people:
        await session.execute(
            insert(Person),
            [
                {
                    "tenant": tenant,
                    "key": k,
                    "name": p.name or k,
                    "unit": p.unit,
                    "roles": p.roles,
                    "phone": p.phone,
                    "email": p.email,
                    "wecom": p.wecom,
                    "active": p.active,
                    "open_tasks": counts.get(k, 0),
                }
                for k, p in org.people.items()
            ],
        )
    row = (
        await session.execute(select(PeopleDirectory).where(PeopleDirectory.tenant == tenant))
    ).scalar_one_or_none()
    if row is None:
        row = PeopleDirectory(tenant=tenant, revision=0, updated_by=by, updated_at=now)
        session.add(row)
    row.revision += 1
    row.updated_by, row.updated_at = by, now
    if file_digest is not None:
        row.file_digest = file_digest
    await session.flush()
    return row.revision


async def sync_people_file(
    session: AsyncSession, path: Path, now: datetime, regions: Mapping[str, str]
) -> list[str]:
    """Apply every tenant section of people.yaml that changed since it was last applied (phones read in
    ``regions``, tenant → its phone region).

    Returns the tenants applied; raises ``ConfigErrors`` (nothing applied) when
    the file has errors.
    """
    orgs, errors = read_people(path, regions)
    if errors:
        raise ConfigErrors(errors)
    applied = []
    for tenant, org in orgs.items():
        digest = _digest(org)
        current = (
            await session.execute(select(PeopleDirectory.file_digest).where(PeopleDirectory.tenant == tenant))
        ).scalar_one_or_none()
        if current == digest:
            continue
        await replace_directory(session, tenant, org, f"file:{path.name}", now, file_digest=digest)
        applied.append(tenant)
        log.info("people loaded from file", tenant=tenant, file=str(path), people=len(org.people))
    return applied


async def person_named(session: AsyncSession, tenant: str, name: str) -> str | None:
    """The person an API token acts as: the one whose id equals the token's name (``--name``)."""
    c = Person.__table__.c
    found = await session.execute(select(c.key).where(c.tenant == tenant, c.key == name, c.active.is_(True)))
    return found.scalar_one_or_none()
