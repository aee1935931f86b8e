"""Browser sessions: a token typed once at login becomes an HttpOnly cookie naming a session in Redis.

Strategy: the cookie holds only a random id; Redis holds, under the id's
SHA-256, the token's principal (id, tenant, role, name) and a CSRF token,
with an idle expiry refreshed on use. The token itself never reaches the
cookie. ``session_middleware`` runs before ``api.auth.auth_middleware``: a
request that carries ``Authorization`` is left to it untouched (Bearer
behaviour is unchanged); otherwise a valid session cookie authenticates the
request (pages, the JSON API the pages call, the WebSocket), and every
non-GET request so authenticated must carry the session's CSRF token
(``X-CSRF-Token`` header, or the ``csrf`` form field) and, when the browser
sends one, a same-site ``Origin``. Each request re-checks that the token is
not revoked, so revoking a token ends its sessions. A browser navigation
without a session is redirected to the login page instead of getting 401.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import redis.asyncio as aioredis
from aiohttp import hdrs, web
from aiohttp.typedefs import Handler
from sqlalchemy import select

from api.appkeys import REDIS, SESSIONS, SETTINGS
from api.auth import PRINCIPAL_KEY, PUBLIC_PATHS, Principal
from api.errors import ApiError
from hotline.keys import web_session
from hotline.models import ApiToken
from hotline.tokens import Role

__all__ = ["CSRF_FIELD", "CSRF_HEADER", "SESSION_COOKIE", "WEB_SESSION", "WebSession", "create_session",
           "drop_session", "load_session", "safe_next", "session_middleware", "set_session_cookie"]

SESSION_COOKIE = "hl_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
#: A session unused this long ends (each request starts the count again).
SESSION_IDLE_S = 8 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True, slots=True)
class WebSession:
    """One logged-in browser: who it speaks for and the token its forms must echo."""

    principal: Principal
    csrf: str


WEB_SESSION = web.RequestKey("web_session", WebSession)


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def create_session(redis: aioredis.Redis, who: Principal) -> tuple[str, WebSession]:
    """A new session for ``who``; returns the cookie value (never stored) and the session."""
    session_id = secrets.token_urlsafe(32)
    session = WebSession(who, secrets.token_urlsafe(32))
    data = {"id": who.id, "tenant": who.tenant, "role": str(who.role), "name": who.name, "csrf": session.csrf}
    await redis.set(web_session(_digest(session_id)), json.dumps(data), ex=SESSION_IDLE_S)
    return session_id, session


async def load_session(redis: aioredis.Redis, session_id: str) -> WebSession | None:
    """The session the cookie names, its idle expiry restarted; None when unknown or expired."""
    raw = await redis.getex(web_session(_digest(session_id)), ex=SESSION_IDLE_S)
    if raw is None:
        return None
    data = json.loads(raw)
    return WebSession(Principal(data["id"], data["tenant"], Role(data["role"]), data["name"]), data["csrf"])


async def drop_session(redis: aioredis.Redis, session_id: str) -> None:
    await redis.delete(web_session(_digest(session_id)))


def set_session_cookie(request: web.Request, response: web.StreamResponse, session_id: str) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Secure when the page came over HTTPS."""
    response.set_cookie(SESSION_COOKIE, session_id, path="/", httponly=True, samesite="Strict",
                        secure=_is_https(request))


def _is_https(request: web.Request) -> bool:
    base = request.app[SETTINGS].public_base_url or ""
    return request.secure or base.startswith("https://")


#: A path on this site: no ``//host``, no backslash, no whitespace or control characters (browsers drop
#: tabs and newlines, so ``/\t/evil.example`` would become ``//evil.example``).
_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*")


def safe_next(target: str | None) -> str:
    """Where to go after login: ``target`` if it is a path on this site, else ``/``."""
    return target if target and _LOCAL_PATH.fullmatch(target) else "/"


def _is_navigation(request: web.Request) -> bool:
    """A browser asking for a page (not the API, the WebSocket or a script)."""
    return (request.method == "GET" and "text/html" in request.headers.get(hdrs.ACCEPT, "")
            and not request.path.startswith(("/api/", "/ws/")))


def _origin_ok(request: web.Request) -> bool:
    """No ``Origin`` (same-origin GETs, old browsers) or one naming this site."""
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        return True
    allowed = {f"{request.scheme}://{request.host}"}
    if base := request.app[SETTINGS].public_base_url:
        parts = urlsplit(base)
        allowed.add(f"{parts.scheme}://{parts.netloc}")
    return origin in allowed


async def _csrf_token(request: web.Request) -> str:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type in _FORMS:
        sent = str((await request.post()).get(CSRF_FIELD, ""))
    return sent or ""


async def _still_valid(request: web.Request, session: WebSession) -> bool:
    query = select(ApiToken.id).where(ApiToken.id == session.principal.id, ApiToken.revoked_at.is_(None))
    async with request.app[SESSIONS]() as db:
        return (await db.execute(query)).first() is not None


async def _session_of(request: web.Request) -> WebSession | None:
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    session = await load_session(request.app[REDIS], session_id)
    if session is not None and not await _still_valid(request, session):
        await drop_session(request.app[REDIS], session_id)
        return None
    return session


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC_PATHS or hdrs.AUTHORIZATION in request.headers:
        return await handler(request)
    session = await _session_of(request)
    if session is None:
        if _is_navigation(request):
            raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='')}")
        return await handler(request)  # auth_middleware answers 401
    if not _origin_ok(request):
        raise ApiError(403, "bad_origin", "this request came from another site")
    if request.method not in SAFE_METHODS and not hmac.compare_digest(await _csrf_token(request), session.csrf):
        raise ApiError(403, "csrf", f"missing or wrong CSRF token (send the page's token as {CSRF_HEADER})")
    request[PRINCIPAL_KEY] = session.principal
    request[WEB_SESSION] = session
    return await handler(request)
