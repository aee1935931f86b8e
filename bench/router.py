"""Router benchmark: decisions/s, latency and round trips per decision, Lua router vs a naive GET/INCR/DECR one.

Usage: python -m bench.router [--url redis://127.0.0.1:6379/0] [--calls 20000] [--no-cluster]
(from the repository root; ``python bench/router.py`` would put bench/ first on
the path, where this very file hides the ``router`` package).

Every call is a decision followed by its release (a hang-up), against the
shipped demo routing under a throw-away tenant, so the mix includes overflow
to the backup and diversions (a batch of 200 calls fills primary 100, backup
50, keypad 30, speechbot 20). Modes:

* sequential: one call at a time on a blocking client; latency of each
  decision (p50/p99) and round trips per decision, counted by a connection
  that counts its writes (one write = one round trip when not pipelined);
* pipelined: the same EVALSHA calls sent 200 at a time (``Planner`` builds
  them, as ``Router.decide`` does) -- throughput from one process; also from
  two threads of the process pipelining at once, so packing overlaps Redis;
* asyncio: ``AsyncRouter.decide`` from 64 concurrent tasks;
* cluster: sequential and pipelined against a local 3-node Redis Cluster, all
  keys in the tenant's one slot (started and stopped here, loopback only).

The naive router keeps a counter per target: GET the limit, INCR, and DECR
again when over (then the next target); no leases, so a lost hang-up leaks
a slot for ever. Bounded: at most --calls decisions per mode.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.cluster import RedisCluster

from router.aio import AsyncRouter
from router.check import load_routing_config
from router.model import RoutingConfig
from router.plan import Script
from router.sync import Router

REPO = Path(__file__).resolve().parent.parent
BATCH = 200


class CountingConnection(redis.Connection):
    """A connection that counts its writes: each is one round trip when commands are not pipelined."""

    writes = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.writes += 1
        super().send_packed_command(command, check_health)


def bench_config(tenant: str) -> RoutingConfig:
    data = load_routing_config(REPO / "conf").model_dump(mode="json")
    data["tenants"] = {tenant: data["tenants"]["demo"]}
    return RoutingConfig.model_validate(data)


def percentiles(samples_ns: list[int]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples_ns, n=100)
    return cuts[49] / 1000, cuts[98] / 1000


def report(
    name: str, calls: int, seconds: float, latencies: list[int] | None = None, trips: float | None = None
) -> None:
    line = f"{name:<38} {calls / seconds:>9,.0f} decisions/s"
    if latencies:
        p50, p99 = percentiles(latencies)
        line += f"   p50 {p50:7.1f} µs   p99 {p99:7.1f} µs"
    if trips is not None:
        line += f"   {trips:.2f} round trips/decision"
    print(line, flush=True)


# -- the Lua router ------------------------------------------------------------


def sequential(router: Router, tenant: str, calls: int) -> tuple[float, list[int]]:
    """Decide and release ``calls`` calls one at a time, in batches of 200 held at once; decisions timed."""
    latencies, busy = [], 0.0
    for start in range(0, calls, BATCH):
        ids = [f"s{start + i}" for i in range(BATCH)]
        for call_id in ids:
            t0 = time.perf_counter_ns()
            router.decide(tenant, "billing", call_id, pbx="bench")
            latencies.append(time.perf_counter_ns() - t0)
        for call_id in ids:
            router.release(tenant, call_id)
    busy = sum(latencies) / 1e9
    return busy, latencies


def pipelined(router: Router, client: Any, tenant: str, calls: int, prefix: str = "p") -> tuple[float, float]:
    """Seconds spent deciding ``calls`` calls 200 per pipeline, and seconds for the whole cycle with releases."""
    shas = {s: router._scripts[s].sha for s in (Script.DECIDE, Script.RELEASE)}
    deciding, started = 0.0, time.perf_counter()
    for start in range(0, calls, BATCH):
        ids = [f"{prefix}{start + i}" for i in range(BATCH)]
        t0 = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        for call_id in ids:
            call = router.planner.decide(tenant, "billing", call_id, node=router.node, pbx="bench")
            pipe.evalsha(shas[Script.DECIDE], len(call.keys), *call.keys, *call.args)
        decisions = [router.planner.decision(tenant, "billing", reply) for reply in pipe.execute()]
        deciding += time.perf_counter() - t0
        assert len(decisions) == BATCH
        pipe = client.pipeline(transaction=False)
        for call_id in ids:
            call = router.planner.release(tenant, call_id)
            pipe.evalsha(shas[Script.RELEASE], len(call.keys), *call.keys, *call.args)
        pipe.execute()
    return deciding, time.perf_counter() - started


def pipelined_threads(router: Router, client: Any, tenant: str, calls: int, threads: int = 2) -> float:
    """Wall seconds for ``threads`` threads pipelining ``calls`` calls between them: while Redis runs one
    thread's batch, the other packs its next (the GIL is released while a thread waits on the socket)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for done in [
            pool.submit(pipelined, router, client, tenant, calls // threads, f"t{n}-") for n in range(threads)
        ]:
            done.result()
    return time.perf_counter() - started


async def concurrent(
    url: str, config: RoutingConfig, tenant: str, calls: int, tasks: int = 64
) -> tuple[float, list[int]]:
    router = AsyncRouter.from_url(url, config.model_copy(update={"timeout_ms": 5000}), node="bench")
    latencies: list[int] = []

    async def worker(w: int) -> None:
        for i in range(w, calls, tasks):
            t0 = time.perf_counter_ns()
            await router.decide(tenant, "billing", f"a{i}", pbx="bench")
            latencies.append(time.perf_counter_ns() - t0)
            await router.release(tenant, f"a{i}")

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(tasks)))
    elapsed = time.perf_counter() - started
    await router.client.aclose()
    return elapsed, latencies


# -- the naive router ----------------------------------------------------------


class Naive:
    """GET the limit, INCR the count, DECR it back when over: 2 round trips on the first target, 3 more per overflow."""

    def __init__(self, client: Any, tenant: str, config: RoutingConfig) -> None:
        routing = config.tenants[tenant]
        self.client = client
        self.order = [(t.name, t.capacity) for t in routing.trunks]
        self.order += [
            (d.name, d.capacity if d.capacity is not None else 10**9) for d in routing.diversions_by_level()
        ]
        self.key = {name: f"naive:{{{tenant}}}:{name}" for name, _ in self.order}
        for name, capacity in self.order:
            client.set(self.key[name] + ":limit", capacity)

    def decide(self) -> str:
        for name, _ in self.order:
            limit = int(self.client.get(self.key[name] + ":limit"))
            if self.client.incr(self.key[name]) <= limit:
                return name
            self.client.decr(self.key[name])
        return "desk"

    def release(self, name: str) -> None:
        if name != "desk":
            self.client.decr(self.key[name])


def naive_sequential(naive: Naive, calls: int) -> list[int]:
    latencies = []
    for _ in range(0, calls, BATCH):
        held = []
        for _ in range(BATCH):
            t0 = time.perf_counter_ns()
            held.append(naive.decide())
            latencies.append(time.perf_counter_ns() - t0)
        for name in held:
            naive.release(name)
    return latencies


async def naive_concurrent(
    url: str, tenant: str, config: RoutingConfig, calls: int, tasks: int = 64
) -> tuple[float, list[int]]:
    client = aioredis.Redis.from_pool(aioredis.BlockingConnectionPool.from_url(url, max_connections=tasks))
    routing = config.tenants[tenant]
    order = [(t.name, t.capacity) for t in routing.trunks] + [
        (d.name, d.capacity or 10**9) for d in routing.diversions_by_level()
    ]
    for name, capacity in order:
        await client.set(f"naive:{{{tenant}}}:{name}:limit", capacity)
    latencies: list[int] = []

    async def decide() -> str:
        for name, _ in order:
            key = f"naive:{{{tenant}}}:{name}"
            if await client.incr(key) <= int(await client.get(key + ":limit")):
                return name
            await client.decr(key)
        return "desk"

    async def worker(w: int) -> None:
        for _ in range(w, calls, tasks):
            t0 = time.perf_counter_ns()
            name = await decide()
            latencies.append(time.perf_counter_ns() - t0)
            if name != "desk":
                await client.decr(f"naive:{{{tenant}}}:{name}")

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(tasks)))
    elapsed = time.perf_counter() - started
    await client.aclose()
    return elapsed, latencies


# -- runs ----------------------------------------------------------------------


def evalsha_calls(client: Any) -> int:
    if isinstance(client, RedisCluster):
        stats = client.info("commandstats", target_nodes=RedisCluster.ALL_NODES)
        return sum(node.get("cmdstat_evalsha", {}).get("calls", 0) for node in stats.values())
    return client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)


def run_router(
    name: str,
    client: Any,
    config: RoutingConfig,
    tenant: str,
    calls: int,
    count_writes: Callable[[], int] | None,
    pipe_client: Any = None,
) -> None:
    """All modes of the Lua router; ``pipe_client`` pipelines (a cluster client refuses to pipeline EVALSHA,
    so for a cluster it is a plain client of the node that owns the tenant's slot)."""
    pipe_client = pipe_client or client
    router = Router(client, config, node="bench")
    router.load()
    router.decide(
        tenant, "billing", "warm-up", pbx="bench"
    )  # loads the scripts (EVALSHA → NOSCRIPT → LOAD once)
    router.release(tenant, "warm-up")
    writes, evalsha = count_writes() if count_writes else 0, evalsha_calls(client)
    busy, latencies = sequential(router, tenant, calls)
    trips = (count_writes() - writes) / (2 * calls) if count_writes else None  # decide + release, one each
    per_call = (evalsha_calls(client) - evalsha) / (2 * calls)
    report(f"{name}: lua, sequential", calls, busy, latencies, trips)
    print(f"{'':<38} server: {per_call:.2f} EVALSHA per decision and per release, nothing else")
    deciding, cycle = pipelined(router, pipe_client, tenant, calls)
    report(f"{name}: lua, pipelined x{BATCH}", calls, deciding)
    report(f"{name}: lua, pipelined x{BATCH} incl. release", calls, cycle)
    report(
        f"{name}: lua, 2 threads pipelining, incl. release",
        calls,
        pipelined_threads(router, pipe_client, tenant, calls),
    )


def run_naive(
    name: str, client: Any, config: RoutingConfig, tenant: str, calls: int, count_writes: Callable[[], int]
) -> None:
    naive = Naive(client, tenant, config)
    writes = count_writes()
    latencies = naive_sequential(naive, calls)
    decides = count_writes() - writes - calls  # minus one DECR per release
    report(f"{name}: naive, sequential", calls, sum(latencies) / 1e9, latencies, decides / calls)


def cluster_port() -> int:
    """A free loopback port whose cluster bus port (port + 10000) is free and valid too."""
    while True:
        port = random.randint(20_000, 50_000)
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
        return port


def answers(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port, socket_connect_timeout=0.2).ping())
    except redis.RedisError:
        return False


@contextmanager
def local_cluster(binary: str, cli: str) -> Iterator[RedisCluster | None]:
    """A 3-master Redis Cluster on loopback for the duration of the block, or None if it cannot start."""
    workdir = tempfile.mkdtemp(prefix="hotline-bench-cluster-")
    ports = [cluster_port() for _ in range(3)]
    server = ["--bind", "127.0.0.1", "--cluster-enabled", "yes", "--save", "", "--appendonly", "no"]
    procs = [
        subprocess.Popen(
            [binary, "--port", str(p), "--cluster-config-file", f"nodes-{p}.conf", "--dir", workdir, *server],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for p in ports
    ]
    try:
        wait_until(lambda: all(answers(p) for p in ports))
        create = [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports), "--cluster-replicas", "0"]
        created = subprocess.run(
            [*create, "--cluster-yes"], capture_output=True, text=True, timeout=30, check=False
        )
        if created.returncode != 0:
            print(f"cluster: could not create: {created.stdout[-300:]} {created.stderr[-300:]}")
            yield None
            return
        info = [cli, "-p", str(ports[0]), "cluster", "info"]
        wait_until(
            lambda: (
                "cluster_state:ok" in subprocess.run(info, capture_output=True, text=True, check=False).stdout
            )
        )
        client = RedisCluster(host="127.0.0.1", port=ports[0])
        try:
            yield client
        finally:
            client.close()
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def wait_until(ready: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.1)


def drop(client: Any, tenant: str) -> None:
    for pattern in (f"hotline:{{{tenant}}}:*", f"naive:{{{tenant}}}:*"):
        for key in list(client.scan_iter(match=pattern)):
            client.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--no-cluster", action="store_true")
    args = parser.parse_args()
    calls = max(BATCH, args.calls // BATCH * BATCH)
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    config = bench_config(tenant)
    kwargs = redis.connection.parse_url(args.url)
    client = redis.Redis(connection_pool=redis.ConnectionPool(connection_class=CountingConnection, **kwargs))
    server = client.info("server")
    print(f"redis {server['redis_version']} at {args.url}; {calls} calls per mode, tenant {tenant}")
    try:
        run_router("local", client, config, tenant, calls, lambda: CountingConnection.writes)
        run_naive("local", client, config, tenant, calls, lambda: CountingConnection.writes)
        elapsed, latencies = asyncio.run(concurrent(args.url, config, tenant, calls))
        report("local: lua, asyncio x64 tasks", calls, elapsed, latencies)
        elapsed, latencies = asyncio.run(naive_concurrent(args.url, tenant, config, calls))
        report("local: naive, asyncio x64 tasks", calls, elapsed, latencies)
    finally:
        drop(client, tenant)
        client.close()
    binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if args.no_cluster or not binary or not cli:
        print("cluster: skipped" + ("" if args.no_cluster else " (redis-server/redis-cli not found)"))
        return
    with local_cluster(binary, cli) as cluster:
        if cluster is not None:
            owner = cluster.get_node_from_key("{" + tenant + "}")
            print(
                f"cluster: 3 masters; the tenant's slot {cluster.keyslot('{' + tenant + '}')} on {owner.name}"
            )
            run_router("cluster", cluster, config, tenant, calls, None, cluster.get_redis_connection(owner))


if __name__ == "__main__":
    main()
