"""The asyncio router driver, for FastAGI, ``hotline serve`` and the API.

Strategy: the same calls as ``router/sync.py`` (built by ``router/plan.py``),
awaited on a ``redis.asyncio.Redis``; every call on the call path is bounded
by ``asyncio.wait_for`` with the routing timeout, and a timeout or Redis
failure becomes a local decision. ``wait_for`` rather than ``asyncio.timeout``
on purpose: with ``asyncio.timeout`` the cancellation lands in redis-py's own
nested timeouts and waited out its socket timeout (decisions took ~410 ms
against a frozen Redis, 3 runs in 4 of ``tests/router``); ``wait_for`` stayed
within the bound in every run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from hotline.logs import get_logger
from router.decision import Decision, RouterUnavailable
from router.fallback import REDIS_FAULTS, LocalRouter
from router.model import Breaker, RoutingConfig, TrunkState
from router.plan import Outcome, Planner, Script, ScriptCall, TargetStatus
from router.scripts import source

__all__ = ["AsyncRouter", "async_routing_client"]

log = get_logger(__name__)

#: Operator requests (status, set, load, reconcile) may wait this long: nobody is on the line.
OPERATOR_TIMEOUT_S = 5.0


def async_routing_client(url: str, timeout_s: float, max_connections: int = 64) -> aioredis.Redis:
    """A client that gives up after ``timeout_s`` and never retries (see ``router.sync.routing_client``).

    ``AsyncRouter`` bounds each call with ``asyncio.wait_for`` as well; the
    socket timeouts are still needed: on Python 3.11 a cancellation can be
    held up inside redis-py until its own socket timeout (5 s by default)
    expires, seen with a frozen Redis."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout_s,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
    )
    return aioredis.Redis.from_pool(pool)


class AsyncRouter:
    """Routes calls for every tenant of ``config``; one per process (see ``router.sync.Router``)."""

    def __init__(
        self,
        client: aioredis.Redis,
        config: RoutingConfig,
        *,
        node: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.node = node
        self.planner = Planner(config)
        self.local = LocalRouter(self.planner, config)
        self._timeout_s = config.timeout_s
        self._clock = clock
        self._scripts = {s: client.register_script(source(s)) for s in Script}

    @classmethod
    def from_url(cls, url: str, config: RoutingConfig, *, node: str) -> AsyncRouter:
        return cls(async_routing_client(url, config.timeout_s), config, node=node)

    def _call(self, call: ScriptCall) -> Awaitable[Any]:
        return self._scripts[call.script](keys=call.keys, args=call.args)

    async def _run(self, call: ScriptCall, timeout_s: float | None = None) -> Any:
        return await asyncio.wait_for(self._call(call), timeout_s or self._timeout_s)

    async def _operator(self, call: ScriptCall) -> Any:
        try:
            return await self._run(call, OPERATOR_TIMEOUT_S)
        except REDIS_FAULTS as exc:
            raise RouterUnavailable(f"Redis did not answer the router ({call.script}): {exc!r}") from exc

    # -- the call path --------------------------------------------------------

    async def decide(self, tenant: str, queue: str, call_id: str, *, pbx: str) -> Decision:
        """Where ``call_id`` goes; see ``router.sync.Router.decide``."""
        planned = self.planner.decide(tenant, queue, call_id, node=self.node, pbx=pbx)
        if isinstance(planned, Decision):
            log.error("unknown queue, routed to hard phones", tenant=tenant, queue=queue, call_id=call_id)
            return planned
        now = self._clock()
        reason = self.local.held_off(now)
        if reason is None:
            try:
                return await asyncio.wait_for(self._decide(tenant, queue, planned), self._timeout_s)
            except (*REDIS_FAULTS, RouterUnavailable) as exc:
                reason = self.local.redis_failed(exc, now)
        return self.local.decide(tenant, queue, call_id, reason, now)

    async def _decide(self, tenant: str, queue: str, call: ScriptCall) -> Decision:
        reply = await self._call(call)
        if self.planner.needs_load(reply):
            log.warning("routing state missing in Redis, loading the config again", tenant=tenant)
            await self._call(self.planner.load(tenant))
            reply = await self._call(call)
            if self.planner.needs_load(reply):
                raise RouterUnavailable("routing state still missing in Redis after loading it")
        return self.planner.decision(tenant, queue, reply)

    async def release(self, tenant: str, call_id: str) -> bool:
        """Free the call's slot (hang-up); see ``router.sync.Router.release``."""
        freed = self.local.release(tenant, call_id)
        try:
            return bool(await self._run(self.planner.release(tenant, call_id))) or freed
        except REDIS_FAULTS as exc:
            log.warning(
                "release not recorded, lease will lapse", tenant=tenant, call_id=call_id, error=repr(exc)
            )
            return freed

    async def renew(self, tenant: str, call_id: str) -> bool:
        """Keep a live call's lease (every TTL/3); False if the lease is gone or Redis failed."""
        try:
            return bool(await self._run(self.planner.renew(tenant, call_id)))
        except REDIS_FAULTS as exc:
            log.warning("lease not renewed", tenant=tenant, call_id=call_id, error=repr(exc))
            return False

    async def report_failure(self, tenant: str, trunk: str, call_id: str | None = None) -> Breaker | None:
        """A dial on ``trunk`` failed (or its health check did): feeds the breaker. None if Redis failed."""
        return await self._report(tenant, trunk, Outcome.FAILURE, call_id)

    async def report_success(self, tenant: str, trunk: str, call_id: str | None = None) -> Breaker | None:
        """A dial on ``trunk`` was answered: closes a half-open breaker early."""
        return await self._report(tenant, trunk, Outcome.SUCCESS, call_id)

    async def _report(self, tenant: str, trunk: str, outcome: Outcome, call_id: str | None) -> Breaker | None:
        call = self.planner.report(tenant, trunk, outcome, call_id)
        try:
            state = Breaker((await self._run(call)).decode())
        except REDIS_FAULTS as exc:
            log.warning(
                "breaker report lost", tenant=tenant, trunk=trunk, outcome=str(outcome), error=repr(exc)
            )
            return None
        if state is Breaker.OPEN:
            log.warning("trunk breaker open", tenant=tenant, trunk=trunk)
        return state

    # -- start-up, reconciling, operators ------------------------------------

    async def load(self, *, force: bool = False) -> list[str]:
        """Put every tenant's config into Redis and drop this node's old leases; ``hotline serve`` calls
        this on start. Returns the tenants applied as a deploy; raises ``RouterUnavailable``."""
        deployed = []
        for tenant in self.planner.tenants():
            reply = await self._operator(self.planner.load(tenant, force=force))
            stale = self.planner.stale_keys(tenant, reply)
            if stale:
                await self.client.delete(*stale)
            if int(reply[0]):
                deployed.append(tenant)
            await self.clear_node(tenant)
        return deployed

    async def clear_node(self, tenant: str) -> list[str]:
        """Drop every lease this node holds (its calls died with its previous run); returns their ids."""
        dropped = self.planner.dropped(await self._operator(self.planner.clear_node(tenant, self.node)))
        if dropped:
            log.info("dropped leases of previous run", tenant=tenant, node=self.node, count=len(dropped))
        return dropped

    async def reconcile(self, tenant: str, pbx: str, live: set[str], grace_s: float = 10.0) -> list[str]:
        """Drop ``pbx``'s leases whose call is not in ``live`` and older than ``grace_s``; returns their ids."""
        dropped = self.planner.dropped(
            await self._operator(self.planner.reconcile(tenant, pbx, live, grace_s))
        )
        if dropped:
            log.warning("dropped stale leases", tenant=tenant, pbx=pbx, count=len(dropped))
        return dropped

    async def status(self, tenant: str) -> list[TargetStatus]:
        return self.planner.parse_status(tenant, await self._operator(self.planner.status(tenant)))

    async def set_live(
        self, tenant: str, name: str, *, limit: int | None = None, state: TrunkState | None = None
    ) -> None:
        """Change a trunk's or diversion's limit and/or state until the next deploy; the next call sees it."""
        key, fields = self.planner.set_live(tenant, name, limit=limit, state=state)
        try:
            await asyncio.wait_for(self.client.hset(key, mapping=fields), OPERATOR_TIMEOUT_S)
        except REDIS_FAULTS as exc:
            raise RouterUnavailable(f"Redis did not take the change: {exc!r}") from exc
        log.info("routing changed live", tenant=tenant, target=name, limit=limit, state=state and str(state))
