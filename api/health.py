"""``GET /healthz``: SQL and Redis, each with status and latency; 503 when either is down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import text

from api.appkeys import ENGINE, REDIS
from api.auth import public

routes = web.RouteTableDef()
CHECK_TIMEOUT_S = 1.0


async def _probe(check: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - any failure of the dependency is the answer, not an API error
        return {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


@routes.get(public("/healthz"))
async def healthz(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]

    async def sql() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    checks = {"sql": await _probe(sql), "redis": await _probe(request.app[REDIS].ping)}
    healthy = all(c["status"] == "ok" for c in checks.values())
    return web.json_response({"status": "ok" if healthy else "degraded", **checks}, status=200 if healthy else 503)
