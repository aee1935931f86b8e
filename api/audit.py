"""Record an operator's action in the admin audit table, in its own transaction."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api.appkeys import SESSIONS
from api.auth import principal
from hotline.models import AdminAudit


async def record_audit(request: web.Request, action: str, target: str, details: dict[str, Any] | None = None) -> None:
    who = principal(request)
    async with request.app[SESSIONS].begin() as session:
        session.add(AdminAudit(tenant=who.tenant, actor=f"{who.name}#{who.id}", action=action, target=target, details=details or {}))
