"""People, org units and presence of the caller's tenant (``/api/v1/people``, ``/api/v1/presence``).

``PUT /api/v1/people`` replaces the whole directory (JSON: ``{units, people}``,
the shape of one tenant in conf/people.yaml; phones are read in the tenant's
routing.yaml ``region`` and stored E.164). It is refused with 422 if it
has errors or if a deployed flow would then name someone or something that
no longer exists. An edit here survives restarts until the tenant's section
of people.yaml itself changes.
"""

from __future__ import annotations

import json
import time

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from api.appkeys import REDIS, SESSIONS, SETTINGS
from api.audit import record_audit
from api.auth import Role, principal, require_role
from api.errors import ApiError
from api.flows import invalid
from api.inputs import json_object
from flows.directory import Directory, directory_errors
from flows.files import read_flow_text
from flows.models import FlowVersion, Person
from flows.people_store import load_directory, person_named, replace_directory
from flows.presence import online_people, set_online
from flows.versions import latest_versions
from hotline.models import utcnow
from hotline.yamlconf import ConfigError
from router.check import tenant_regions

routes = web.RouteTableDef()
BODY = "people (request body)"


@routes.get("/api/v1/people")
async def get_people(request: web.Request) -> web.Response:
    who = principal(request)
    async with request.app[SESSIONS]() as session:
        directory = await load_directory(session, who.tenant)
        loads = dict(
            (
                await session.execute(
                    select(Person.key, Person.open_tasks).where(Person.tenant == who.tenant)
                )
            ).all()
        )
    online = await online_people(request.app[REDIS], who.tenant, now_ms=int(time.time() * 1000))
    return web.json_response(
        {
            "units": [
                {"key": u.key, "name": u.name, "parent": u.parent, "manager": u.manager}
                for u in directory.units.values()
            ],
            "people": [
                {
                    **p.contact(),
                    "unit": p.unit,
                    "roles": list(p.roles),
                    "active": p.active,
                    "manager": directory.manager_of(p.key),
                    "online": p.key in online,
                    "open_tasks": loads.get(p.key, 0),
                }
                for p in directory.people.values()
            ],
        }
    )


async def _flows_broken_by(request: web.Request, tenant: str, directory: Directory) -> list[ConfigError]:
    async with request.app[SESSIONS]() as session:
        latest = await latest_versions(session, tenant)
        sources = {v.key: await session.get(FlowVersion, v.id) for v in latest.values()}
    errors: list[ConfigError] = []
    for key, row in sources.items():
        errors += read_flow_text(
            row.source if row else "", f"flows/{tenant}/{key}.yaml (deployed)", directory, key
        ).errors
    return errors


@routes.put("/api/v1/people")
async def put_people(request: web.Request) -> web.Response:
    who = require_role(request, Role.ADMIN)
    data = await json_object(request, "{units, people}")
    region = tenant_regions(request.app[SETTINGS].conf_dir).get(who.tenant)
    org, errors = directory_errors(data, BODY, region)
    if org is None:
        return invalid(errors)
    broken = await _flows_broken_by(request, who.tenant, Directory.from_conf(org))
    if broken:
        return invalid(broken)
    async with request.app[SESSIONS].begin() as session:
        revision = await replace_directory(session, who.tenant, org, f"api:{who.name}#{who.id}", utcnow())
    await record_audit(
        request, "people.replace", who.tenant, {"revision": revision, "people": len(org.people)}
    )
    return web.json_response({"revision": revision, "people": len(org.people), "units": len(org.units)})


class _Presence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    online: bool
    ttl_s: int = Field(300, ge=30, le=86400)


@routes.post("/api/v1/presence")
async def post_presence(request: web.Request) -> web.Response:
    """The token's person goes online (for ``ttl_s`` seconds, renew before it ends) or offline."""
    who = principal(request)
    try:
        body = _Presence.model_validate(await request.json())
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ApiError(400, "bad_request", f'send {{"online": true, "ttl_s": 300}}: {exc}') from exc
    async with request.app[SESSIONS]() as session:
        person = await person_named(session, who.tenant, who.name)
    if person is None:
        raise ApiError(403, "forbidden", f"token name {who.name!r} is not a person of this tenant")
    await set_online(
        request.app[REDIS], who.tenant, person, body.online, now_ms=int(time.time() * 1000), ttl_s=body.ttl_s
    )
    return web.json_response({"person": person, "online": body.online})
