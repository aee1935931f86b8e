"""The outbound-socket server of ``hotline esl``: gevent, one greenlet per call, in its own process.

Strategy: ``gevent.server.StreamServer`` accepts (no polling loop) and spawns
``esl.outbound.serve_call`` in a bounded pool (``esl_max_calls``); beyond
that, connections wait in the listen backlog. Everything a call needs and
that does not change per call (menus, intent rules, router, Redis) is built
once in ``Edge``. The process must be monkey-patched before anything else is
imported (``python -m esl`` does it), so redis-py's blocking sockets yield to
other calls instead of stopping them.

Menus deployed while it runs (``conf/ivr/**.yaml``) replace ``Edge.menus``
for the next call: a greenlet polls ``ivr.reload.MenuReloader`` every
``POLL_S``, as FastAGI's worker does. The reload runs on the hub, not in
gevent's native thread pool: it logs, and logging's locks are gevent locks
once patched, which native threads should not take (gevent issue #2013). It
costs the other calls roughly 10 ms per tenant, only when a file changed.

Shutdown (``serve_until``): stop accepting; bridged calls detach at their
next lease renewal tick; IVR calls get ``esl_shutdown_grace_s`` to finish,
then are killed, which still runs their ``exit`` (the dialplan's fallback
takes them).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import gevent.pool
import redis
from gevent.server import StreamServer

from esl.outbound import serve_call
from hotline.logs import get_logger
from hotline.redisconn import redis_url_for, sync_client
from hotline.settings import Settings
from ivr.check import load_intents, load_menus
from ivr.intent import IntentRules
from ivr.reload import POLL_S, MenuReloader
from router.check import load_routing_config
from router.decision import RouterUnavailable
from router.sync import Router

__all__ = ["Edge", "OutboundServer", "build_edge"]

log = get_logger(__name__)


@dataclass
class Edge:
    """What every call of this process shares."""

    menus: Any
    rules: IntentRules
    router: Router
    redis: redis.Redis
    pbx: str
    default_tenant: str
    reply_timeout: float
    prompt_timeout: float
    renew_s: float
    conf: Path  # where ``menus`` came from, watched for deploys
    stopping: gevent.event.Event = field(default_factory=gevent.event.Event)
    redis_faults: tuple[type[BaseException], ...] = (redis.RedisError, OSError)


def build_edge(settings: Settings) -> Edge:
    """Load menus, intents and routing (raises ``ConfigErrors``) and connect to Redis (``RedisUnavailable``)."""
    conf = settings.conf_dir
    routing = load_routing_config(conf)
    url = redis_url_for(settings)
    router = Router.from_url(url, routing, node=f"{settings.node_name}:esl")
    try:
        router.load()
    except RouterUnavailable as exc:
        log.warning("routing config not loaded into Redis; calls are routed locally until it answers", error=str(exc))
    return Edge(
        menus=load_menus(conf), rules=load_intents(conf), router=router, redis=sync_client(settings),
        pbx=settings.fs_name, default_tenant=settings.fs_tenant, reply_timeout=settings.esl_reply_timeout_s,
        prompt_timeout=settings.esl_prompt_timeout_s, renew_s=routing.lease_ttl_s / 3, conf=conf,
    )


class OutboundServer:
    """Listens for FreeSWITCH's socket app; ``start`` raises ``OSError`` if the port cannot be bound."""

    def __init__(self, edge: Edge, host: str, port: int, max_calls: int) -> None:
        self.edge = edge
        self.pool = gevent.pool.Pool(max_calls)
        self.server = StreamServer((host, port), self._handle, spawn=self.pool, backlog=1024)

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address

    def start(self) -> None:
        self.server.start()
        gevent.spawn(self._reload_menus, MenuReloader(self.edge, self.edge.conf))

    def _reload_menus(self, reloader: MenuReloader) -> None:
        """Until shutdown; a look that fails is logged and the next one goes on (as ``background`` restarts)."""
        while not self.edge.stopping.wait(POLL_S):
            try:
                reloader.check_once()
            except Exception:  # noqa: BLE001  a bug here must not end hot deploys for the life of the process
                log.exception("IVR menu reload failed; the running menus stay in force")

    def _handle(self, sock: socket.socket, address: tuple[str, int]) -> None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small request/reply frames: no Nagle delay
        try:
            serve_call(sock, self.edge)
        except Exception:  # a bug in one call must not end the others; it is logged with its traceback
            log.exception("call driver failed", peer=f"{address[0]}:{address[1]}")

    def serve_until(self, stop: gevent.event.Event, grace_s: float) -> None:
        stop.wait()
        live = len(self.pool)
        log.info("esl stopping", live_calls=live, grace_s=grace_s)
        self.edge.stopping.set()
        self.server.close()
        if not self.pool.join(timeout=grace_s):
            log.warning("calls still in the IVR at shutdown, handing them back to the dialplan", calls=len(self.pool))
            self.pool.kill(timeout=max(1.0, self.edge.reply_timeout))
        log.info("esl stopped")
