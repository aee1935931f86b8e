"""``GET /ws/monitor``: the caller's tenant's live figures and routing, pushed as they change.

Authentication is the usual one (a browser's session cookie, an API
client's ``Authorization: Bearer``), checked on the upgrade request; the
socket then only ever sees its own tenant's feed (``api.monitor``). Each
message is a JSON snapshot ``{"type": "snapshot", "routing": {...},
"figures": {...}}``; the first one comes right after connecting. A client
that cannot take a message within ``SEND_TIMEOUT_S``, or lets
``api.monitor.CLIENT_QUEUE`` messages pile up, is disconnected with 1013
(try again later).
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSCloseCode, WSMsgType, web

from api.auth import principal
from api.monitor import MONITOR, Client
from hotline.logs import get_logger

__all__ = ["SEND_TIMEOUT_S", "routes"]

log = get_logger(__name__)
routes = web.RouteTableDef()
SEND_TIMEOUT_S = 2.0
CLOSE_TIMEOUT_S = 1.0


async def _close(request: web.Request, ws: web.WebSocketResponse, code: int, reason: str) -> None:
    """Close politely if the peer takes the close frame in time, else cut the connection."""
    try:
        await asyncio.wait_for(ws.close(code=code, message=reason.encode()[:120]), CLOSE_TIMEOUT_S)
    except (TimeoutError, ConnectionError):
        if request.transport is not None:
            request.transport.abort()


async def _send_all(ws: web.WebSocketResponse, client: Client) -> None:
    """Send queued snapshots in order; raises TimeoutError for a peer too slow to take one."""
    while True:
        message = await client.queue.get()
        await asyncio.wait_for(ws.send_str(message), SEND_TIMEOUT_S)


@routes.get("/ws/monitor")
async def monitor(request: web.Request) -> web.WebSocketResponse:
    tenant = principal(request).tenant
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=4096)
    await ws.prepare(request)
    hub = request.app[MONITOR]

    async def drop(reason: str) -> None:
        log.info("monitor client dropped", tenant=tenant, reason=reason)
        await _close(request, ws, WSCloseCode.TRY_AGAIN_LATER, reason)

    async def going_away() -> None:
        await _close(request, ws, WSCloseCode.GOING_AWAY, "server stopping")

    client = Client(drop)
    hub.join(tenant, client)
    hub.closers.add(going_away)
    sender = asyncio.create_task(_send_all(ws, client))
    sender.add_done_callback(lambda task: _sender_ended(task, drop))
    try:
        async for msg in ws:  # nothing is expected from the client; reading notices its close
            if msg.type is WSMsgType.ERROR:
                break
    finally:
        hub.leave(tenant, client)
        hub.closers.discard(going_away)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError, ConnectionError):
            await sender
    return ws


def _sender_ended(task: asyncio.Task[None], drop) -> None:
    if task.cancelled():
        return
    if isinstance(task.exception(), TimeoutError):
        asyncio.get_running_loop().create_task(drop(f"too slow: a message took over {SEND_TIMEOUT_S} s"))
