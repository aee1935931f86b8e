"""IVR menu files over HTTP, for the config page: read, validate and deploy one menu of the caller's tenant.

``GET /api/v1/ivr/menus`` lists the tenant's menu files; ``GET
/api/v1/ivr/menus/{name}`` returns one's YAML (``{"name", "source"}``).
``POST .../{name}/validate`` and ``PUT .../{name}`` (designers and admins)
take the YAML text as the body; errors come back as 422 in the flows API's
shape (``error.errors: [{file, line, message, hint}]``), so the config page
treats menus and flows alike. A valid ``PUT`` replaces
``conf/ivr/<tenant>/<name>.yaml`` atomically and is audited.

Strategy: a menu is checked together with the rest of its tenant's IVR
config, exactly as ``hotline check`` will see it after the deploy: the
tenant's folder, ``intents.yaml`` and ``routing.yaml`` (for the chat
diversions ``chat_link`` nodes name) are copied to a scratch directory with
the new text in place, ``ivr.check.check_ivr`` and
``hotline.checks.check_chat_links`` run there, and the errors are reported
under the real file names. Edges load menus when they start
(``ivr.check.load_menus``), so a deployed menu is in force for them from
their next start or reload.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

from aiohttp import web

from api.appkeys import SETTINGS
from api.audit import record_audit
from api.auth import Role, principal, require_role
from api.errors import ApiError
from api.flows import invalid
from api.inputs import yaml_text
from hotline.checks import check_chat_links
from hotline.yamlconf import ConfigError
from ivr.check import check_ivr
from ivr.loader import NAME, PROMPTS_FILE
from router.check import ROUTING_FILE

__all__ = ["menu_names", "routes", "validate_menu"]

routes = web.RouteTableDef()
INTENTS_FILE = "intents.yaml"


def _folder(conf_dir: Path, tenant: str) -> Path:
    """The tenant's menu folder; a tenant name that is not a plain name never becomes a path."""
    if not NAME.fullmatch(tenant):
        raise ApiError(400, "bad_request", f"tenant {tenant!r} cannot have IVR menus (not a plain name)")
    return conf_dir / "ivr" / tenant


def menu_names(conf_dir: Path, tenant: str) -> list[str]:
    """The tenant's menu files, broken ones included (the config page is where they get fixed)."""
    return sorted(p.stem for p in _folder(conf_dir, tenant).glob("*.yaml") if p.name != PROMPTS_FILE)


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    if not NAME.fullmatch(name):
        raise ApiError(400, "bad_request", f"menu names are letters, digits, '-' and '_' (not starting with "
                       f"either), not {name!r}")
    return name


def validate_menu(conf_dir: Path, tenant: str, name: str, text: str) -> list[ConfigError]:
    """Every error the tenant's IVR config would have with ``text`` as menu ``name`` (files relative to conf)."""
    with tempfile.TemporaryDirectory(prefix="hotline-menu-") as scratch:
        root = Path(scratch)
        target = _folder(root, tenant)
        source = _folder(conf_dir, tenant)
        if source.is_dir():
            shutil.copytree(source, target)
        target.mkdir(parents=True, exist_ok=True)
        for shared in (INTENTS_FILE, ROUTING_FILE):
            if (conf_dir / shared).is_file():
                shutil.copyfile(conf_dir / shared, root / shared)
        (target / f"{name}.yaml").write_text(text, encoding="utf-8")
        errors = check_ivr(root) + check_chat_links(root)
    prefix = f"{root}{os.sep}"
    mine = f"{os.sep}ivr{os.sep}{tenant}{os.sep}"
    return [ConfigError(e.file.removeprefix(prefix), e.line, e.message, e.hint) for e in errors
            if mine in e.file or e.file.endswith(INTENTS_FILE)]


def _write(path: Path, text: str) -> bool:
    """Replace ``path`` atomically; True when it is new."""
    created = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)
    return created


@routes.get("/api/v1/ivr/menus")
async def list_menus(request: web.Request) -> web.Response:
    tenant = principal(request).tenant
    return web.json_response({"menus": [{"name": n} for n in menu_names(request.app[SETTINGS].conf_dir, tenant)]})


@routes.get("/api/v1/ivr/menus/{name}")
async def get_menu(request: web.Request) -> web.Response:
    tenant = principal(request).tenant
    name = _name(request)
    path = _folder(request.app[SETTINGS].conf_dir, tenant) / f"{name}.yaml"
    if not path.is_file():
        raise ApiError(404, "not_found", f"no IVR menu {name!r}")
    return web.json_response({"name": name, "source": path.read_text(encoding="utf-8")})


@routes.post("/api/v1/ivr/menus/{name}/validate")
async def validate(request: web.Request) -> web.Response:
    tenant = require_role(request, Role.DESIGNER, Role.ADMIN).tenant
    name = _name(request)
    text = await yaml_text(request, "a menu")
    errors = await asyncio.to_thread(validate_menu, request.app[SETTINGS].conf_dir, tenant, name, text)
    if errors:
        return invalid(errors)
    return web.json_response({"name": name, "valid": True})


@routes.put("/api/v1/ivr/menus/{name}")
async def deploy(request: web.Request) -> web.Response:
    tenant = require_role(request, Role.DESIGNER, Role.ADMIN).tenant
    name = _name(request)
    text = await yaml_text(request, "a menu")
    conf_dir = request.app[SETTINGS].conf_dir
    errors = await asyncio.to_thread(validate_menu, conf_dir, tenant, name, text)
    if errors:
        return invalid(errors)
    created = await asyncio.to_thread(_write, _folder(conf_dir, tenant) / f"{name}.yaml", text)
    await record_audit(request, "ivr.menu.deploy", name, {"created": created, "bytes": len(text.encode())})
    return web.json_response({"name": name, "created": created}, status=201 if created else 200)
