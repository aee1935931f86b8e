"""The blocking router driver, for the spawned AGI script and the gevent ESL edge.

Strategy: ``router/plan.py`` says what to send, one Lua call per operation;
this module sends it on a ``redis.Redis`` and turns Redis failures into local
decisions (``router/fallback.py``). The time bound on a decision comes from
the client's socket timeouts, so build the client with ``routing_client``
(timeouts = the routing timeout, no retries) or ``Router.from_url``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from hotline.logs import get_logger
from router.decision import Decision, RouterUnavailable
from router.fallback import REDIS_FAULTS, LocalRouter
from router.model import Breaker, RoutingConfig, TrunkState
from router.plan import Outcome, Planner, Script, ScriptCall, TargetStatus
from router.scripts import source

__all__ = ["Router", "routing_client"]

log = get_logger(__name__)


def routing_client(url: str, timeout_s: float, max_connections: int = 64) -> redis.Redis:
    """A client that gives up after ``timeout_s`` (connect, reply, or waiting for a free connection)
    and never retries: a retry would make the call wait past the routing timeout, and the local
    fallback is the better answer. The pool blocks when all connections are busy, rather than
    failing as redis-py's default pool does past 100 concurrent callers."""
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout_s,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
    )
    return redis.Redis.from_pool(pool)


class Router:
    """Routes calls for every tenant of ``config``; one per process, shared by its threads/greenlets.

    ``node`` names this process in leases (``clear_node`` on start drops the
    leases an earlier run of the same node left). ``clock`` is monotonic
    seconds, for the local fallback only.
    """

    def __init__(
        self,
        client: redis.Redis,
        config: RoutingConfig,
        *,
        node: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.node = node
        self.planner = Planner(config)
        self.local = LocalRouter(self.planner, config)
        self._clock = clock
        self._scripts = {s: client.register_script(source(s)) for s in Script}

    @classmethod
    def from_url(cls, url: str, config: RoutingConfig, *, node: str) -> Router:
        return cls(routing_client(url, config.timeout_s), config, node=node)

    def _run(self, call: ScriptCall) -> Any:
        return self._scripts[call.script](keys=call.keys, args=call.args)

    def _operator(self, call: ScriptCall) -> Any:
        try:
            return self._run(call)
        except REDIS_FAULTS as exc:
            raise RouterUnavailable(f"Redis did not answer the router ({call.script}): {exc}") from exc

    # -- the call path --------------------------------------------------------

    def decide(self, tenant: str, queue: str, call_id: str, *, pbx: str) -> Decision:
        """Where ``call_id`` goes; never raises for Redis trouble and never waits past the timeout.

        ``pbx`` identifies the PBX instance whose channel id ``call_id`` is (the
        reconciler matches on it). Raises ``UnknownName`` for an unknown tenant.
        """
        planned = self.planner.decide(tenant, queue, call_id, node=self.node, pbx=pbx)
        if isinstance(planned, Decision):
            log.error("unknown queue, routed to hard phones", tenant=tenant, queue=queue, call_id=call_id)
            return planned
        now = self._clock()
        reason = self.local.held_off(now)
        if reason is None:
            try:
                return self._decide(tenant, queue, planned)
            except (*REDIS_FAULTS, RouterUnavailable) as exc:
                reason = self.local.redis_failed(exc, now)
        return self.local.decide(tenant, queue, call_id, reason, now)

    def _decide(self, tenant: str, queue: str, call: ScriptCall) -> Decision:
        reply = self._run(call)
        if self.planner.needs_load(reply):
            log.warning("routing state missing in Redis, loading the config again", tenant=tenant)
            self._run(self.planner.load(tenant))
            reply = self._run(call)
            if self.planner.needs_load(reply):
                raise RouterUnavailable("routing state still missing in Redis after loading it")
        return self.planner.decision(tenant, queue, reply)

    def release(self, tenant: str, call_id: str) -> bool:
        """Free the call's slot (hang-up); idempotent. False if nothing was held or Redis failed
        (then the lease lapses after the TTL)."""
        freed = self.local.release(tenant, call_id)
        try:
            return bool(self._run(self.planner.release(tenant, call_id))) or freed
        except REDIS_FAULTS as exc:
            log.warning(
                "release not recorded, lease will lapse", tenant=tenant, call_id=call_id, error=repr(exc)
            )
            return freed

    def renew(self, tenant: str, call_id: str) -> bool:
        """Keep a live call's lease (every TTL/3); False if the lease is gone or Redis failed."""
        try:
            return bool(self._run(self.planner.renew(tenant, call_id)))
        except REDIS_FAULTS as exc:
            log.warning("lease not renewed", tenant=tenant, call_id=call_id, error=repr(exc))
            return False

    def report_failure(self, tenant: str, trunk: str, call_id: str | None = None) -> Breaker | None:
        """A dial on ``trunk`` failed (or its health check did): feeds the breaker. None if Redis failed."""
        return self._report(tenant, trunk, Outcome.FAILURE, call_id)

    def report_success(self, tenant: str, trunk: str, call_id: str | None = None) -> Breaker | None:
        """A dial on ``trunk`` was answered: closes a half-open breaker early."""
        return self._report(tenant, trunk, Outcome.SUCCESS, call_id)

    def _report(self, tenant: str, trunk: str, outcome: Outcome, call_id: str | None) -> Breaker | None:
        call = self.planner.report(tenant, trunk, outcome, call_id)
        try:
            state = Breaker(self._run(call).decode())
        except REDIS_FAULTS as exc:
            log.warning(
                "breaker report lost", tenant=tenant, trunk=trunk, outcome=str(outcome), error=repr(exc)
            )
            return None
        if state is Breaker.OPEN:
            log.warning("trunk breaker open", tenant=tenant, trunk=trunk)
        return state

    # -- start-up, reconciling, operators ------------------------------------

    def load(self, *, force: bool = False) -> list[str]:
        """Put every tenant's config into Redis and drop this node's old leases; call on process start.

        Returns the tenants whose config was applied as a deploy (live changes
        reset). Raises ``RouterUnavailable`` if Redis does not answer.
        """
        deployed = []
        for tenant in self.planner.tenants():
            reply = self._operator(self.planner.load(tenant, force=force))
            stale = self.planner.stale_keys(tenant, reply)
            if stale:
                self.client.delete(*stale)
            if int(reply[0]):
                deployed.append(tenant)
            self.clear_node(tenant)
        return deployed

    def clear_node(self, tenant: str) -> list[str]:
        """Drop every lease this node holds (its calls died with its previous run); returns their ids."""
        dropped = self.planner.dropped(self._operator(self.planner.clear_node(tenant, self.node)))
        if dropped:
            log.info("dropped leases of previous run", tenant=tenant, node=self.node, count=len(dropped))
        return dropped

    def reconcile(self, tenant: str, pbx: str, live: set[str], grace_s: float = 10.0) -> list[str]:
        """Drop ``pbx``'s leases whose call is not in ``live`` (the PBX's channel list) and that are older
        than ``grace_s``; returns the dropped call ids."""
        dropped = self.planner.dropped(self._operator(self.planner.reconcile(tenant, pbx, live, grace_s)))
        if dropped:
            log.warning("dropped stale leases", tenant=tenant, pbx=pbx, count=len(dropped))
        return dropped

    def status(self, tenant: str) -> list[TargetStatus]:
        return self.planner.parse_status(tenant, self._operator(self.planner.status(tenant)))

    def set_live(
        self, tenant: str, name: str, *, limit: int | None = None, state: TrunkState | None = None
    ) -> None:
        """Change a trunk's or diversion's limit and/or state until the next deploy; the next call sees it."""
        key, fields = self.planner.set_live(tenant, name, limit=limit, state=state)
        try:
            self.client.hset(key, mapping=fields)
        except REDIS_FAULTS as exc:
            raise RouterUnavailable(f"Redis did not take the change: {exc}") from exc
        log.info("routing changed live", tenant=tenant, target=name, limit=limit, state=state and str(state))
