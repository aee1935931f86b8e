"""``hotline serve``: API, FastAGI and workers in one process, started and stopped in order.

Strategy: every part is started by an async context manager pushed onto one
``AsyncExitStack``, so a failure half-way through start-up unwinds exactly
what was started (no orphaned redis-server), and a stop signal unwinds
everything in reverse order. Start-up problems an operator can fix (port in
use, database unreachable, schema behind) raise ``StartupError`` with one line
that says what to do.
"""

from __future__ import annotations

import asyncio
import gc
import errno
from functools import partial
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

import redis.asyncio as aioredis
from aiohttp import web
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.db import create_engine, is_sqlite, schema_state, upgrade
from hotline.logs import get_logger
from hotline.redisconn import EmbeddedRedis, RedisUnavailable
from hotline.settings import Settings

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
    runner = web.AppRunner(make_app(settings, runtime.engine, runtime.redis), access_log=None)
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
        await runner.cleanup()


def port_error(what: str, host: str, port: int, setting: str, exc: OSError) -> StartupError:
    """The one-line message for a listener that cannot bind."""
    if exc.errno == errno.EADDRINUSE:
        return StartupError(f"{what} port {host}:{port} is already in use: stop the other process or set {setting}")
    return StartupError(f"cannot listen for {what} on {host}:{port}: {exc.strerror}; check {setting}")


Part = Callable[[Runtime], AbstractAsyncContextManager[None]]


def parts() -> list[Part]:
    """Parts started after SQL, Redis and HTTP, in start order (stopped in reverse)."""
    from agi.edge import asterisk_edge
    from esl.inbound import esl_inbound
    from alerts.workers import alert_workers
    from api.stats.consumer import stats
    from flows.recipients import recipients_for
    from flows.worker import flow_worker
    from hotline.call_log import call_log
    from hotline.chat_links import chat_links
    from hotline.pbx_voice import PbxVoiceRelay

    voice = PbxVoiceRelay()  # alerts place calls through the AMI connection the Asterisk edge opens later
    return [
        call_log,
        flow_worker,
        partial(alert_workers, resolver=recipients_for, originate=voice),
        chat_links,  # queues the chat link SMS of diverted calls in the outbox alert_workers sends
        stats,
        partial(asterisk_edge, voice=voice),
        partial(esl_inbound, voice=voice),
    ]


async def serve(settings: Settings, stop: asyncio.Event, ready: Callable[[Runtime], Awaitable[None]] | None = None) -> None:
    """Run until ``stop`` is set; raises ``StartupError`` if a part cannot start."""
    async with AsyncExitStack() as stack:
        engine = await stack.enter_async_context(_database(settings))
        redis, redis_url = await stack.enter_async_context(_redis(settings))
        runtime = Runtime(settings, engine, redis, redis_url)
        await stack.enter_async_context(_http(runtime))
        for part in parts():
            await stack.enter_async_context(part(runtime))
        # Start-up objects (modules, menus, flows, routing) live for good: frozen, they leave every later
        # collection. Full collections were the FastAGI p99 and a quarter of the flow engine's CPU per ticket.
        gc.freeze()
        if ready:
            await ready(runtime)
        log.info("hotline ready", node=settings.node_name)
        await stop.wait()
        log.info("hotline stopping")
    log.info("hotline stopped")
