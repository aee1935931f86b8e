"""Router fixtures: the shipped demo routing under a tenant of the test's own, on the shared Redis.

Every key the router writes carries the tenant's hash tag, so each test works
on keys no other test sees; they are deleted afterwards (never a FLUSHDB).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from router.aio import AsyncRouter
from router.check import ROUTING_FILE, load_routing_config
from router.model import RoutingConfig
from router.sync import Router

Tweak = Callable[[dict[str, Any]], None]


def demo_config(conf_dir: Path, tenant: str, tweak: Tweak | None = None, **top: Any) -> RoutingConfig:
    """The shipped config with its ``demo`` tenant renamed ``tenant``; ``tweak`` edits that tenant's dict."""
    data = load_routing_config(conf_dir).model_dump(mode="json")
    routing = data["tenants"].pop("demo")
    if tweak:
        tweak(routing)
    data["tenants"] = {tenant: routing}
    data.update(top)
    return RoutingConfig.model_validate(data)


def write_conf(directory: Path, config: RoutingConfig) -> Path:
    """Write ``config`` as routing.yaml in ``directory`` (for the CLI and the API, which read files)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / ROUTING_FILE).write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    return directory


def trunk(routing: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in routing["trunks"] if t["name"] == name)


def diversion(routing: dict[str, Any], name: str) -> dict[str, Any]:
    return next(d for d in routing["diversions"] if d["name"] == name)


def lease_count(client: redis.Redis, tenant: str) -> int:
    """Every lease and lease record the tenant has in Redis (zero once all calls ended)."""
    records = client.hlen(f"hotline:{{{tenant}}}:route:calls")
    zsets = sum(client.zcard(k) for k in client.scan_iter(match=f"hotline:{{{tenant}}}:route:leases:*"))
    return records + zsets


@pytest.fixture
def config(conf_dir: Path, tenant: str) -> RoutingConfig:
    return demo_config(conf_dir, tenant)


@pytest.fixture
def router(redis_url: str, config: RoutingConfig) -> Iterator[Router]:
    r = Router.from_url(redis_url, config, node="node-a")
    r.load()
    yield r
    r.client.close()


@pytest.fixture
async def arouter(redis_url: str, config: RoutingConfig) -> AsyncIterator[AsyncRouter]:
    r = AsyncRouter.from_url(redis_url, config, node="node-a")
    await r.load()
    yield r
    await r.client.aclose()
