"""Flow versions: deploying a definition, finding the newest, reading the one a ticket pinned.

Strategy: a deploy validates the YAML against the tenant's people (only warning
about the names while it has none yet), and stores it as a new immutable
version only when its text changed (SHA-256 digest), so re-deploying a whole
directory is cheap and idempotent. A bad definition raises ``ConfigErrors``
and stores nothing: the good version in force stays.
Parsed definitions are memoized by digest (content-addressed, so safe across
databases and processes); a ``Catalog`` is a tenant's newest versions by
template, cached for a short time by the intake so a busy stream does not
re-read them per batch.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.analysis import Analysis
from flows.definition import FlowDef
from flows.directory import Directory
from flows.files import read_flow_text
from flows.models import FlowVersion
from flows.people_store import load_directory
from hotline.tokens import Role
from hotline.yamlconf import ConfigError, ConfigErrors

__all__ = [
    "Catalog",
    "CatalogCache",
    "Deployed",
    "VersionInfo",
    "check_definition",
    "definitions",
    "definitions_by_digest",
    "deploy",
    "latest_versions",
    "viewable_versions",
]

_CACHE_SIZE = 512


class _Definitions:
    """Parsed definitions by digest, least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[str, FlowDef] = OrderedDict()

    def get(self, digest: str) -> FlowDef | None:
        found = self.items.get(digest)
        if found is not None:
            self.items.move_to_end(digest)
        return found

    def put(self, digest: str, definition: dict) -> FlowDef:
        flow = FlowDef.model_validate(definition)
        self.items[digest] = flow
        if len(self.items) > self.size:
            self.items.popitem(last=False)
        return flow


_parsed = _Definitions(_CACHE_SIZE)


@dataclass(frozen=True)
class VersionInfo:
    id: int
    key: str
    version: int
    digest: str
    flow: FlowDef


@dataclass(frozen=True)
class Deployed:
    """What a deploy did: ``created`` is False when the text was already the newest version; ``warnings``
    name the people it could not check (see ``check_definition``)."""

    info: VersionInfo
    created: bool
    warnings: list[ConfigError]


def digest_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def definitions(session: AsyncSession, version_ids: Iterable[int]) -> dict[int, FlowDef]:
    """The definitions of these versions (tickets pin one each); unknown ids are left out."""
    ids = sorted(set(version_ids))
    if not ids:
        return {}
    c = FlowVersion.__table__.c
    digests = dict((await session.execute(select(c.id, c.digest).where(c.id.in_(ids)))).all())
    return await definitions_by_digest(session, digests)


async def definitions_by_digest(session: AsyncSession, digests: Mapping[int, str]) -> dict[int, FlowDef]:
    """The definitions of versions whose digests the caller already read (version id → digest).

    Parsed definitions are content-addressed, so only versions never parsed in
    this process cost a query.
    """
    c = FlowVersion.__table__.c
    out = {i: flow for i, d in digests.items() if (flow := _parsed.get(d)) is not None}
    missing = [i for i in digests if i not in out]
    if missing:
        for i, definition in (
            await session.execute(select(c.id, c.definition).where(c.id.in_(missing)))
        ).all():
            out[i] = _parsed.put(digests[i], definition)
    return out


async def latest_versions(session: AsyncSession, tenant: str) -> dict[str, VersionInfo]:
    """The newest version of each of the tenant's flows, by flow key."""
    c = FlowVersion.__table__.c
    newest = select(func.max(c.id)).where(c.tenant == tenant).group_by(c.flow_key).scalar_subquery()
    rows = (
        await session.execute(select(c.id, c.flow_key, c.version, c.digest).where(c.id.in_(newest)))
    ).all()
    flows = await definitions(session, [r.id for r in rows])
    return {r.flow_key: VersionInfo(r.id, r.flow_key, r.version, r.digest, flows[r.id]) for r in rows}


async def viewable_versions(session: AsyncSession, tenant: str, role: Role) -> list[int]:
    """Ids of the tenant's flow versions whose tickets ``role`` may view."""
    c = FlowVersion.__table__.c
    rows = (await session.execute(select(c.id, c.permissions).where(c.tenant == tenant))).all()
    return [i for i, permissions in rows if str(role) in permissions.get("view", [str(r) for r in Role])]


def check_definition(text: str, key: str, directory: Directory | None, file: str) -> Analysis:
    """What deploying ``text`` as flow ``key`` finds. An empty ``directory`` is people not loaded yet (for
    ``load_directory``, none stored): its flows are checked without people, each name a warning."""
    return read_flow_text(text, file, directory if directory and directory.people else None, key)


async def deploy(
    session: AsyncSession,
    tenant: str,
    key: str,
    text: str,
    *,
    origin: str,
    now: datetime,
    directory: Directory | None,
    file: str | None = None,
) -> Deployed:
    """Validate ``text`` as flow ``key`` and store it as the newest version unless unchanged.

    Raises ``ConfigErrors`` (located in ``file``) and stores nothing when the
    definition is bad; ``IntegrityError`` (on flush or commit) when another
    deploy of the same flow took the version number first: deploy again.
    """
    flow, errors, warnings = check_definition(text, key, directory, file or f"{tenant}/{key}.yaml")
    if flow is None:
        raise ConfigErrors(errors)
    digest = digest_of(text)
    current = (await latest_versions(session, tenant)).get(key)
    if current is not None and current.digest == digest:
        return Deployed(current, created=False, warnings=warnings)
    row = FlowVersion(
        tenant=tenant,
        flow_key=key,
        version=(current.version if current else 0) + 1,
        digest=digest,
        source=text,
        definition=flow.dump(),
        templates=flow.template_names,
        permissions=flow.permissions.model_dump(mode="json"),
        origin=origin,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    _parsed.put(digest, row.definition)
    return Deployed(VersionInfo(row.id, key, row.version, digest, flow), created=True, warnings=warnings)


@dataclass(frozen=True)
class Catalog:
    """A tenant's newest flows by the intent template that opens tickets on them, and its people."""

    by_template: dict[str, VersionInfo]
    directory: Directory

    @classmethod
    async def load(cls, session: AsyncSession, tenant: str) -> Catalog:
        latest = await latest_versions(session, tenant)
        directory = await load_directory(session, tenant)
        return cls({t: info for info in latest.values() for t in info.flow.template_names}, directory)


class CatalogCache:
    """Catalogs per tenant, re-read after ``ttl_s`` (0: every time): how soon a deploy reaches the intake."""

    def __init__(self, ttl_s: float = 1.0) -> None:
        self.ttl_s = ttl_s
        self._items: dict[str, tuple[float, Catalog]] = {}

    async def get(self, session: AsyncSession, tenant: str) -> Catalog:
        now = time.monotonic()
        found = self._items.get(tenant)
        if found is None or now - found[0] >= self.ttl_s:
            found = (now, await Catalog.load(session, tenant))
            self._items[tenant] = found
        return found[1]
