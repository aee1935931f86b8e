"""What the spawned AGI needs before its first command: Redis URL, config, router, effects.

Strategy: Asterisk starts a process per call, so this reads the few settings it
needs straight from the environment (``HOTLINE_REDIS_URL``, ``HOTLINE_CONF_DIR``,
``HOTLINE_NODE_NAME``) and only falls back to ``hotline.settings.load_settings``
(pydantic-settings, slower to import) when ``HOTLINE_REDIS_URL`` is unset, to
find the embedded Redis of a running ``hotline serve``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["spawned_edge"]


def _redis_url_and_conf() -> tuple[str, Path, str]:
    url = os.environ.get("HOTLINE_REDIS_URL")
    conf = Path(os.environ.get("HOTLINE_CONF_DIR", "conf"))
    node = os.environ.get("HOTLINE_NODE_NAME") or os.uname().nodename
    if url:
        return url, conf, node
    from hotline.redisconn import redis_url_for
    from hotline.settings import load_settings

    settings = load_settings()
    return redis_url_for(settings), settings.conf_dir, settings.node_name


def spawned_edge() -> tuple[Any, dict[Any, Any]]:
    """``(SyncEffects, menus)`` for one spawned AGI call; raises ``ConfigErrors`` / ``RedisUnavailable``."""
    import redis

    from agi.effects import SyncEffects
    from ivr.check import load_intents, load_menus
    from router.check import load_routing_config
    from router.sync import Router, routing_client

    url, conf, node = _redis_url_and_conf()
    config = load_routing_config(conf)
    router = Router(routing_client(url, config.timeout_s), config, node=node)
    client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
    return SyncEffects(router, client, load_intents(conf)), load_menus(conf)
