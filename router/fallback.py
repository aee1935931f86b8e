"""Degradation level 3: deciding without Redis, from the static config and this process's own counts.

Strategy: when Redis refuses, fails or answers later than the routing timeout,
the driver asks ``LocalRouter`` instead. A fail-open trunk takes calls up to
``capacity x local_share`` counted here (in-process, per tenant and trunk,
leases expiring after the lease TTL like Redis's); a fail-closed trunk is
skipped; what is left goes to the hard-phone group. After a failure the node
keeps deciding locally for ``redis_retry_ms`` before it asks Redis again, so a
hung Redis costs one timeout per retry period rather than one per call. Every
local decision is logged and counted by reason. The clock is a parameter.

Redis's own exceptions are translated to a ``Reason`` here, in one place.
"""

from __future__ import annotations

import threading
from collections import Counter

import redis

from hotline.logs import get_logger
from router.decision import Decision, Reason, decision_for
from router.model import Level, RoutingConfig, TrunkState
from router.plan import Planner

__all__ = ["REDIS_FAULTS", "LocalRouter", "fault_reason"]

log = get_logger(__name__)

#: What a Redis call may raise when Redis is down or slow (asyncio's TimeoutError is an OSError).
REDIS_FAULTS = (redis.RedisError, OSError)


def fault_reason(exc: BaseException) -> Reason:
    """The decision reason for a Redis failure: too slow, or not there (refused, reset, script error)."""
    return Reason.REDIS_TIMEOUT if isinstance(exc, (TimeoutError, redis.TimeoutError)) else Reason.REDIS_DOWN


class LocalRouter:
    """Decides calls from the static config while Redis is unusable; thread-safe (gevent, threads)."""

    def __init__(self, planner: Planner, config: RoutingConfig) -> None:
        self._planner = planner
        self._ttl_s = config.lease_ttl_s
        self._retry_s = config.redis_retry_ms / 1000
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], tuple[str, float]] = {}  # (tenant, call id) -> (trunk, expiry)
        self._until = 0.0
        self._last = Reason.REDIS_DOWN
        #: Local decisions by reason, for health pages and tests.
        self.counts: Counter[Reason] = Counter()

    def held_off(self, now: float) -> Reason | None:
        """The reason to skip Redis right now (it failed less than ``redis_retry_ms`` ago), else None."""
        return self._last if now < self._until else None

    def redis_failed(self, exc: BaseException, now: float) -> Reason:
        """Note a Redis failure: decide locally for the retry period. Returns the reason to decide with."""
        reason = fault_reason(exc)
        with self._lock:
            if now >= self._until:
                log.warning(
                    "redis unusable for routing, deciding locally",
                    reason=str(reason),
                    error=repr(exc),
                    retry_s=self._retry_s,
                )
            self._until, self._last = now + self._retry_s, reason
        return reason

    def decide(self, tenant: str, queue: str, call_id: str, reason: Reason, now: float) -> Decision:
        """A level-3 decision: a fail-open trunk with local room, else the hard phones."""
        routing = self._planner.routing(tenant)
        with self._lock:
            self._purge(now)
            used = Counter(name for (t, _), (name, _) in self._held.items() if t == tenant)
            candidates = []  # (priority, load per unit of weight, name): the same rule as decide.lua
            for name, rank, weight in self._planner.trunk_order(tenant, queue):
                trunk = routing.trunk(name)
                assert trunk is not None
                if trunk.state is TrunkState.UP and used[name] < trunk.degrade.local_limit(trunk.capacity):
                    candidates.append((rank, (used[name] + 1) / weight, name))
            best = min(candidates, default=None)
            name = best[2] if best else routing.hardphones.name
            if best:
                self._held[(tenant, call_id)] = (name, now + self._ttl_s)
            self.counts[reason] += 1
        decision = decision_for(routing, routing.queue(queue), name, Level.HARDPHONE, reason)
        log.warning(
            "routed locally",
            tenant=tenant,
            queue=queue,
            call_id=call_id,
            reason=str(reason),
            route=decision.name,
            kind=str(decision.kind),
        )
        return decision

    def release(self, tenant: str, call_id: str) -> bool:
        """Free a locally decided call's slot; False if this process did not decide it (idempotent)."""
        with self._lock:
            return self._held.pop((tenant, call_id), None) is not None

    def in_use(self, tenant: str, trunk: str, now: float) -> int:
        """Calls this process placed on ``trunk`` without Redis and still holds."""
        with self._lock:
            self._purge(now)
            return sum(1 for (t, _), (name, _) in self._held.items() if t == tenant and name == trunk)

    def _purge(self, now: float) -> None:
        """Forget calls whose hang-up never came, as Redis forgets lapsed leases."""
        for key in [k for k, (_, expiry) in self._held.items() if expiry <= now]:
            del self._held[key]
