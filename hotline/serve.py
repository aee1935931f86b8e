"""``hotline serve``: API, FastAGI and workers in one process, started and stopped in order.

Strategy: every part is started by an async context manager pushed onto one
``AsyncExitStack``, so a failure half-way through start-up unwinds exactly
what was started (no orphaned redis-server), and a stop signal unwinds
everything in reverse order: HTTP first (it starts last: no request meets a
stopping part), then the parts, the SQL engine and Redis last. Start-up
problems an operator can fix (port in use, database unreachable, schema
behind) raise ``StartupError`` with one line that says what to do.

A stop must be quick (deploys restart serve; systemd and docker kill it when
their stop timeout passes) and lose nothing: the workers of every part are
told to stop at once (``hotline.workers.stop_together``), a stream consumer
waiting in a read stops at once and one handling a batch finishes it, and the
parts are stopped in order, each waiting only for what is left of its own.
Each stage logs how long it took, so a slow stop shows where it came from.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from functools import partial
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.db import create_engine, is_sqlite, schema_state, upgrade
from hotline.logs import get_logger
from hotline.redisconn import EmbeddedRedis, RedisUnavailable
from hotline.settings import Settings
from hotline.workers import DRAIN_S, stop_together

__all__ = ["Runtime", "StartupError", "serve"]

log = get_logger(__name__)


class StartupError(Exception):
    """The process cannot start for a reason the operator can fix; the message says how."""


class Runtime:
    """What the running parts share: settings, the SQL engine and the Redis client."""

    def __init__(self, settings: Settings, engine: AsyncEngine, redis: aioredis.Redis, redis_url: str) -> None:
        self.settings = settings
        self.engine = engine
        self.redis = redis
        self.redis_url = redis_url  # parts that need their own pool (FastAGI's blocking pool) build it from this
        self.freeswitch: Any = None  # the FreeSWITCH event-socket client, once esl_inbound has started it


def safe_url(url: str) -> str:
    """A URL fit for logs and messages: the password is masked."""
    return make_url(url).render_as_string(hide_password=True)


@asynccontextmanager
async def _redis(settings: Settings) -> AsyncIterator[tuple[aioredis.Redis, str]]:
    embedded = None
    url = settings.redis_url
    if not url:
        embedded = EmbeddedRedis(settings.data_dir)
        try:
            await asyncio.to_thread(embedded.start)
        except RedisUnavailable as exc:
            raise StartupError(str(exc)) from exc
        url = embedded.url
    client = aioredis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as exc:
        await client.aclose()
        if embedded:
            embedded.stop()
        raise StartupError(f"cannot reach Redis at {url}: {exc}; check HOTLINE_REDIS_URL") from exc
    try:
        yield client, url
    finally:
        await client.aclose()
        if embedded:
            await asyncio.to_thread(embedded.stop)


@asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[AsyncEngine]:
    url = settings.sql_url
    engine = create_engine(url)
    try:
        try:
            state = await upgrade(engine) if is_sqlite(url) else await schema_state(engine)
        except (SQLAlchemyError, OSError) as exc:
            raise StartupError(f"cannot use the database at {safe_url(url)}: {exc}; check HOTLINE_DATABASE_URL") from exc
        if not state.up_to_date:
            raise StartupError(
                f"database schema at {safe_url(url)} is at revision {state.current or 'none'}, this version needs "
                f"{state.head}: run `hotline db upgrade` first"
            )
        log.info("database ready", url=safe_url(url), revision=state.current)
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def _http(runtime: Runtime) -> AsyncIterator[None]:
    from api.app import make_app

    settings = runtime.settings
    # Requests in progress at a stop get as long as a worker's batch, not aiohttp's 60 s.
    runner = web.AppRunner(make_app(settings, runtime.engine, runtime.redis), access_log=None, shutdown_timeout=DRAIN_S)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.http_host, settings.http_port).start()
    except OSError as exc:
        await runner.cleanup()
        raise port_error("HTTP", settings.http_host, settings.http_port, "HOTLINE_HTTP_PORT", exc) from exc
    log.info("http listening", url=f"http://{settings.http_host}:{settings.http_port}/")
    try:
        yield
    finally:
        begun = time.perf_counter()
        await runner.cleanup()
        log.info("http stopped", ms=_ms_since(begun))


def port_error(what: str, host: str, port: int, setting: str, exc: OSError) -> StartupError:
    """The one-line message for a listener that cannot bind."""
    if exc.errno == errno.EADDRINUSE:
        return StartupError(f"{what} port {host}:{port} is already in use: stop the other process or set {setting}")
    return StartupError(f"cannot listen for {what} on {host}:{port}: {exc.strerror}; check {setting}")


Part = Callable[[Runtime], AbstractAsyncContextManager[None]]


def parts() -> list[Part]:
    """Parts started after SQL and Redis, before HTTP, in start order (stopped in reverse)."""
    from agi.edge import asterisk_edge
    from alerts.workers import alert_workers
    from api.stats.consumer import stats
    from esl.inbound import esl_inbound
    from flows.recipients import recipients_for
    from flows.worker import flow_worker
    from hotline.call_log import call_log
    from hotline.chat_links import chat_links
    from hotline.pbx_voice import PbxVoiceRelay

    voice = PbxVoiceRelay()  # alerts place calls through the AMI / event socket connections the edges open
    return [
        call_log,
        flow_worker,
        chat_links,  # queues the chat link SMS of diverted calls in the outbox alert_workers sends
        stats,
        partial(asterisk_edge, voice=voice),
        partial(esl_inbound, voice=voice),
        # After the edges, so it stops before them: an alert call in progress keeps its AMI connection.
        partial(alert_workers, resolver=recipients_for, originate=voice),
    ]


def _ms_since(begun: float) -> int:
    return round((time.perf_counter() - begun) * 1000)


def _name(part: Part) -> str:
    return part.func.__name__ if isinstance(part, partial) else part.__name__


@asynccontextmanager
async def _timed(name: str, part: AbstractAsyncContextManager[None], took: dict[str, int]) -> AsyncIterator[None]:
    """``part``, with how long its stop took put in ``took[name]`` (ms)."""
    async with part:
        yield
        begun = time.perf_counter()
    took[name] = _ms_since(begun)


@asynccontextmanager
async def _parts(runtime: Runtime) -> AsyncIterator[None]:
    """Every part of ``parts()``. On exit all their workers are told to stop at once, so they drain side
    by side (the stop costs the slowest drain, not the sum); then the parts stop one by one in reverse
    start order, each with its own stop steps in its own order (the Asterisk edge stops taking calls,
    lets those in progress finish for a grace period, then closes AMI). Logs how long it took and
    which part was slowest."""
    took: dict[str, int] = {}
    async with AsyncExitStack() as stack:
        with stop_together() as stop_workers:
            for part in parts():
                await stack.enter_async_context(_timed(_name(part), part(runtime), took))
        try:
            yield
        finally:
            stop_workers()
            begun = time.perf_counter()
    slowest = max(took, key=took.__getitem__)
    log.info("workers stopped", ms=_ms_since(begun), slowest=slowest, slowest_ms=took[slowest])


async def serve(settings: Settings, stop: asyncio.Event, ready: Callable[[Runtime], Awaitable[None]] | None = None) -> None:
    """Run until ``stop`` is set; raises ``StartupError`` if a part cannot start."""
    async with AsyncExitStack() as stack:
        engine = await stack.enter_async_context(_database(settings))
        redis, redis_url = await stack.enter_async_context(_redis(settings))
        runtime = Runtime(settings, engine, redis, redis_url)
        await stack.enter_async_context(_parts(runtime))
        await stack.enter_async_context(_http(runtime))
        # Start-up objects (modules, menus, flows, routing) live for good: frozen, they leave every later
        # collection. Full collections were the FastAGI p99 and a quarter of the flow engine's CPU per ticket.
        gc.freeze()
        if ready:
            await ready(runtime)
        log.info("hotline ready", node=settings.node_name)
        await stop.wait()
        log.info("hotline stopping")
        begun = time.perf_counter()
    log.info("hotline stopped", ms=_ms_since(begun))
