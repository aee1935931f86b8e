"""The routing plan: what to ask Redis for each router operation, and what its answer means.

Strategy: every operation is one Lua script call (one round trip), described
by a ``ScriptCall`` (script, keys, args) that this module builds from the
config, and a reply that this module parses. The blocking (``router/sync.py``)
and asyncio (``router/aio.py``) drivers only send the call, so both behave the
same by construction. No I/O, no clock, no randomness here: the scripts take
the time from Redis TIME so several nodes agree.

Each script gets every key it touches in KEYS (all under the tenant's hash
tag, so one Cluster slot). Limits and states in force live in one hash per
tenant that ``load.lua`` fills from the config; if Redis lost it, the decide
script answers "reload" and the driver loads the config and asks again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from hotline import keys
from router.decision import Decision, Reason, RouterMisuse, UnknownName, decision_for
from router.model import Breaker, Level, Queue, RouteKind, RoutingConfig, Source, TenantRouting, TrunkState

__all__ = ["Outcome", "Planner", "Script", "ScriptCall", "TargetStatus"]

UNLIMITED = -1
#: Which part of a lease record (``target|node|pbx|started_ms``, 1-based) the sweep script matches on.
_BY_NODE, _BY_PBX = 2, 3


class Script(StrEnum):
    """The Lua scripts (``router/<name>.lua``)."""

    DECIDE = "decide"
    RELEASE = "release"
    RENEW = "renew"
    BREAKER = "breaker"
    SWEEP = "sweep"
    STATUS = "status"
    LOAD = "load"


class Outcome(StrEnum):
    """A call's outcome on a trunk, as the edges report it to the circuit breaker."""

    FAILURE = "failure"
    SUCCESS = "success"


Arg = bytes | str | int


@dataclass(frozen=True, slots=True)
class ScriptCall:
    """One round trip: run ``script`` with these keys and args.

    What does not change between calls is encoded once, as bytes: redis-py
    packs bytes about twice as fast as text, and packing is most of a
    decision's cost on the Python side.
    """

    script: Script
    keys: tuple[Arg, ...]
    args: tuple[Arg, ...]


@dataclass(frozen=True, slots=True)
class TargetStatus:
    """One route target as operators see it; ``capacity`` None means unlimited."""

    name: str
    kind: RouteKind
    capacity: int | None
    capacity_source: Source
    state: TrunkState
    state_source: Source
    breaker: Breaker
    reopen_in_s: float | None
    in_use: int


@dataclass(frozen=True, slots=True)
class _Target:
    name: str
    kind: RouteKind
    rank: int
    weight: int
    limit: int
    state: TrunkState
    cooldown_ms: int


@dataclass(frozen=True, slots=True)
class _QueuePlan:
    """One queue's targets in the order tried; ``routes[i]`` is target i's decision without level and
    reason; ``args`` are the lease TTL, the number of trunks, then each trunk's rank and weight;
    ``decided`` remembers each decide reply seen (a small, finite set) with its decision."""

    targets: tuple[_Target, ...]
    routes: tuple[Decision, ...]
    n_trunks: int
    keys: tuple[bytes, ...]
    args: tuple[bytes, ...]
    decided: dict[tuple[Any, ...], Decision]


class _TenantPlan:
    """Everything about one tenant that does not change between calls, computed once."""

    def __init__(self, tenant: str, routing: TenantRouting, ttl_ms: int) -> None:
        self.tenant = tenant
        self.routing = routing
        diversions = [
            _Target(
                d.name,
                RouteKind.DIVERSION,
                d.level,
                1,
                UNLIMITED if d.capacity is None else d.capacity,
                d.state,
                0,
            )
            for d in routing.diversions_by_level()
        ]
        hardphones = _Target(routing.hardphones.name, RouteKind.HARDPHONE, 0, 1, UNLIMITED, TrunkState.UP, 0)
        trunks = [_trunk_target(routing, t.name, None, None) for t in routing.trunks]
        self.targets = (*trunks, *diversions, hardphones)
        self.by_name = {t.name: t for t in self.targets}
        self.keys = self._keys(self.targets)
        self.queues = {q.name: self._queue(q, diversions, hardphones, ttl_ms) for q in routing.queues}
        self.digest = hashlib.sha256(routing.model_dump_json().encode()).hexdigest()[:16]

    def _keys(self, targets: tuple[_Target, ...]) -> tuple[bytes, ...]:
        leases = (keys.route_leases(self.tenant, t.name) for t in targets)
        return tuple(
            k.encode() for k in (keys.route_calls(self.tenant), keys.route_targets(self.tenant), *leases)
        )

    def _queue(self, queue: Queue, diversions: list[_Target], hardphones: _Target, ttl_ms: int) -> _QueuePlan:
        trunks = [_trunk_target(self.routing, e.trunk, e.priority, e.weight) for e in queue.trunks]
        trunks.sort(key=lambda t: t.rank)  # stable: equal priorities keep the queue's order
        targets = (*trunks, *diversions, hardphones)
        routes = tuple(decision_for(self.routing, queue, t.name, Level.NORMAL, Reason.OK) for t in targets)
        args = (ttl_ms, len(trunks), *(a for t in trunks for a in (t.rank, t.weight)))
        return _QueuePlan(
            targets, routes, len(trunks), self._keys(targets), tuple(b"%d" % a for a in args), {}
        )


def _trunk_target(routing: TenantRouting, name: str, priority: int | None, weight: int | None) -> _Target:
    trunk = routing.trunk(name)
    assert trunk is not None  # router/check.py refuses configs whose queues name unknown trunks
    return _Target(
        name,
        RouteKind.TRUNK,
        trunk.priority if priority is None else priority,
        trunk.weight if weight is None else weight,
        trunk.capacity,
        trunk.state,
        int(trunk.breaker.cooldown_s * 1000),
    )


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


class Planner:
    """Builds each operation's ``ScriptCall`` from a loaded ``RoutingConfig`` and parses the replies."""

    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self.ttl_ms = int(config.lease_ttl_s * 1000)
        self._tenants = {
            name: _TenantPlan(name, routing, self.ttl_ms) for name, routing in config.tenants.items()
        }

    def tenants(self) -> list[str]:
        return list(self._tenants)

    def routing(self, tenant: str) -> TenantRouting:
        """The tenant's config; raises ``UnknownName`` for a tenant the config lacks."""
        return self._plan(tenant).routing

    def _plan(self, tenant: str) -> _TenantPlan:
        try:
            return self._tenants[tenant]
        except KeyError:
            raise UnknownName(f"no tenant '{tenant}' in the routing config") from None

    # -- decisions ----------------------------------------------------------

    def decide(self, tenant: str, queue: str, call_id: str, *, node: str, pbx: str) -> ScriptCall | Decision:
        """The call that routes ``call_id``, or straight away the hard phones if ``queue`` is unknown.

        Raises ``UnknownName`` for an unknown tenant (there is no hard-phone
        group to fall back on) and ``RouterMisuse`` for ids containing ``|``.
        """
        plan = self._plan(tenant)
        if "|" in call_id or "|" in node or "|" in pbx:
            raise RouterMisuse("call id, node and pbx may not contain '|'")
        queued = plan.queues.get(queue)
        if queued is None:
            return decision_for(
                plan.routing, None, plan.routing.hardphones.name, Level.HARDPHONE, Reason.UNKNOWN_QUEUE
            )
        return ScriptCall(Script.DECIDE, queued.keys, (call_id, node, pbx, *queued.args))

    @staticmethod
    def needs_load(reply: list[Any]) -> bool:
        """True when the decide script found the tenant's targets missing (Redis lost them): load, then retry."""
        return int(reply[0]) == 0

    def decision(self, tenant: str, queue: str, reply: list[Any]) -> Decision:
        """Parse the decide script's ``{index, level, reason, probe}`` (remembered: replies repeat)."""
        queued = self._plan(tenant).queues[queue]
        seen = tuple(reply)
        found = queued.decided.get(seen)
        if found is None:
            index, level, reason, probe = reply
            found = replace(
                queued.routes[int(index) - 1],
                level=Level(int(level)),
                reason=Reason(_text(reason)),
                probe=bool(int(probe)),
            )
            queued.decided[seen] = found
        return found

    def trunk_order(self, tenant: str, queue: str) -> list[tuple[str, int, int]]:
        """The queue's trunks as ``(name, priority, weight)`` in the order tried; empty for an unknown queue."""
        queued = self._plan(tenant).queues.get(queue)
        return [(t.name, t.rank, t.weight) for t in queued.targets[: queued.n_trunks]] if queued else []

    # -- leases -------------------------------------------------------------

    def release(self, tenant: str, call_id: str) -> ScriptCall:
        return ScriptCall(Script.RELEASE, self._plan(tenant).keys, (call_id,))

    def renew(self, tenant: str, call_id: str) -> ScriptCall:
        return ScriptCall(Script.RENEW, self._plan(tenant).keys, (call_id, self.ttl_ms))

    def clear_node(self, tenant: str, node: str) -> ScriptCall:
        """Drop every lease ``node`` took (call at node start: its calls died with it)."""
        return ScriptCall(Script.SWEEP, self._plan(tenant).keys, (_BY_NODE, node, 0))

    def reconcile(self, tenant: str, pbx: str, live: set[str], grace_s: float) -> ScriptCall:
        """Drop ``pbx``'s leases older than ``grace_s`` whose call is not in ``live``."""
        return ScriptCall(
            Script.SWEEP, self._plan(tenant).keys, (_BY_PBX, pbx, int(grace_s * 1000), *sorted(live))
        )

    @staticmethod
    def dropped(reply: list[Any]) -> list[str]:
        """Parse the sweep script's list of dropped call ids."""
        return [_text(v) or "" for v in reply]

    # -- breaker ------------------------------------------------------------

    def report(self, tenant: str, trunk: str, outcome: Outcome, call_id: str | None = None) -> ScriptCall:
        """Record a dial outcome on ``trunk``'s breaker; raises ``UnknownName`` for a non-trunk."""
        found = self._plan(tenant).routing.trunk(trunk)
        if found is None:
            raise UnknownName(f"no trunk '{trunk}' for tenant '{tenant}'")
        policy = found.breaker
        args = (
            trunk,
            str(outcome),
            call_id or "",
            policy.failures,
            int(policy.window_s * 1000),
            int(policy.cooldown_s * 1000),
        )
        return ScriptCall(Script.BREAKER, (keys.route_targets(tenant),), args)

    # -- operators ----------------------------------------------------------

    def status(self, tenant: str) -> ScriptCall:
        return ScriptCall(Script.STATUS, self._plan(tenant).keys, ())

    def parse_status(self, tenant: str, reply: list[Any]) -> list[TargetStatus]:
        """Every target, trunks first; values Redis lacks are the config's (source config)."""
        out = []
        for i, target in enumerate(self._plan(tenant).targets):
            limit, limit_src, state, state_src, breaker, reopen_in, in_use = (
                _text(v) for v in reply[7 * i : 7 * i + 7]
            )
            capacity = target.limit if limit is None else int(limit)
            out.append(TargetStatus(
                target.name, target.kind, None if capacity == UNLIMITED else capacity, Source(limit_src or Source.CONFIG),
                TrunkState(state or target.state), Source(state_src or Source.CONFIG), Breaker(breaker or Breaker.CLOSED),
                None if reopen_in is None else int(reopen_in) / 1000, int(in_use or 0),
            ))  # fmt: skip
        return out

    def set_live(
        self, tenant: str, name: str, *, limit: int | None = None, state: TrunkState | None = None
    ) -> tuple[str, dict[str, str | int]]:
        """The targets hash and the fields of a live change to a trunk or diversion (applies to the next call).

        Raises ``UnknownName`` for a name that is not a trunk or diversion,
        ``RouterMisuse`` for a negative limit or an empty change.
        """
        target = self._plan(tenant).by_name.get(name)
        if target is None or target.kind is RouteKind.HARDPHONE:
            raise UnknownName(f"no trunk or diversion '{name}' for tenant '{tenant}'")
        if limit is None and state is None:
            raise RouterMisuse("give a limit, a state, or both")
        if limit is not None and limit < 0:
            raise RouterMisuse(f"limit must be 0 or more, not {limit}")
        fields: dict[str, str | int] = {}
        if limit is not None:
            fields |= {f"{name}:limit": limit, f"{name}:limit_src": str(Source.LIVE)}
        if state is not None:
            fields |= {f"{name}:state": str(state), f"{name}:state_src": str(Source.LIVE)}
        return keys.route_targets(tenant), fields

    def load(self, tenant: str, *, force: bool = False) -> ScriptCall:
        """Put the config's limits and states into Redis; see ``load.lua`` for deploy vs restart."""
        plan = self._plan(tenant)
        args: tuple[str | int, ...] = (plan.digest, int(force))
        for t in plan.targets:
            args += (t.name, t.limit, str(t.state), t.cooldown_ms)
        return ScriptCall(Script.LOAD, (keys.route_meta(tenant), keys.route_targets(tenant)), args)

    def stale_keys(self, tenant: str, reply: list[Any]) -> list[str]:
        """Lease sets of targets an earlier config had and this one dropped (parse of the load reply)."""
        dropped = (_text(reply[1]) or "").split(",")
        return [keys.route_leases(tenant, name) for name in dropped if name]
