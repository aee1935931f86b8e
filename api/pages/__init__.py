"""The web pages served at ``/``: server-rendered HTML (Mako) with small scripts, no build step.

* ``session``: browser sessions (cookie → Redis) and ``session_middleware``, which runs before
  ``api.auth.auth_middleware`` and adds cookie authentication and CSRF checks (Bearer unchanged).
* ``render``: templates (``templates/``, every value escaped), security headers (CSP).
* ``login``, ``views``, ``tickets``: the pages; ``static``: ``/static/*`` from ``api/static``.
* ``menus``: the IVR menu API the config page uses (flows have their own, ``api/flows.py``).
"""

from api.pages import login, menus, static, tickets, views
from api.pages.session import session_middleware

#: Every page route and the IVR menu API, as one table for ``api.app.ROUTE_TABLES``.
routes = [*static.routes, *login.routes, *views.routes, *tickets.routes, *menus.routes]

__all__ = ["routes", "session_middleware"]
