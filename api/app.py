"""The aiohttp application: middlewares, and every room's routes in one explicit list."""

from __future__ import annotations

import redis.asyncio as aioredis
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from api import alerts, audit, calls, flows, health, pages, people, routing, tickets, ws
from api.appkeys import ENGINE, REDIS, SESSIONS, SETTINGS
from api.auth import auth_middleware
from api.errors import error_middleware
from api.monitor import install_monitor
from api.stats import reports
from hotline.db import session_factory
from hotline.settings import Settings

#: Route tables, in the order they are added; grep here to find every endpoint.
ROUTE_TABLES = [health.routes, calls.routes, audit.routes, routing.routes, tickets.routes, flows.routes, people.routes,
                alerts.routes]
ROUTE_TABLES += [reports.routes, ws.routes, pages.routes]  # web: reports, /ws/monitor, pages


def make_app(settings: Settings, engine: AsyncEngine, redis: aioredis.Redis) -> web.Application:
    # pages.session_middleware: a browser's session cookie and CSRF check; requests with Authorization pass untouched.
    app = web.Application(middlewares=[error_middleware, pages.session_middleware, auth_middleware],
                          client_max_size=2 * 1024 * 1024)
    app[SETTINGS] = settings
    app[ENGINE] = engine
    app[SESSIONS] = session_factory(engine)
    app[REDIS] = redis
    for table in ROUTE_TABLES:
        app.add_routes(table)
    install_monitor(app, settings, redis)
    return app
