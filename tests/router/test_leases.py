"""Leases, not counters: released once, lapse after the TTL, renewed while the call lives, reconciled."""

from __future__ import annotations

import time
from pathlib import Path

import redis

from router.model import RoutingConfig, Source, TrunkState
from router.sync import Router
from tests.router.conftest import demo_config, lease_count


def in_use(router: Router, tenant: str, name: str) -> int:
    return next(s.in_use for s in router.status(tenant) if s.name == name)


def test_release_frees_the_slot_and_is_idempotent(
    router: Router, tenant: str, sync_redis: redis.Redis
) -> None:
    router.decide(tenant, "billing", "c1", pbx="ast-1")
    assert in_use(router, tenant, "primary") == 1
    assert router.release(tenant, "c1") is True
    assert router.release(tenant, "c1") is False
    assert router.release(tenant, "never-routed") is False
    assert lease_count(sync_redis, tenant) == 0


def test_a_lost_hangup_lapses_after_the_ttl(
    conf_dir: Path, tenant: str, redis_url: str, sync_redis: redis.Redis
) -> None:
    router = Router.from_url(redis_url, demo_config(conf_dir, tenant, lease_ttl_s=0.3), node="n")
    router.decide(tenant, "billing", "lost", pbx="ast-1")
    assert in_use(router, tenant, "primary") == 1
    time.sleep(0.4)
    assert in_use(router, tenant, "primary") == 0, "status counts only unexpired leases"
    router.decide(tenant, "billing", "next", pbx="ast-1")  # a decision purges the lapsed lease for good
    assert sync_redis.hkeys(f"hotline:{{{tenant}}}:route:calls") == [b"next"]
    assert router.renew(tenant, "lost") is False


def test_renewal_keeps_a_long_call_past_the_ttl(conf_dir: Path, tenant: str, redis_url: str) -> None:
    router = Router.from_url(redis_url, demo_config(conf_dir, tenant, lease_ttl_s=0.5), node="n")
    router.decide(tenant, "billing", "long", pbx="ast-1")
    for _ in range(4):
        time.sleep(0.2)
        assert router.renew(tenant, "long") is True
    assert in_use(router, tenant, "primary") == 1


def test_reconciler_drops_leases_the_pbx_no_longer_has(router: Router, tenant: str) -> None:
    for call in ("live", "gone"):
        router.decide(tenant, "billing", call, pbx="ast-1")
    router.decide(tenant, "billing", "on-other-pbx", pbx="fs-1")
    assert router.reconcile(tenant, "ast-1", {"live"}, grace_s=5) == [], "young leases are kept"
    time.sleep(0.05)
    assert router.reconcile(tenant, "ast-1", {"live"}, grace_s=0.01) == ["gone"]
    assert in_use(router, tenant, "primary") == 2
    assert router.release(tenant, "gone") is False


def test_a_restarted_node_clears_only_its_own_leases(
    redis_url: str, config: RoutingConfig, tenant: str
) -> None:
    a, b = (Router.from_url(redis_url, config, node=n) for n in ("node-a", "node-b"))
    a.decide(tenant, "billing", "a1", pbx="ast-1")
    a.decide(tenant, "billing", "a2", pbx="ast-1")
    b.decide(tenant, "billing", "b1", pbx="ast-1")
    restarted = Router.from_url(redis_url, config, node="node-a")
    restarted.load()
    assert in_use(restarted, tenant, "primary") == 1
    assert b.release(tenant, "b1") is True


def test_live_change_wins_until_the_next_deploy(conf_dir: Path, tenant: str, redis_url: str) -> None:
    router = Router.from_url(redis_url, demo_config(conf_dir, tenant), node="n")
    assert router.load() == [tenant]
    router.set_live(tenant, "primary", limit=7, state=TrunkState.DRAIN)
    restarted = Router.from_url(redis_url, demo_config(conf_dir, tenant), node="n")
    assert restarted.load() == [], "same config: a restart keeps the live change"
    primary = restarted.status(tenant)[0]
    assert (primary.capacity, primary.capacity_source, primary.state, primary.state_source) == (
        7,
        Source.LIVE,
        TrunkState.DRAIN,
        Source.LIVE,
    )

    for name in ("backup", "keypad", "speechbot"):
        router.set_live(tenant, name, state=TrunkState.DOWN)
    assert router.decide(tenant, "general", "chatting", pbx="ast-1").name == "chat"

    def bigger(routing: dict) -> None:
        routing["trunks"][0]["capacity"] = 120
        routing["diversions"].pop()  # and a target is gone: its state and leases go too

    deployed = Router.from_url(redis_url, demo_config(conf_dir, tenant, bigger), node="n")
    assert deployed.load() == [tenant]
    primary = deployed.status(tenant)[0]
    assert (primary.capacity, primary.capacity_source, primary.state, primary.state_source) == (
        120,
        Source.CONFIG,
        TrunkState.UP,
        Source.CONFIG,
    )
    assert [s.name for s in deployed.status(tenant)] == ["primary", "backup", "keypad", "speechbot", "desk"]
    assert not deployed.client.exists(f"hotline:{{{tenant}}}:route:leases:chat")
    assert not [
        f for f in deployed.client.hkeys(f"hotline:{{{tenant}}}:route:targets") if f.startswith(b"chat:")
    ]
