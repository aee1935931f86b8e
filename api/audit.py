"""Operator actions outside tickets: recorded in their own transaction, listed for admins."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from api.appkeys import SESSIONS
from api.auth import Role, principal, require_role
from api.errors import ApiError
from hotline.models import AdminAudit


async def record_audit(request: web.Request, action: str, target: str, details: dict[str, Any] | None = None) -> None:
    who = principal(request)
    async with request.app[SESSIONS].begin() as session:
        session.add(AdminAudit(tenant=who.tenant, actor=f"{who.name}#{who.id}", action=action, target=target, details=details or {}))


routes = web.RouteTableDef()


@routes.get("/api/v1/audit")
async def list_audit(request: web.Request) -> web.Response:
    """The tenant's operator actions, newest first (admins only: it names who did what)."""
    who = require_role(request, Role.ADMIN)
    raw = request.query.get("limit", "100")
    if not raw.isdigit():
        raise ApiError(400, "bad_request", f"limit: expected a whole number, got {raw!r}")
    limit = min(int(raw), 1000)
    query = select(AdminAudit).where(AdminAudit.tenant == who.tenant).order_by(AdminAudit.id.desc()).limit(limit)
    async with request.app[SESSIONS]() as session:
        rows = (await session.execute(query)).scalars().all()
    return web.json_response(
        {"audit": [{"at": r.at.isoformat(), "actor": r.actor, "action": r.action, "target": r.target, "details": r.details} for r in rows]}
    )
