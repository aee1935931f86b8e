"""Bearer-token authentication and role checks, on every route but the public ones.

A missing or bad token is 401; a valid token whose role may not act is 403.
Another tenant's objects are 404, not 403: handlers always filter by the
principal's tenant, so such objects simply are not found.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from api.appkeys import SESSIONS
from api.errors import ApiError
from hotline.tokens import Role, TokenInfo, lookup_token

__all__ = ["PUBLIC_PATHS", "Principal", "Role", "auth_middleware", "principal", "public", "require_role"]

Principal = TokenInfo
PRINCIPAL_KEY = web.RequestKey("principal", TokenInfo)
#: Exact paths that need no token (health checks, provider webhooks verify their own signatures).
PUBLIC_PATHS: set[str] = {"/healthz"}


def public(path: str) -> str:
    """Declare a path public where its route is defined, so the list stays next to the code."""
    PUBLIC_PATHS.add(path)
    return path


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    # A principal already set came from a browser session (api/pages/session.py, which runs first and
    # never touches requests carrying Authorization), so the Bearer path below is unchanged.
    if request.path in PUBLIC_PATHS or PRINCIPAL_KEY in request:
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "send 'Authorization: Bearer <token>' (create one with `hotline tokens create`)")
    async with request.app[SESSIONS]() as session:
        info = await lookup_token(session, token.strip())
    if info is None:
        raise ApiError(401, "unauthorized", "unknown or revoked token")
    request[PRINCIPAL_KEY] = info
    return await handler(request)


def principal(request: web.Request) -> Principal:
    """The authenticated caller of this request (set by ``auth_middleware``)."""
    return request[PRINCIPAL_KEY]


def require_role(request: web.Request, *roles: Role) -> Principal:
    """The caller, if their role is one of ``roles``; else 403 naming the roles that may."""
    who = principal(request)
    if who.role not in roles:
        allowed = ", ".join(sorted(str(r) for r in roles))
        raise ApiError(403, "forbidden", f"role '{who.role}' may not do this; needs one of: {allowed}")
    return who
