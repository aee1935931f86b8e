"""Flow definitions: read, validate, deploy (a new version), and the live graph (``/api/v1/flows``).

``PUT`` takes the YAML text as the body. A definition with errors is refused
with 422 and every error located (``errors: [{file, line, message, hint}]``);
the version in force stays. Running tickets keep the version they started on.
Validate and deploy check a definition the same way (``check_definition``) and
answer its ``warnings`` in the same shape: the people a flow names while the
tenant has none loaded yet are not refused, as people may come after flows.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.appkeys import SESSIONS
from api.audit import record_audit
from api.auth import Role, principal, require_role
from api.errors import ApiError
from api.inputs import yaml_text
from flows.models import FlowVersion
from flows.people_store import load_directory
from flows.queries import flow_graph
from flows.versions import check_definition, deploy, latest_versions
from hotline.models import utcnow
from hotline.yamlconf import ConfigError, ConfigErrors

routes = web.RouteTableDef()


def located(problems: list[ConfigError]) -> list[dict[str, object]]:
    """Errors or warnings as the API lists them."""
    return [{"file": e.file, "line": e.line, "message": e.message, "hint": e.hint} for e in problems]


def invalid(errors: list[ConfigError]) -> web.Response:
    """422 in the API's error shape, with every located error."""
    return web.json_response(
        {
            "error": {
                "code": "invalid",
                "message": "; ".join(str(e) for e in errors[:5]) + (" ..." if len(errors) > 5 else ""),
                "errors": located(errors),
            }
        },
        status=422,
    )


def _file(tenant: str, key: str) -> str:
    return f"flows/{tenant}/{key}.yaml"


@routes.get("/api/v1/flows")
async def list_flows(request: web.Request) -> web.Response:
    who = principal(request)
    async with request.app[SESSIONS]() as session:
        latest = await latest_versions(session, who.tenant)
    return web.json_response(
        {
            "flows": [
                {
                    "key": k,
                    "name": v.flow.name,
                    "version": v.version,
                    "version_id": v.id,
                    "templates": v.flow.template_names,
                }
                for k, v in sorted(latest.items())
            ]
        }
    )


@routes.get("/api/v1/flows/{key}")
async def get_flow(request: web.Request) -> web.Response:
    who = principal(request)
    key = request.match_info["key"]
    async with request.app[SESSIONS]() as session:
        row = (
            await session.execute(
                select(FlowVersion)
                .where(FlowVersion.tenant == who.tenant, FlowVersion.flow_key == key)
                .order_by(FlowVersion.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
    if row is None:
        raise ApiError(404, "not_found", f"no flow {key!r}")
    return web.json_response(
        {
            "key": key,
            "version": row.version,
            "version_id": row.id,
            "digest": row.digest,
            "origin": row.origin,
            "created_at": row.created_at.isoformat(),
            "source": row.source,
            "definition": row.definition,
        }
    )


@routes.put("/api/v1/flows/{key}")
async def put_flow(request: web.Request) -> web.Response:
    who = require_role(request, Role.DESIGNER, Role.ADMIN)
    key = request.match_info["key"]
    text = await yaml_text(request, "a flow definition")
    try:
        async with request.app[SESSIONS].begin() as session:
            directory = await load_directory(session, who.tenant)
            done = await deploy(
                session,
                who.tenant,
                key,
                text,
                origin=f"api:{who.name}#{who.id}",
                now=utcnow(),
                directory=directory,
                file=_file(who.tenant, key),
            )
    except ConfigErrors as exc:
        return invalid(exc.errors)
    except IntegrityError as exc:
        raise ApiError(
            409, "conflict", f"flow {key!r} was deployed by someone else at the same moment; retry"
        ) from exc
    if done.created:
        await record_audit(
            request, "flow.deploy", key, {"version": done.info.version, "digest": done.info.digest}
        )
    return web.json_response(
        {
            "key": key,
            "version": done.info.version,
            "version_id": done.info.id,
            "created": done.created,
            "warnings": located(done.warnings),
        },
        status=201 if done.created else 200,
    )


@routes.post("/api/v1/flows/{key}/validate")
async def validate_flow(request: web.Request) -> web.Response:
    who = require_role(request, Role.DESIGNER, Role.ADMIN)
    key = request.match_info["key"]
    text = await yaml_text(request, "a flow definition")
    async with request.app[SESSIONS]() as session:
        directory = await load_directory(session, who.tenant)
    flow, errors, warnings = check_definition(text, key, directory, _file(who.tenant, key))
    if flow is None:
        return invalid(errors)
    return web.json_response(
        {"key": key, "valid": True, "nodes": list(flow.nodes), "warnings": located(warnings)}
    )


@routes.get("/api/v1/flows/{key}/graph")
async def get_graph(request: web.Request) -> web.Response:
    who = principal(request)
    key = request.match_info["key"]
    async with request.app[SESSIONS]() as session:
        graph = await flow_graph(session, who.tenant, key, utcnow())
    if graph is None:
        raise ApiError(404, "not_found", f"no flow {key!r}")
    return web.json_response(graph)
