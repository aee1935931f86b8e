"""Fixtures for the Asterisk edge: the shipped demo config under a per-test tenant, and a running FastAGI server.

Isolation: each test copies conf/ivr/demo, conf/intents.yaml and conf/routing.yaml
into tmp_path with the tenant ``demo`` renamed to the test's unique tenant, so
every Redis key (leases, streams, caller history) is the test's own, on the
shared real Redis, and nothing is flushed.
"""

from __future__ import annotations

import re
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agi.effects import AsyncEffects, effects_client
from agi.fastagi import FastAgiServer
from agi.session import AgiTimeouts

FAST = AgiTimeouts(header_s=1.0, command_s=1.0, media_s=2.0, effect_s=1.0, session_s=10.0)


def copy_demo_conf(conf_dir: Path, dest: Path, tenant: str) -> Path:
    """The shipped demo configuration with tenant ``demo`` renamed to ``tenant``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(conf_dir / "ivr" / "demo", dest / "ivr" / tenant)
    shutil.copy(conf_dir / "intents.yaml", dest / "intents.yaml")
    routing = (conf_dir / "routing.yaml").read_text()
    (dest / "routing.yaml").write_text(re.sub(r"(?m)^  demo:$", f"  {tenant}:", routing))
    return dest


@pytest.fixture
def demo_conf(conf_dir: Path, tmp_path: Path, tenant: str) -> Path:
    return copy_demo_conf(conf_dir, tmp_path / "conf", tenant)


@pytest.fixture
def in_process_env(demo_conf: Path, redis_url: str) -> Iterator[dict[str, str]]:
    """Environment for ``hotline-agi`` to run its call in-process on this test's config and Redis.

    Its FastAGI address is a loopback port bound but not listening, so the relay is refused at once
    (whatever else listens on 4573 on this machine).
    """
    with socket.socket() as refusing:
        refusing.bind(("127.0.0.1", 0))
        yield {"HOTLINE_AGI_HOST": "127.0.0.1", "HOTLINE_AGI_PORT": str(refusing.getsockname()[1]),
               "HOTLINE_REDIS_URL": redis_url, "HOTLINE_CONF_DIR": str(demo_conf),
               "HOTLINE_NODE_NAME": "test-node"}


@pytest.fixture
async def edge(demo_conf: Path, redis_url: str) -> AsyncIterator[tuple[AsyncEffects, dict]]:
    """Effects on a real router and Redis, plus the menus, for the demo config of this test's tenant."""
    from ivr import load_intents, load_menus
    from router.aio import AsyncRouter
    from router.check import load_routing_config

    router = AsyncRouter.from_url(redis_url, load_routing_config(demo_conf), node="test-node")
    await router.load()
    client = effects_client(redis_url)
    yield AsyncEffects(router, client, load_intents(demo_conf)), load_menus(demo_conf)
    await router.client.aclose()
    await client.aclose()


@pytest.fixture
async def agi_server(edge) -> AsyncIterator[FastAgiServer]:
    effects, menus = edge
    server = FastAgiServer("127.0.0.1", 0, effects=effects, menus=menus, timeouts=FAST)
    await server.start()
    yield server
    await server.close(grace_s=1.0)
