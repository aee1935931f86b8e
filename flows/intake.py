"""Intent events in, tickets out: one transaction per stream batch, with Core statements.

Strategy: a batch is turned into tickets in four round trips plus the
writes: one query finds which (call id, template) keys are already known
(opening call of a ticket, or a call attached to one) and which open tickets
the callers have for those templates; new tickets are planned in memory by
the engine and written by ``Workspace.flush`` (INSERT ... ON CONFLICT DO
NOTHING on ``uq_tickets_tenant_call_id_template``); repeat calls inside the
flow's ``repeat_window`` of an open ticket's last call attach to it through
``uq_ticket_calls_tenant_call_id_template``. A redelivered event therefore
changes nothing, and two workers racing on one event create one ticket.
Events that cannot become tickets (no template, no flow for it, another
tenant) are logged with the reason and counted as skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import String, any_, bindparam, case, literal, null, select, union_all
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from flows import engine
from flows.fields import coerce_fields
from flows.models import EventKind, Ticket, TicketCall, TicketEvent, TicketState
from flows.versions import Catalog
from flows.workspace import PresenceSource, TicketDraft, Workspace, dialect_insert
from hotline.logs import get_logger
from ivr.events import IntentEvent

__all__ = ["INTAKE", "IntakeResult", "intake"]

log = get_logger(__name__)
INTAKE = "intake"


@dataclass
class IntakeResult:
    """Counts for one batch; ``tickets`` are the ids of the tickets created."""

    created: int = 0
    attached: int = 0
    duplicates: int = 0
    skipped: int = 0


@dataclass
class _Open:
    """An open ticket a repeat call may attach to (from SQL, or created earlier in this batch)."""

    ticket_id: int | None
    last_call_at: datetime
    draft: TicketDraft | None = None


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _among(column: Any, values: list[str], name: str, dialect: str) -> Any:
    """``column IN values``; one array parameter on PostgreSQL, where a thousand-parameter IN plans slowly."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, values, type_=postgresql.ARRAY(String)))
    return column.in_(values)


async def _known(
    session: AsyncSession, tenant: str, events: Sequence[IntentEvent]
) -> tuple[set[tuple[str, str]], dict[tuple[str, str], list[_Open]]]:
    """Keys already handled, and open tickets per (caller, template)."""
    t, c = Ticket.__table__.c, TicketCall.__table__.c
    dialect = (await session.connection()).dialect.name
    calls = sorted({e.call_id for e in events})
    callers = sorted({e.caller for e in events if e.caller})
    templates = sorted({e.template for e in events if e.template})
    known_tickets = select(
        literal("k").label("src"), t.id, t.call_id, t.template, t.caller, t.last_call_at
    ).where(t.tenant == tenant, _among(t.call_id, calls, "calls_t", dialect))
    known_calls = select(literal("k").label("src"), c.ticket_id, c.call_id, c.template, null(), null()).where(
        c.tenant == tenant, _among(c.call_id, calls, "calls_c", dialect)
    )
    parts = [known_tickets, known_calls]
    if callers:
        parts.append(
            select(literal("o").label("src"), t.id, t.call_id, t.template, t.caller, t.last_call_at).where(
                t.tenant == tenant,
                t.state == TicketState.OPEN,
                _among(t.caller, callers, "callers", dialect),
                t.template.in_(templates),
            )
        )
    known: set[tuple[str, str]] = set()
    open_by: dict[tuple[str, str], list[_Open]] = {}
    for row in (await session.execute(union_all(*parts))).all():
        if row[0] == "k":
            known.add((row.call_id, row.template))
        else:
            open_by.setdefault((row.caller, row.template), []).append(_Open(row.id, row.last_call_at))
    return known, open_by


def _target(open_by: dict[tuple[str, str], list[_Open]], event: IntentEvent, window_s: float) -> _Open | None:
    at = _at(event.started_at)
    fits = [
        o
        for o in open_by.get((event.caller, event.template or ""), [])
        if o.last_call_at >= at - timedelta(seconds=window_s)
    ]
    return max(fits, key=lambda o: o.last_call_at) if fits else None


def _usable(tenant: str, event: IntentEvent, catalog: Catalog) -> str | None:
    """Why the event cannot open a ticket, or None."""
    if event.tenant != tenant:
        return f"event of tenant {event.tenant!r} on tenant {tenant!r}'s stream"
    if not event.template:
        return "no ticket template (the caller expressed no intent with one)"
    if event.template not in catalog.by_template:
        return f"no deployed flow of this tenant opens template {event.template!r}"
    return None


async def _open_ticket(event: IntentEvent, catalog: Catalog, ws: Workspace, now: datetime) -> TicketDraft:
    info = catalog.by_template[event.template or ""]
    fields, problems, unknown = coerce_fields(event.fields, info.flow.fields)
    draft = TicketDraft(
        tenant=event.tenant,
        flow=info.flow,
        flow_version_id=info.id,
        template=event.template or "",
        call_id=event.call_id,
        caller=event.caller,
        opened_at=now,
        last_call_at=_at(event.started_at),
        intent=event.intent,
        priority=str(event.priority) if event.priority else None,
        fields=fields,
        repeat=1 if event.repeat else 0,
        updated_at=now,
    )
    data: dict[str, object] = {"call_id": event.call_id, "intent": event.intent, "priority": draft.priority}
    if problems or unknown:
        data.update({"invalid_fields": problems, "ignored_fields": unknown})
    ws.event(draft, EventKind.CREATED, INTAKE, to_node=info.flow.start, data=data)
    await engine.start(draft, ws, INTAKE)
    return draft


async def intake(
    session: AsyncSession,
    tenant: str,
    events: Sequence[IntentEvent],
    *,
    catalog: Catalog,
    now: datetime,
    presence: PresenceSource | None = None,
) -> IntakeResult:
    """Turn one batch of intent events into tickets and attachments (flushed, not committed)."""
    result = IntakeResult()
    usable: dict[tuple[str, str], IntentEvent] = {}
    for event in events:
        reason = _usable(tenant, event, catalog)
        if reason is not None:
            log.info("intent event makes no ticket", tenant=tenant, call_id=event.call_id, reason=reason)
            result.skipped += 1
        elif (event.call_id, event.template or "") in usable:
            result.duplicates += 1
        else:
            usable[(event.call_id, event.template or "")] = event
    if not usable:
        return result
    known, open_by = await _known(session, tenant, list(usable.values()))
    ws = Workspace(session, tenant, now, directory=catalog.directory, presence=presence)
    attach: list[tuple[IntentEvent, _Open]] = []
    drafts: list[TicketDraft] = []
    for key, event in usable.items():
        if key in known:
            result.duplicates += 1
            continue
        window = catalog.by_template[event.template or ""].flow.repeat_window
        target = _target(open_by, event, window)
        if target is None:
            draft = await _open_ticket(event, catalog, ws, now)
            drafts.append(draft)
            open_by.setdefault((event.caller, draft.template), []).append(
                _Open(None, draft.last_call_at, draft)
            )
            continue
        attach.append((event, target))
        if target.draft is not None:
            target.draft.repeat += 1
            target.draft.last_call_at = max(target.draft.last_call_at, _at(event.started_at))
            ws.event(
                target.draft, EventKind.CALL, INTAKE, data={"call_id": event.call_id, "at": event.started_at}
            )
        target.last_call_at = max(target.last_call_at, _at(event.started_at))
    await ws.flush()
    result.created = sum(1 for d in drafts if not d.skipped)
    result.duplicates += len(drafts) - result.created
    result.attached = await _attach(session, tenant, attach, now)
    return result


async def _attach(
    session: AsyncSession, tenant: str, attach: list[tuple[IntentEvent, _Open]], now: datetime
) -> int:
    """Record repeat calls; only calls not recorded before touch their ticket. Returns how many were new."""
    rows = [
        {
            "tenant": tenant,
            "ticket_id": o.draft.id if o.draft else o.ticket_id,
            "call_id": e.call_id,
            "template": e.template,
            "at": _at(e.started_at),
        }
        for e, o in attach
        if not (o.draft and o.draft.skipped)
    ]
    if not rows:
        return 0
    conn = await session.connection()
    c = TicketCall.__table__
    statement = (
        dialect_insert(conn)(c)
        .on_conflict_do_nothing(index_elements=["tenant", "call_id", "template"])
        .returning(c.c.call_id, c.c.template)
    )
    new = {(r.call_id, r.template) for r in (await conn.execute(statement, rows)).all()}
    in_sql = [(e, o) for e, o in attach if o.draft is None and (e.call_id, e.template) in new]
    if in_sql:
        t = Ticket.__table__
        at = bindparam("b_at")
        await conn.execute(
            t.update()
            .where(t.c.id == bindparam("b_id"))
            .values(
                repeat=t.c.repeat + 1,
                last_call_at=case((t.c.last_call_at < at, at), else_=t.c.last_call_at),
                updated_at=now,
                version=t.c.version + 1,
            ),
            [{"b_id": o.ticket_id, "b_at": _at(e.started_at)} for e, o in in_sql],
        )
        await conn.execute(
            TicketEvent.__table__.insert(),
            [
                {
                    "tenant": tenant,
                    "ticket_id": o.ticket_id,
                    "at": now,
                    "actor": INTAKE,
                    "kind": EventKind.CALL,
                    "data": {"call_id": e.call_id, "at": e.started_at},
                }
                for e, o in in_sql
            ],
        )
    return len(new)
