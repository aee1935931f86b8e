"""Tickets, my inbox and task actions (``/api/v1/tickets``, ``/api/v1/inbox``, ``/api/v1/tasks``).

A token acts as the person whose id equals the token's name (``hotline tokens
create --name alice``); approving, rejecting, handling and claiming need that
person to be the task's assignee. Refusals map to 400 (malformed), 403 (role
or not your task), 404 (no such object in your tenant), 409 (the task or
ticket moved on; reload) and 422 (field values the flow rejects).
"""

from __future__ import annotations

import time

from aiohttp import web

from api.appkeys import REDIS, SESSIONS
from api.auth import Principal, principal
from api.errors import ApiError
from api.inputs import json_object
from flows.actions import Action, ActionRequest, Actor, perform
from flows.errors import ActionRefused
from flows.models import TicketState
from flows.people_store import person_named
from flows.presence import presence_source
from flows.queries import PAGE_LIMIT, inbox, list_tickets, ticket_detail
from hotline.models import utcnow

routes = web.RouteTableDef()


def _int(raw: str, what: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ApiError(404, "not_found", f"no {what} {raw!r}") from None


def _flag(raw: str | None, name: str) -> bool | None:
    if raw is None or raw == "":
        return None
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise ApiError(400, "bad_request", f"{name}: expected true or false, got {raw!r}")


def _state(raw: str | None) -> TicketState | None:
    if not raw:
        return None
    try:
        return TicketState(raw)
    except ValueError:
        allowed = ", ".join(s.value for s in TicketState)
        raise ApiError(400, "bad_request", f"state: expected one of {allowed}, got {raw!r}") from None


def refused(exc: ActionRefused) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message)


async def actor_of(request: web.Request, who: Principal) -> Actor:
    async with request.app[SESSIONS]() as session:
        person = await person_named(session, who.tenant, who.name)
    return Actor(person, who.role, person or f"api:{who.name}#{who.id}")


@routes.get("/api/v1/tickets")
async def get_tickets(request: web.Request) -> web.Response:
    who = principal(request)
    q = request.query
    limit = min(_int(q.get("limit", str(PAGE_LIMIT)), "limit"), PAGE_LIMIT)
    async with request.app[SESSIONS]() as session:
        tickets = await list_tickets(
            session,
            who.tenant,
            who.role,
            utcnow(),
            caller=q.get("caller") or None,
            state=_state(q.get("state")),
            flow=q.get("flow") or None,
            assignee=q.get("assignee") or None,
            overdue=_flag(q.get("overdue"), "overdue"),
            limit=limit,
        )
    return web.json_response({"tickets": tickets})


@routes.get("/api/v1/tickets/{id}")
async def get_ticket(request: web.Request) -> web.Response:
    who = principal(request)
    ticket_id = _int(request.match_info["id"], "ticket")
    async with request.app[SESSIONS]() as session:
        ticket = await ticket_detail(session, who.tenant, who.role, ticket_id, utcnow())
    if ticket is None:
        raise ApiError(404, "not_found", f"no ticket {ticket_id}")
    return web.json_response(ticket)


@routes.get("/api/v1/inbox")
async def get_inbox(request: web.Request) -> web.Response:
    who = principal(request)
    async with request.app[SESSIONS]() as session:
        person = await person_named(session, who.tenant, who.name)
        if person is None:
            raise ApiError(
                403,
                "forbidden",
                f"token name {who.name!r} is not a person of this tenant; an inbox "
                "belongs to the person whose id is the token's --name",
            )
        tasks = await inbox(session, who.tenant, person, utcnow())
    return web.json_response({"person": person, "tasks": tasks})


@routes.post("/api/v1/tasks/{id}/actions/{action}")
async def act(request: web.Request) -> web.Response:
    who = principal(request)
    task_id = _int(request.match_info["id"], "task")
    try:
        action = Action(request.match_info["action"])
    except ValueError:
        allowed = ", ".join(a.value for a in Action)
        raise ApiError(
            400, "bad_request", f"unknown action {request.match_info['action']!r}; one of {allowed}"
        ) from None
    body = await json_object(request, optional=True)
    actor = await actor_of(request, who)
    presence = presence_source(request.app[REDIS], who.tenant, lambda: int(time.time() * 1000))
    async with request.app[SESSIONS].begin() as session:
        [result] = await perform(
            session,
            who.tenant,
            actor,
            [ActionRequest(task_id, action, body)],
            now=utcnow(),
            presence=presence,
        )
        if isinstance(result, ActionRefused):
            raise refused(result)
    return web.json_response(
        {
            "task": {"id": result.task_id, "state": str(result.task_state), "version": result.task_version},
            "ticket": {
                "id": result.ticket_id,
                "state": str(result.ticket_state),
                "current_node": result.current_node,
                "result": result.result,
            },
        }
    )
