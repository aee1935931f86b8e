"""The pages other than login and tickets: routing board, IVR map, flow map, inbox, alerts, reports, config.

Each handler reads what the page shows through the owning room's public
functions (or this API's own report functions) and renders it; the live
parts (routing board, flow map) are then kept current by their scripts,
from ``/ws/monitor`` and ``/api/v1/flows/{key}/graph``. Every query is the
caller's tenant's, so another tenant's objects are simply not found.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from yarl import URL

from alerts.models import Escalation, EscalationState
from alerts.queries import alert_json, list_alerts
from api.appkeys import SESSIONS, SETTINGS
from api.auth import principal
from api.errors import ApiError
from api.pages.login import home_for, redirect
from api.pages.menus import menu_names
from api.pages.render import as_json, at_least, error_page, render
from api.stats.offers import Dimension
from api.stats.reports import CSV_COLUMNS, dimension, interval_rows, ivr_report, period, tenant_menus
from flows.people_store import person_named
from flows.queries import inbox
from flows.versions import latest_versions
from hotline.models import utcnow
from hotline.tokens import Role

__all__ = ["routes"]

routes = web.RouteTableDef()
#: An acknowledgement settles the alert's escalation: only while it runs can it stop anything.
RUNNING = (EscalationState.ACTIVE, EscalationState.PAUSED)


def local_input(value: datetime) -> str:
    """A UTC time as a ``datetime-local`` input value."""
    return value.strftime("%Y-%m-%dT%H:%M")


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    return redirect(home_for(principal(request).role))


@routes.get("/routing")
async def routing_board(request: web.Request) -> web.Response:
    who = principal(request)
    return render(request, "routing.html", title="Routing", can_edit=who.role is Role.ADMIN)


@routes.get("/ivr")
async def ivr_page(request: web.Request) -> web.Response:
    who = principal(request)
    try:
        names = sorted(tenant_menus(request, who.tenant))
        begin, end = period(request.query, timedelta(days=1), assume_utc=True)
        name = request.query.get("menu") or (names[0] if names else "")
        report = await ivr_report(request, who.tenant, name, begin, end) if name else None
    except ApiError as exc:
        return error_page(request, exc.status, exc.message)
    return render(request, "ivr.html", title="IVR map", menus=names, menu=name, report=report,
                  graph=as_json(report), begin=local_input(begin), end=local_input(end))


@routes.get("/flows")
async def flow_map(request: web.Request) -> web.Response:
    who = principal(request)
    async with request.app[SESSIONS]() as session:
        keys = sorted(await latest_versions(session, who.tenant))
    key = request.query.get("key") or (keys[0] if keys else "")
    if key and key not in keys:
        return error_page(request, 404, f"no flow {key!r}")
    return render(request, "flows.html", title="Flow map", keys=keys, key=key)


@routes.get("/inbox")
async def inbox_page(request: web.Request) -> web.Response:
    who = principal(request)
    async with request.app[SESSIONS]() as session:
        person = await person_named(session, who.tenant, who.name)
        tasks = await inbox(session, who.tenant, person, utcnow()) if person else []
    return render(request, "inbox.html", title="Inbox", person=person, tasks=tasks)


@routes.get("/alerts")
async def alerts_page(request: web.Request) -> web.Response:
    who = principal(request)
    async with request.app[SESSIONS]() as session:
        rows = await list_alerts(session, tenant=who.tenant, limit=200)
        running = await _running(session, {a.escalation_id for a in rows})
    alerts = [{**alert_json(a), "ackable": a.escalation_id in running} for a in rows]
    return render(request, "alerts.html", title="Alerts", alerts=alerts, can_ack=at_least(who, Role.AGENT))


async def _running(session: AsyncSession, escalation_ids: set[int]) -> set[int]:
    """The escalations still running among ``escalation_ids``.

    An alert's own state cannot say this: when one alert is acknowledged the
    escalation's other sent alerts stay ``sent``, and acking them would change
    nothing, so the page offers Ack only on alerts of running escalations.
    """
    if not escalation_ids:
        return set()
    query = select(Escalation.id).where(Escalation.id.in_(escalation_ids), Escalation.state.in_(RUNNING))
    return set((await session.scalars(query)).all())


@routes.get("/reports")
async def reports_page(request: web.Request) -> web.Response:
    who = principal(request)
    try:
        by = dimension(request.query.get("by"))
        begin, end = period(request.query, None, assume_utc=True)
    except ApiError as exc:
        return error_page(request, exc.status, exc.message)
    async with request.app[SESSIONS]() as session:
        rows = await interval_rows(session, who.tenant, by, begin, end)
    csv_query = {"by": by, "from": begin.isoformat(), "to": end.isoformat(), "format": "csv"}
    return render(request, "reports.html", title="Reports", by=by, dimensions=[d.value for d in Dimension],
                  rows=rows, columns=CSV_COLUMNS, begin=local_input(begin), end=local_input(end),
                  csv_url=str(URL("/api/v1/reports/intervals").with_query(csv_query)))


@routes.get("/config")
async def config_page(request: web.Request) -> web.Response:
    who = principal(request)
    if not at_least(who, Role.DESIGNER):
        return error_page(request, 403, "Only designers and admins edit configuration.")
    async with request.app[SESSIONS]() as session:
        flows = sorted(await latest_versions(session, who.tenant))
    menus = menu_names(request.app[SETTINGS].conf_dir, who.tenant)
    return render(request, "config.html", title="Config", menus=menus, flows=flows)
