"""Finished calls and their trajectories, per tenant (``/api/v1/calls``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from api.appkeys import SESSIONS
from api.auth import principal
from api.errors import ApiError
from api.inputs import parse_time
from hotline.models import Call

routes = web.RouteTableDef()
PAGE_LIMIT = 200


def call_json(call: Call, *, with_trajectory: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": call.call_id,
        "caller": call.caller,
        "menu": call.menu,
        "started_at": call.started_at.isoformat(),
        "ended_at": call.ended_at.isoformat() if call.ended_at else None,
        "outcome": call.outcome,
        "outcome_node": call.outcome_node,
        "intent": call.intent,
        "repeat": call.repeat,
        "fields": call.fields,
    }
    if with_trajectory:
        out["trajectory"] = call.trajectory
    return out


@routes.get("/api/v1/calls")
async def list_calls(request: web.Request) -> web.Response:
    who = principal(request)
    query = select(Call).where(Call.tenant == who.tenant).order_by(Call.started_at.desc()).limit(PAGE_LIMIT)
    if caller := request.query.get("caller"):
        query = query.where(Call.caller == caller)
    if since := request.query.get("since"):
        query = query.where(Call.started_at >= parse_time(since, "since"))
    async with request.app[SESSIONS]() as session:
        calls = (await session.execute(query)).scalars().all()
    return web.json_response({"calls": [call_json(c, with_trajectory=False) for c in calls]})


@routes.get("/api/v1/calls/{id}")
async def get_call(request: web.Request) -> web.Response:
    who = principal(request)
    call_id = request.match_info["id"]
    async with request.app[SESSIONS]() as session:
        call = (
            await session.execute(select(Call).where(Call.tenant == who.tenant, Call.call_id == call_id))
        ).scalar_one_or_none()
    if call is None:
        raise ApiError(404, "not_found", f"no call {call_id!r}")
    return web.json_response(call_json(call, with_trajectory=True))
