"""What ``/ws/monitor`` pushes: one poller per watched tenant, fanned out to that tenant's clients.

Strategy: the router's PATCH handler publishes nothing, so a feed polls: every
``POLL_S`` it reads the tenant's routing status (one Lua call) and live
figures (one pipelined read), and broadcasts the snapshot only when it
changed. One feed serves every client of its tenant, and exists only while
the tenant has clients. Broadcasting never waits on a client: each client
has a small bounded queue, and one whose queue is full is dropped (it is too
slow to keep up), so a stalled browser cannot slow the others.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from api.stats.live import snapshot
from hotline.logs import get_logger
from hotline.settings import Settings
from hotline.yamlconf import ConfigErrors
from router.aio import AsyncRouter
from router.check import ROUTING_FILE, load_routing_config
from router.decision import RouterUnavailable
from router.model import RoutingConfig
from router.plan import TargetStatus

__all__ = ["MONITOR", "Monitor", "RoutingSource", "diversion_state", "install_monitor"]

log = get_logger(__name__)
#: How often a feed reads Redis; a routing change reaches the browser within about this long.
POLL_S = 0.25
#: Snapshots a client may have waiting before it counts as too slow and is dropped.
CLIENT_QUEUE = 8


class RoutingSource:
    """The deployed routing config and a router over it, re-read when routing.yaml changes."""

    def __init__(self, settings: Settings, redis: aioredis.Redis) -> None:
        self._path = Path(settings.conf_dir) / ROUTING_FILE
        self._settings = settings
        self._redis = redis
        self._stamp: float | None = None
        self._loaded: tuple[RoutingConfig, AsyncRouter] | str = "routing not loaded"

    def current(self) -> tuple[RoutingConfig, AsyncRouter] | str:
        """The config and router, or a message saying why there is none."""
        try:
            stamp = self._path.stat().st_mtime
        except FileNotFoundError:
            return f"no {ROUTING_FILE} in {self._settings.conf_dir}"
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                config = load_routing_config(self._settings.conf_dir)
                self._loaded = (config, AsyncRouter(self._redis, config, node=self._settings.node_name))
            except ConfigErrors as exc:
                self._loaded = f"routing config unusable: {exc.errors[0]}"
        return self._loaded

    async def view(self, tenant: str) -> dict[str, Any]:
        """The routing board's data: targets (with diversion levels) and the diversion level in force."""
        loaded = self.current()
        if isinstance(loaded, str):
            return {"error": loaded, "targets": []}
        config, router = loaded
        routing = config.tenants.get(tenant)
        if routing is None:
            return {"error": "no routing configured for this tenant", "targets": []}
        try:
            rows = await router.status(tenant)
        except RouterUnavailable as exc:
            return {"error": str(exc), "targets": []}
        levels = {d.name: d.level for d in routing.diversions}
        targets = [{**asdict(r), "level": levels.get(r.name)} for r in rows]
        return {"targets": targets, "diversion": diversion_state(rows, levels, routing.hardphones.name)}


def _has_room(target: TargetStatus) -> bool:
    return (target.state == "up" and target.breaker != "open"
            and (target.capacity is None or target.in_use < target.capacity))


def diversion_state(rows: list[TargetStatus], levels: dict[str, int], hardphones: str) -> dict[str, Any]:
    """Where a new call would spill to now: level 0 while a trunk has room, then each diversion level."""
    if any(_has_room(r) for r in rows if r.kind == "trunk"):
        return {"level": 0, "name": None}
    open_diversions = sorted((levels[r.name], r.name) for r in rows if r.name in levels and _has_room(r))
    if open_diversions:
        level, name = open_diversions[0]
        return {"level": level, "name": name}
    return {"level": None, "name": hardphones}


class Client:
    """One connected WebSocket as the feed sees it: a bounded queue, and a way to drop it."""

    def __init__(self, drop: Callable[[str], Awaitable[None]]) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(CLIENT_QUEUE)
        self._drop = drop
        self.dropped = False

    def offer(self, message: str) -> None:
        """Queue ``message`` without waiting; a client with a full queue is dropped."""
        if self.dropped:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped = True
            asyncio.get_running_loop().create_task(self._drop("too slow: messages piled up"))


class Feed:
    """One tenant's poller and its clients."""

    def __init__(self, tenant: str, read: Callable[[str], Awaitable[dict[str, Any]]]) -> None:
        self.tenant = tenant
        self.clients: set[Client] = set()
        self.last: str | None = None
        self._read = read
        self._task: asyncio.Task[None] | None = None

    def join(self, client: Client) -> None:
        self.clients.add(client)
        if self.last is not None:
            client.offer(self.last)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll(), name=f"monitor:{self.tenant}")

    def leave(self, client: Client) -> None:
        self.clients.discard(client)

    async def _poll(self) -> None:
        while self.clients:
            try:
                message = json.dumps({"type": "snapshot", **await self._read(self.tenant)}, separators=(",", ":"))
            except Exception:  # a failed read must not end the feed; the next poll tries again
                log.exception("monitor snapshot failed", tenant=self.tenant)
                message = None
            if message is not None and message != self.last:
                self.last = message
                for client in list(self.clients):
                    client.offer(message)
            await asyncio.sleep(POLL_S)
        self.last = None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class Monitor:
    """Every feed of one application."""

    def __init__(self, read: Callable[[str], Awaitable[dict[str, Any]]]) -> None:
        self._read = read
        self.feeds: dict[str, Feed] = {}
        self.closers: set[Callable[[], Awaitable[None]]] = set()

    def join(self, tenant: str, client: Client) -> None:
        self.feeds.setdefault(tenant, Feed(tenant, self._read)).join(client)

    def leave(self, tenant: str, client: Client) -> None:
        feed = self.feeds.get(tenant)
        if feed is not None:
            feed.leave(client)

    async def close(self, app: web.Application | None = None) -> None:
        """Close every client's socket and stop the feeds (an ``on_shutdown`` hook)."""
        await asyncio.gather(*(close() for close in list(self.closers)), return_exceptions=True)
        await asyncio.gather(*(feed.stop() for feed in self.feeds.values()))


MONITOR = web.AppKey("monitor", Monitor)


def install_monitor(app: web.Application, settings: Settings, redis: aioredis.Redis) -> None:
    """Give ``app`` its monitor (and close the sockets on shutdown, so a stop does not wait for them)."""
    routing = RoutingSource(settings, redis)

    async def read(tenant: str) -> dict[str, Any]:
        return {"routing": await routing.view(tenant), "figures": await snapshot(redis, tenant)}

    monitor = Monitor(read)
    app[MONITOR] = monitor
    app.on_shutdown.append(monitor.close)
