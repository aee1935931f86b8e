"""Level 3: with Redis killed or hung, every call still gets a route within the routing timeout."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from router.aio import AsyncRouter
from router.decision import Decision, Reason
from router.model import Level, RouteKind
from router.sync import Router
from tests.conftest import free_port, start_redis_server
from tests.router.conftest import demo_config, trunk
from tests.timing import LoopStalls

TIMEOUT_S = 0.2
MARGIN_S = 0.1  # scheduling slack: the test machine has 2 cores shared with other suites


@pytest.fixture
def own_redis(redis_binary: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """A redis-server of this test's own, to kill or freeze."""
    port = free_port()
    proc = start_redis_server(redis_binary, port, str(tmp_path))
    yield proc, f"redis://127.0.0.1:{port}/0"
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
    proc.wait(timeout=5)


def test_fail_open_trunks_take_their_local_share_and_the_rest_goes_to_hard_phones(
    conf_dir: Path, tenant: str, redis_binary: str
) -> None:
    def closed_backup(routing: dict[str, Any]) -> None:
        trunk(routing, "backup")["degrade"] = {"mode": "closed"}

    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    router = Router.from_url(nowhere, demo_config(conf_dir, tenant, closed_backup), node="n")
    decisions = [router.decide(tenant, "billing", f"c{i}", pbx="ast-1") for i in range(60)]
    assert Counter(d.name for d in decisions) == {"primary": 50, "desk": 10}
    assert {(d.level, d.reason) for d in decisions} == {(Level.HARDPHONE, Reason.REDIS_DOWN)}
    assert decisions[-1].kind is RouteKind.HARDPHONE and decisions[0].dial == "PJSIP/4001@carrier-a"
    assert router.local.counts[Reason.REDIS_DOWN] == 60
    assert (
        router.release(tenant, "c0") is True
        and router.decide(tenant, "billing", "c60", pbx="ast-1").name == "primary"
    )


async def test_redis_killed_mid_flood_every_call_routed_within_the_timeout(
    conf_dir: Path, tenant: str, own_redis: tuple[subprocess.Popen, str]
) -> None:
    proc, url = own_redis
    router = AsyncRouter.from_url(
        url, demo_config(conf_dir, tenant, timeout_ms=int(TIMEOUT_S * 1000)), node="n"
    )
    await router.load()
    rng = random.Random(7)
    slots = asyncio.Semaphore(100)
    durations: list[float] = []
    decisions: list[Decision] = []

    async def call(i: int) -> None:
        async with slots:
            started = time.perf_counter()
            decision = await router.decide(tenant, "billing", f"k{i}", pbx="ast-1")
            durations.append(time.perf_counter() - started)
            decisions.append(decision)
            if len(decisions) == 300:
                proc.kill()
            await asyncio.sleep(rng.uniform(0, 0.02))
            await router.release(tenant, f"k{i}")

    with LoopStalls() as stalls:
        await asyncio.gather(*(call(i) for i in range(1000)))
    assert len(decisions) == 1000 and all(d.name for d in decisions)
    assert max(durations) <= stalls.bound(TIMEOUT_S + MARGIN_S), stalls.explain("the slowest decision", max(durations))
    by_reason = Counter(d.reason for d in decisions)
    assert by_reason[Reason.REDIS_DOWN] + by_reason[Reason.REDIS_TIMEOUT] >= 600
    assert all(d.level is Level.HARDPHONE for d in decisions[-600:])
    assert router.local.in_use(tenant, "primary", time.monotonic()) == 0, "local slots freed on hang-up too"
    await router.client.aclose()


async def test_hung_redis_costs_at_most_the_timeout_async(
    conf_dir: Path, tenant: str, own_redis: tuple[subprocess.Popen, str]
) -> None:
    proc, url = own_redis
    router = AsyncRouter.from_url(
        url, demo_config(conf_dir, tenant, timeout_ms=int(TIMEOUT_S * 1000)), node="n"
    )
    await router.decide(tenant, "billing", "warm", pbx="ast-1")
    os.kill(proc.pid, signal.SIGSTOP)

    async def timed(i: int) -> tuple[float, Decision]:
        started = time.perf_counter()
        decision = await router.decide(tenant, "billing", f"h{i}", pbx="ast-1")
        return time.perf_counter() - started, decision

    with LoopStalls() as stalls:
        results = await asyncio.gather(*(timed(i) for i in range(150)))
    slowest = max(t for t, _ in results)
    assert slowest <= stalls.bound(TIMEOUT_S + MARGIN_S), stalls.explain("the slowest decision", slowest)
    assert {d.reason for _, d in results} == {Reason.REDIS_TIMEOUT}
    os.kill(proc.pid, signal.SIGCONT)
    await router.client.aclose()


def test_hung_redis_costs_one_timeout_then_the_node_decides_locally_until_retry(
    conf_dir: Path, tenant: str, own_redis: tuple[subprocess.Popen, str]
) -> None:
    proc, url = own_redis
    config = demo_config(conf_dir, tenant, timeout_ms=int(TIMEOUT_S * 1000), redis_retry_ms=300)
    router = Router.from_url(url, config, node="n")
    assert router.decide(tenant, "billing", "before", pbx="ast-1").level is Level.NORMAL
    os.kill(proc.pid, signal.SIGSTOP)
    timings = []
    for call in ("stuck", "held-off"):
        started = time.perf_counter()
        decision = router.decide(tenant, "billing", call, pbx="ast-1")
        timings.append(time.perf_counter() - started)
        assert (decision.name, decision.reason) == ("primary", Reason.REDIS_TIMEOUT)
    assert TIMEOUT_S - 0.01 <= timings[0] <= TIMEOUT_S + MARGIN_S and timings[1] < 0.01
    os.kill(proc.pid, signal.SIGCONT)
    time.sleep(0.35)
    assert router.decide(tenant, "billing", "after", pbx="ast-1").reason is Reason.OK
    assert router.release(tenant, "stuck") is True, "the late lease Redis took for it is released too"
    assert {s.name: s.in_use for s in router.status(tenant)}["primary"] == 2
    router.client.close()
