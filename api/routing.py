"""Routing over HTTP: the caller's tenant's trunks and their load, and live changes to them.

``GET /api/v1/routing`` (any role) shows every route target of the caller's
tenant; ``PATCH /api/v1/routing/trunks/{name}`` (admin or designer) changes a
trunk's (or a diversion's) capacity and/or state until the next deploy of
conf/routing.yaml, effective on the next call, and is audited.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from aiohttp import web

from api.appkeys import REDIS, SETTINGS
from api.audit import record_audit
from api.auth import Role, principal, require_role
from api.errors import ApiError
from api.inputs import json_object
from hotline.yamlconf import ConfigErrors
from router.aio import AsyncRouter
from router.check import load_routing_config
from router.decision import RouterUnavailable, UnknownName
from router.model import TrunkState

routes = web.RouteTableDef()

_FIELDS = {"limit", "state"}


def _router(request: web.Request, tenant: str) -> AsyncRouter:
    """A router over the deployed config; 503 if that config is broken, 404 if it lacks the tenant."""
    settings = request.app[SETTINGS]
    try:
        config = load_routing_config(settings.conf_dir)
    except ConfigErrors as exc:
        raise ApiError(503, "routing_config", f"routing config unusable: {exc.errors[0]}") from exc
    if tenant not in config.tenants:
        raise ApiError(404, "not_found", f"no routing configured for tenant '{tenant}'")
    return AsyncRouter(request.app[REDIS], config, node=settings.node_name)


async def _change(request: web.Request) -> tuple[int | None, TrunkState | None]:
    """The body's ``limit`` and ``state``; 400 with the precise problem otherwise."""
    body = await json_object(request, '{"limit": 80, "state": "up"}')
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise ApiError(400, "bad_request", f"unknown field(s) {', '.join(unknown)}; allowed: limit, state")
    if not body:
        raise ApiError(400, "bad_request", "give limit, state, or both")
    limit, state = body.get("limit"), body.get("state")
    if "limit" in body and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        raise ApiError(
            400, "bad_request", f"limit must be a whole number of calls, 0 or more, not {json.dumps(limit)}"
        )
    if "state" in body and state not in {s.value for s in TrunkState}:
        raise ApiError(400, "bad_request", f"state must be one of up, down, drain, not {json.dumps(state)}")
    return limit, None if state is None else TrunkState(state)


@routes.get("/api/v1/routing")
async def get_routing(request: web.Request) -> web.Response:
    tenant = principal(request).tenant
    router = _router(request, tenant)
    try:
        rows = await router.status(tenant)
    except RouterUnavailable as exc:
        raise ApiError(503, "redis_unavailable", str(exc)) from exc
    return web.json_response({"tenant": tenant, "targets": [asdict(r) for r in rows]})


@routes.patch("/api/v1/routing/trunks/{name}")
async def patch_trunk(request: web.Request) -> web.Response:
    tenant = require_role(request, Role.ADMIN, Role.DESIGNER).tenant
    name = request.match_info["name"]
    limit, state = await _change(request)
    router = _router(request, tenant)
    try:
        await router.set_live(tenant, name, limit=limit, state=state)
        row = next(r for r in await router.status(tenant) if r.name == name)
    except UnknownName as exc:
        raise ApiError(404, "not_found", f"no trunk '{name}'") from exc
    except RouterUnavailable as exc:
        raise ApiError(503, "redis_unavailable", str(exc)) from exc
    details: dict[str, Any] = {
        k: v for k, v in (("limit", limit), ("state", state and str(state))) if v is not None
    }
    await record_audit(request, action="routing.trunk.update", target=name, details=details)
    return web.json_response(asdict(row))
