"""One decision: trunk by priority and weight, overflow, diversion by level, hard phones last."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import redis

from ivr.commands import RouteDecision
from ivr.commands import RouteKind as IvrRouteKind
from router.decision import Decision, Reason
from router.model import Level, RouteKind, Source, TrunkState
from router.sync import Router
from tests.router.conftest import demo_config, trunk


def route_many(
    router: Router, tenant: str, n: int, queue: str = "billing", prefix: str = "c"
) -> list[Decision]:
    return [router.decide(tenant, queue, f"{prefix}{i}", pbx="ast-1") for i in range(n)]


def names(decisions: list[Decision]) -> Counter[str]:
    return Counter(d.name for d in decisions)


def test_primary_then_backup_then_diversions_by_level(router: Router, tenant: str) -> None:
    decisions = route_many(router, tenant, 205)
    assert names(decisions) == {"primary": 100, "backup": 50, "keypad": 30, "speechbot": 20, "chat": 5}
    first, overflow, diverted = decisions[0], decisions[100], decisions[150]
    assert first == Decision(
        RouteKind.TRUNK, "primary", "PJSIP/4001@carrier-a", None, Level.NORMAL, Reason.OK
    )
    assert overflow == Decision(
        RouteKind.TRUNK, "backup", "sofia/gateway/carrier_b/4001", None, Level.THRESHOLD, Reason.OVERFLOW
    )
    assert diverted == Decision(
        RouteKind.DIVERSION, "keypad", None, "selfservice", Level.THRESHOLD, Reason.NO_TRUNK
    )


def test_hard_phones_when_trunks_and_diversions_are_full(conf_dir: Path, tenant: str, redis_url: str) -> None:
    def small(routing: dict[str, Any]) -> None:
        trunk(routing, "primary")["capacity"], trunk(routing, "backup")["capacity"] = 1, 1
        routing["diversions"] = [
            {"name": "keypad", "kind": "menu", "target": "selfservice", "level": 1, "capacity": 1}
        ]

    router = Router.from_url(redis_url, demo_config(conf_dir, tenant, small), node="n")
    last = route_many(router, tenant, 4)[-1]
    assert last == Decision(
        RouteKind.HARDPHONE,
        "desk",
        "PJSIP/6001&PJSIP/6002&PJSIP/6003",
        None,
        Level.HARDPHONE,
        Reason.ALL_FULL,
    )


def test_down_and_draining_trunks_take_no_new_calls(router: Router, tenant: str) -> None:
    held = router.decide(tenant, "general", "old", pbx="ast-1")
    router.set_live(tenant, "primary", state=TrunkState.DRAIN)
    router.set_live(tenant, "backup", state=TrunkState.DOWN)
    assert router.decide(tenant, "general", "new", pbx="ast-1").name == "keypad"
    assert held.name == "primary" and router.renew(tenant, "old"), "a draining trunk keeps its live calls"
    assert router.release(tenant, "old")


def test_weights_share_a_priority_tier(conf_dir: Path, tenant: str, redis_url: str) -> None:
    def tier(routing: dict[str, Any]) -> None:
        trunk(routing, "primary")["weight"] = 3
        trunk(routing, "backup")["priority"] = 1

    router = Router.from_url(redis_url, demo_config(conf_dir, tenant, tier), node="n")
    assert names(route_many(router, tenant, 40)) == {"primary": 30, "backup": 10}


def test_a_queue_may_reorder_the_trunks(conf_dir: Path, tenant: str, redis_url: str) -> None:
    def reverse(routing: dict[str, Any]) -> None:
        routing["queues"][0]["trunks"] = [{"trunk": "primary", "priority": 5}, "backup"]

    router = Router.from_url(redis_url, demo_config(conf_dir, tenant, reverse), node="n")
    assert [d.name for d in route_many(router, tenant, 51)][-2:] == ["backup", "primary"]
    assert router.decide(tenant, "general", "other-queue", pbx="ast-1").name == "primary"


def test_asking_again_for_the_same_call_gives_the_same_route_without_a_second_lease(
    router: Router, tenant: str
) -> None:
    first = router.decide(tenant, "billing", "same", pbx="ast-1")
    again = router.decide(tenant, "billing", "same", pbx="ast-1")
    assert (again.name, again.reason) == (first.name, Reason.REPEAT)
    assert next(s.in_use for s in router.status(tenant) if s.name == "primary") == 1


def test_unknown_queue_goes_to_the_hard_phones(router: Router, tenant: str) -> None:
    decision = router.decide(tenant, "no-such-queue", "c1", pbx="ast-1")
    assert (decision.kind, decision.name, decision.level, decision.reason) == (
        RouteKind.HARDPHONE,
        "desk",
        Level.HARDPHONE,
        Reason.UNKNOWN_QUEUE,
    )


def test_a_router_reloads_the_config_if_redis_lost_it(
    router: Router, tenant: str, sync_redis: redis.Redis
) -> None:
    router.set_live(tenant, "primary", limit=1)
    sync_redis.delete(f"hotline:{{{tenant}}}:route:targets")  # e.g. Redis restarted without persistence
    assert names(route_many(router, tenant, 151)) == {"primary": 100, "backup": 50, "keypad": 1}
    assert router.status(tenant)[0].capacity_source is Source.CONFIG


def test_decision_converts_to_the_ivr_route_decision(router: Router, tenant: str) -> None:
    d = router.decide(tenant, "billing", "c1", pbx="ast-1")
    converted = RouteDecision(
        kind=IvrRouteKind(d.kind), name=d.name, dial=d.dial, target=d.target, elapsed_ms=12
    )
    assert converted == RouteDecision(
        IvrRouteKind.TRUNK, "primary", "PJSIP/4001@carrier-a", None, elapsed_ms=12
    )
    assert {k.value for k in RouteKind} == {k.value for k in IvrRouteKind}
