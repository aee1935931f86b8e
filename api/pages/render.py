"""Rendering pages: Mako templates that escape every value by default, and the headers every page carries.

Strategy: templates (``api/pages/templates``) use Mako with ``h`` as the
default filter, so ``${value}`` is HTML-escaped unless a template says
otherwise (none does). Data for scripts travels in ``data-*`` attributes as
escaped JSON (``as_json``), never in inline scripts: the Content Security
Policy allows scripts and styles from this site's ``/static/`` only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web
from mako.lookup import TemplateLookup

from api.auth import PRINCIPAL_KEY, Principal
from api.pages.session import WEB_SESSION
from hotline.tokens import Role

__all__ = ["SECURITY_HEADERS", "as_json", "at_least", "error_page", "nav_for", "render"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
_LOOKUP = TemplateLookup(directories=[str(TEMPLATES)], default_filters=["h"], strict_undefined=True,
                         input_encoding="utf-8")

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_ORDER = list(Role)
#: The navigation bar: path, label, least role that sees it.
NAV = [
    ("/routing", "Routing", Role.VIEWER),
    ("/ivr", "IVR map", Role.VIEWER),
    ("/flows", "Flow map", Role.VIEWER),
    ("/tickets", "Tickets", Role.VIEWER),
    ("/inbox", "Inbox", Role.AGENT),
    ("/alerts", "Alerts", Role.VIEWER),
    ("/reports", "Reports", Role.VIEWER),
    ("/config", "Config", Role.DESIGNER),
]


def at_least(who: Principal, role: Role) -> bool:
    """Roles grow in power (viewer < agent < designer < admin)."""
    return _ORDER.index(who.role) >= _ORDER.index(role)


def nav_for(who: Principal | None) -> list[tuple[str, str]]:
    return [(path, label) for path, label, role in NAV if who is not None and at_least(who, role)]


def as_json(value: Any) -> str:
    """Compact JSON for a ``data-*`` attribute (the template escapes it like any other value)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def render(request: web.Request, template: str, *, title: str, status: int = 200, **context: Any) -> web.Response:
    """The page ``template`` for this request's user (none on public pages), with the security headers."""
    who = request.get(PRINCIPAL_KEY)
    session = request.get(WEB_SESSION)
    body = _LOOKUP.get_template(template).render(
        title=title, who=who, nav=nav_for(who), here=request.path, csrf=session.csrf if session else "",
        **context)
    return web.Response(text=body, status=status, content_type="text/html", headers=SECURITY_HEADERS)


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    """An HTML error for a page (the JSON API keeps its JSON errors)."""
    titles = {403: "Not allowed", 404: "Not found", 503: "Unavailable"}
    return render(request, "error.html", title=titles.get(status, "Error"), status=status, message=message)
