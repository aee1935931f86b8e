"""Logging in with a token, and out.

The login form is protected against login CSRF by a double-submit token: a
random value in a short-lived HttpOnly cookie and in the form's hidden field
must match. A successful login starts a new session (a fresh id, so a
session id planted before login is worthless) and redirects to ``next``
(paths on this site only).
"""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web

from api.appkeys import REDIS, SESSIONS
from api.auth import public
from api.pages.render import error_page, render
from api.pages.session import (
    SESSION_COOKIE,
    WEB_SESSION,
    create_session,
    drop_session,
    safe_next,
    set_session_cookie,
)
from hotline.logs import get_logger
from hotline.tokens import Role, lookup_token

__all__ = ["home_for", "redirect", "routes"]

log = get_logger(__name__)
routes = web.RouteTableDef()
LOGIN_COOKIE = "hl_login"
LOGIN_PATH = public("/login")


def _form(request: web.Request, *, status: int = 200, error: str = "") -> web.Response:
    nonce = secrets.token_urlsafe(24)
    response = render(request, "login.html", title="Log in", status=status, error=error, nonce=nonce,
                      next=safe_next(request.query.get("next")))
    response.set_cookie(LOGIN_COOKIE, nonce, path=LOGIN_PATH, max_age=900, httponly=True, samesite="Strict")
    return response


def redirect(location: str) -> web.Response:
    """303 See Other: after a form post the browser GETs ``location``."""
    return web.Response(status=303, headers={"Location": location})


def home_for(role: Role) -> str:
    """Agents start in their inbox; everyone else on the routing board."""
    return "/inbox" if role is Role.AGENT else "/routing"


@routes.get(LOGIN_PATH)
async def login_page(request: web.Request) -> web.Response:
    return _form(request)


@routes.post(LOGIN_PATH)
async def login(request: web.Request) -> web.Response:
    form = await request.post()
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not nonce or not hmac.compare_digest(str(form.get("csrf", "")), nonce):
        return _form(request, status=403, error="The form expired; please try again.")
    token = str(form.get("token", "")).strip()
    async with request.app[SESSIONS]() as session:
        who = await lookup_token(session, token) if token else None
    if who is None:
        log.info("web login refused", reason="unknown or revoked token", remote=request.remote)
        return _form(request, status=401, error="Unknown or revoked token.")
    session_id, _ = await create_session(request.app[REDIS], who)
    target = safe_next(str(form.get("next", "")))
    response = redirect(home_for(who.role) if target == "/" else target)
    set_session_cookie(request, response, session_id)
    response.del_cookie(LOGIN_COOKIE, path=LOGIN_PATH)
    log.info("web login", tenant=who.tenant, role=str(who.role), token_id=who.id)
    return response


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    if WEB_SESSION not in request:
        return error_page(request, 403, "Log out from the browser session you logged in with.")
    await drop_session(request.app[REDIS], request.cookies[SESSION_COOKIE])
    response = redirect(LOGIN_PATH)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response
