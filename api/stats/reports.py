"""Reports over HTTP: interval figures (JSON or CSV) and the IVR map, for the caller's tenant only.

``GET /api/v1/reports/intervals?from=&to=&by=queue|trunk|agent|extension|skill``
lists the 15-minute rows whose interval starts in ``[from, to)`` (default:
since UTC midnight), as JSON, or as CSV with ``Accept: text/csv`` or
``format=csv``. ``GET /api/v1/reports/ivr?menu=&from=&to=`` is the IVR map of
one menu over the calls that started in the period (default: the last 24 h).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.appkeys import SESSIONS, SETTINGS
from api.auth import principal
from api.errors import ApiError
from api.inputs import parse_time
from api.stats.intervals import INTERVAL_S, Figures
from api.stats.ivrmap import ivr_map
from api.stats.offers import Dimension
from api.stats.tables import StatsInterval
from hotline.models import Call
from hotline.yamlconf import ConfigErrors
from ivr.check import load_menus
from ivr.model import Menu

__all__ = ["CSV_COLUMNS", "dimension", "interval_rows", "ivr_report", "period", "routes", "tenant_menus"]

routes = web.RouteTableDef()
#: The IVR map reads at most this many calls (newest first) and says so when it stopped there.
IVR_MAP_MAX_CALLS = 100_000
CSV_COLUMNS = ("start", "end", "by", "name", "offered", "answered", "abandoned", "diverted", "avg_wait_s",
               "p90_wait_s", "answered_20s", "answered_20s_share")


def period(query: Mapping[str, str], default_span: timedelta | None, *,
           assume_utc: bool = False) -> tuple[datetime, datetime]:
    """``from`` and ``to`` of the query; by default the last ``default_span``, or since UTC midnight."""
    now = datetime.now(UTC)
    start = now - default_span if default_span else now.replace(hour=0, minute=0, second=0, microsecond=0)
    begin = parse_time(query["from"], "from", assume_utc=assume_utc) if query.get("from") else start
    end = parse_time(query["to"], "to", assume_utc=assume_utc) if query.get("to") else now
    if end <= begin:
        raise ApiError(400, "bad_request", "to must be later than from")
    return begin, end


def _row(r: StatsInterval) -> dict[str, Any]:
    figures = Figures(r.offered, r.answered, r.abandoned, r.diverted, r.answered_20s, r.avg_wait_s, r.p90_wait_s)
    return {"start": r.starts_at.isoformat(), "end": (r.starts_at + timedelta(seconds=INTERVAL_S)).isoformat(),
            "by": r.dimension, "name": r.name, "offered": r.offered, "answered": r.answered,
            "abandoned": r.abandoned, "diverted": r.diverted, "avg_wait_s": r.avg_wait_s,
            "p90_wait_s": r.p90_wait_s, "answered_20s": r.answered_20s,
            "answered_20s_share": figures.answered_20s_share}


def _cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run as a formula (names come from PBX events)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def _wants_csv(request: web.Request) -> bool:
    if "format" in request.query:
        wanted = request.query["format"]
        if wanted not in ("csv", "json"):
            raise ApiError(400, "bad_request", f"format must be csv or json, not {wanted!r}")
        return wanted == "csv"
    return "text/csv" in request.headers.get("Accept", "")


def dimension(raw: str | None) -> str:
    """The ``by`` parameter (default queue); 400 naming the choices otherwise."""
    by = raw or Dimension.QUEUE.value
    if by not in {d.value for d in Dimension}:
        raise ApiError(400, "bad_request", f"by must be one of {', '.join(Dimension)}, not {by!r}")
    return by


async def interval_rows(session: AsyncSession, tenant: str, by: str, begin: datetime,
                        end: datetime) -> list[dict[str, Any]]:
    """Report rows of intervals starting in ``[begin, end)``, oldest first, then by name."""
    query = (select(StatsInterval)
             .where(StatsInterval.tenant == tenant, StatsInterval.dimension == by,
                    StatsInterval.starts_at >= begin, StatsInterval.starts_at < end)
             .order_by(StatsInterval.starts_at, StatsInterval.name))
    return [_row(r) for r in (await session.execute(query)).scalars()]


@routes.get("/api/v1/reports/intervals")
async def intervals(request: web.Request) -> web.StreamResponse:
    tenant = principal(request).tenant
    by = dimension(request.query.get("by"))
    begin, end = period(request.query, None)
    async with request.app[SESSIONS]() as session:
        rows = await interval_rows(session, tenant, by, begin, end)
    if not _wants_csv(request):
        return web.json_response({"by": by, "from": begin.isoformat(), "to": end.isoformat(),
                                  "interval_s": INTERVAL_S, "rows": rows})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows([_cell(row[c]) for c in CSV_COLUMNS] for row in rows)
    filename = f"intervals-{by}-{begin:%Y%m%dT%H%M}.csv"
    return web.Response(text=out.getvalue(), content_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def tenant_menus(request: web.Request, tenant: str) -> dict[str, Menu]:
    """The tenant's deployed IVR menus by name; 503 when the IVR config does not load."""
    try:
        menus = load_menus(request.app[SETTINGS].conf_dir)
    except ConfigErrors as exc:
        raise ApiError(503, "ivr_config", f"IVR config unusable: {exc.errors[0]}") from exc
    return {name: menu for (owner, name), menu in sorted(menus.items()) if owner == tenant}


async def ivr_report(request: web.Request, tenant: str, menu_name: str, begin: datetime,
                     end: datetime) -> dict[str, Any]:
    """The IVR map of one menu (see ``api.stats.ivrmap``), plus the period and whether calls were cut off."""
    menu = tenant_menus(request, tenant).get(menu_name)
    if menu is None:
        raise ApiError(404, "not_found", f"no IVR menu {menu_name!r}")
    query = (select(Call.outcome, Call.outcome_node, Call.trajectory)
             .where(Call.tenant == tenant, Call.started_at >= begin, Call.started_at < end)
             .order_by(Call.started_at.desc()).limit(IVR_MAP_MAX_CALLS + 1))
    async with request.app[SESSIONS]() as session:
        calls = (await session.execute(query)).all()
    report = ivr_map(menu, (tuple(c) for c in calls[:IVR_MAP_MAX_CALLS]))
    return {**report, "from": begin.isoformat(), "to": end.isoformat(), "truncated": len(calls) > IVR_MAP_MAX_CALLS}


@routes.get("/api/v1/reports/ivr")
async def ivr(request: web.Request) -> web.Response:
    tenant = principal(request).tenant
    menu = request.query.get("menu", "")
    if not menu:
        names = sorted(tenant_menus(request, tenant))
        raise ApiError(400, "bad_request", f"give menu=NAME; this tenant has: {', '.join(names) or 'no menus'}")
    begin, end = period(request.query, timedelta(days=1))
    return web.json_response(await ivr_report(request, tenant, menu, begin, end))
