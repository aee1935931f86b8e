"""Router benchmark: decisions/s, latency and round trips per decision, Lua router vs a naive GET/INCR/DECR one.

Usage (from the repository root; ``python bench/router.py`` would put bench/ first on the path, where this
very file hides the ``router`` package):

    python -m bench.router [--calls 20000] [--url redis://...] [--no-cluster]

Without ``--url`` it starts its own redis-server on a free loopback port, so the Redis CPU it reports is the
bench's alone. Every call is a decision followed by its release (a hang-up), against the shipped demo routing
under a throw-away tenant; calls are held 200 at a time, so each batch fills primary 100, backup 50, keypad
30, speechbot 20 (overflow and diversion paths included). Modes:

* sequential: one call at a time on a blocking client; wall latency of each decision (p50/p99), and round
  trips per decision counted by a connection that counts its writes (one write = one round trip when not
  pipelined) and by the server's EVALSHA count;
* pipelined: the same EVALSHA calls, built by ``Planner`` as ``Router.decide`` builds them, sent 200 per
  pipeline from one thread; wall decisions/s, plus the client's and redis-server's CPU time per decision,
  which say what the rate is on a machine whose two cores are not shared with anything else;
* asyncio: ``AsyncRouter.decide`` from 64 concurrent tasks;
* cluster: sequential and pipelined against a local 3-master Redis Cluster, the tenant's keys all in one slot
  (a cluster client refuses to pipeline EVALSHA, so pipelines go to the node owning the slot).

The naive router keeps a counter per target: GET the limit, INCR, and DECR again when over (then the next
target); no leases, so a lost hang-up leaks a slot for ever. Bounded: --calls decisions per mode.
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
SERVER = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]


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


def report(
    name: str, calls: int, seconds: float, latencies: list[int] | None = None, extra: str = ""
) -> None:
    line = f"{name:<34} {calls / seconds:>8,.0f} decisions/s"
    if latencies:
        cuts = statistics.quantiles(latencies, n=100)
        line += f"  p50 {cuts[49] / 1000:6.0f} µs  p99 {cuts[98] / 1000:6.0f} µs"
    print(line + extra, flush=True)


def redis_cpu(client: Any) -> float:
    """redis-server's CPU seconds so far (user + system)."""
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


# -- the Lua router ------------------------------------------------------------


def sequential(router: Router, tenant: str, calls: int) -> list[int]:
    """Decide and release ``calls`` calls one at a time, 200 held at once; returns each decision's ns."""
    latencies = []
    for start in range(0, calls, BATCH):
        ids = [f"s{start + i}" for i in range(BATCH)]
        for call_id in ids:
            t0 = time.perf_counter_ns()
            router.decide(tenant, "billing", call_id, pbx="bench")
            latencies.append(time.perf_counter_ns() - t0)
        for call_id in ids:
            router.release(tenant, call_id)
    return latencies


def pipelined(router: Router, client: Any, tenant: str, calls: int) -> tuple[float, float, float]:
    """Wall, client CPU and redis-server CPU seconds spent deciding ``calls`` calls, 200 per pipeline
    (releases, also pipelined, run between batches and are not counted)."""
    shas = {s: router._scripts[s].sha for s in (Script.DECIDE, Script.RELEASE)}
    wall = cpu = server = 0.0
    for start in range(0, calls, BATCH):
        ids = [f"p{start + i}" for i in range(BATCH)]
        server -= redis_cpu(client)
        t0, c0 = time.perf_counter(), time.process_time()
        pipe = client.pipeline(transaction=False)
        for call_id in ids:
            call = router.planner.decide(tenant, "billing", call_id, node=router.node, pbx="bench")
            pipe.evalsha(shas[Script.DECIDE], len(call.keys), *call.keys, *call.args)
        decisions = [router.planner.decision(tenant, "billing", reply) for reply in pipe.execute()]
        wall, cpu = wall + time.perf_counter() - t0, cpu + time.process_time() - c0
        server += redis_cpu(client)
        assert len(decisions) == BATCH
        pipe = client.pipeline(transaction=False)
        for call_id in ids:
            call = router.planner.release(tenant, call_id)
            pipe.evalsha(shas[Script.RELEASE], len(call.keys), *call.keys, *call.args)
        pipe.execute()
    return wall, cpu, server


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


def run_router(
    name: str, client: Any, config: RoutingConfig, tenant: str, calls: int, pipe_client: Any = None
) -> None:
    """Sequential and pipelined runs of the Lua router; ``pipe_client`` is the client to pipeline on."""
    router = Router(client, config, node="bench")
    router.load()
    router.decide(
        tenant, "billing", "warm-up", pbx="bench"
    )  # loads the script: EVALSHA, NOSCRIPT, LOAD, once
    router.release(tenant, "warm-up")
    writes, evalsha = CountingConnection.writes, evalsha_calls(client)
    latencies = sequential(router, tenant, calls)
    trips = (CountingConnection.writes - writes) / (2 * calls)  # a decision and a release per call
    per_op = (evalsha_calls(client) - evalsha) / (2 * calls)
    counted = f"  {trips:.2f} round trips" if trips else ""
    report(
        f"{name}: lua, sequential", calls, sum(latencies) / 1e9, latencies, f"{counted}  {per_op:.2f} EVALSHA"
    )
    wall, cpu, server = pipelined(router, pipe_client or client, tenant, calls)
    per = f"client CPU {cpu / calls * 1e6:.1f} µs + redis CPU {server / calls * 1e6:.1f} µs per decision"
    report(
        f"{name}: lua, pipelined x{BATCH}", calls, wall, extra=f"  ({per}: {calls / (cpu + server):,.0f}/s)"
    )


def evalsha_calls(client: Any) -> int:
    if isinstance(client, RedisCluster):
        stats = client.info("commandstats", target_nodes=RedisCluster.ALL_NODES)
        return sum(node.get("cmdstat_evalsha", {}).get("calls", 0) for node in stats.values())
    return client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)


# -- the naive router ----------------------------------------------------------


def naive_order(config: RoutingConfig, tenant: str) -> list[tuple[str, int]]:
    routing = config.tenants[tenant]
    unlimited = 10**9
    diversions = [
        (d.name, unlimited if d.capacity is None else d.capacity) for d in routing.diversions_by_level()
    ]
    return [(t.name, t.capacity) for t in routing.trunks] + diversions


def naive_sequential(client: redis.Redis, config: RoutingConfig, tenant: str, calls: int) -> list[int]:
    """GET the limit, INCR, DECR back when over: 2 round trips on the first target, 3 more per overflow."""
    order = naive_order(config, tenant)
    for name, capacity in order:
        client.set(f"naive:{{{tenant}}}:{name}:limit", capacity)

    def decide() -> str:
        for name, _ in order:
            key = f"naive:{{{tenant}}}:{name}"
            if client.incr(key) <= int(client.get(key + ":limit")):
                return name
            client.decr(key)
        return "desk"

    latencies = []
    for _ in range(0, calls, BATCH):
        held = []
        for _ in range(BATCH):
            t0 = time.perf_counter_ns()
            held.append(decide())
            latencies.append(time.perf_counter_ns() - t0)
        for name in held:
            if name != "desk":
                client.decr(f"naive:{{{tenant}}}:{name}")
    return latencies


async def naive_concurrent(
    url: str, config: RoutingConfig, tenant: str, calls: int, tasks: int = 64
) -> tuple[float, list[int]]:
    client = aioredis.Redis.from_pool(aioredis.BlockingConnectionPool.from_url(url, max_connections=tasks))
    order = naive_order(config, tenant)
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


def run_naive(client: redis.Redis, url: str, config: RoutingConfig, tenant: str, calls: int) -> None:
    writes = CountingConnection.writes
    latencies = naive_sequential(client, config, tenant, calls)
    trips = (CountingConnection.writes - writes - calls) / calls  # minus the DECR of each release
    report("local: naive, sequential", calls, sum(latencies) / 1e9, latencies, f"  {trips:.2f} round trips")
    elapsed, latencies = asyncio.run(naive_concurrent(url, config, tenant, calls))
    report("local: naive, asyncio x64 tasks", calls, elapsed, latencies)


# -- servers -------------------------------------------------------------------


def loopback_port() -> int:
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


def wait_until(ready: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.1)


def answers(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port, socket_connect_timeout=0.2).ping())
    except redis.RedisError:
        return False


@contextmanager
def redis_servers(binary: str, count: int, *extra: str) -> Iterator[list[int]]:
    """``count`` throw-away redis-servers on loopback for the duration of the block; yields their ports."""
    workdir = tempfile.mkdtemp(prefix="hotline-bench-redis-")
    ports = [loopback_port() for _ in range(count)]
    procs = [
        subprocess.Popen(
            [binary, "--port", str(p), "--dir", workdir, *SERVER, *(e.format(port=p) for e in extra)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for p in ports
    ]
    try:
        wait_until(lambda: all(answers(p) for p in ports))
        yield ports
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def local_cluster(binary: str, cli: str) -> Iterator[RedisCluster | None]:
    """A 3-master Redis Cluster on loopback for the duration of the block, or None if it cannot start."""
    with redis_servers(
        binary, 3, "--cluster-enabled", "yes", "--cluster-config-file", "nodes-{port}.conf"
    ) as ports:
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


# -- main ----------------------------------------------------------------------


def run_local(url: str, calls: int) -> None:
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    config = bench_config(tenant)
    client = redis.Redis(
        connection_pool=redis.ConnectionPool(
            connection_class=CountingConnection, **redis.connection.parse_url(url)
        )
    )
    print(f"redis {client.info('server')['redis_version']} at {url}; {calls} calls per mode, tenant {tenant}")
    try:
        run_router("local", client, config, tenant, calls)
        elapsed, latencies = asyncio.run(concurrent(url, config, tenant, calls))
        report("local: lua, asyncio x64 tasks", calls, elapsed, latencies)
        run_naive(client, url, config, tenant, calls)
    finally:
        for pattern in (f"hotline:{{{tenant}}}:*", f"naive:{{{tenant}}}:*"):
            for key in list(client.scan_iter(match=pattern)):
                client.delete(key)
        client.close()


def run_cluster(binary: str, cli: str, calls: int) -> None:
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    with local_cluster(binary, cli) as cluster:
        if cluster is not None:
            owner = cluster.get_node_from_key("{" + tenant + "}")
            print(
                f"cluster: 3 masters; the tenant's slot {cluster.keyslot('{' + tenant + '}')} is on {owner.name}"
            )
            run_router(
                "cluster", cluster, bench_config(tenant), tenant, calls, cluster.get_redis_connection(owner)
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", default=None, help="use this Redis instead of starting one")
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--no-cluster", action="store_true")
    args = parser.parse_args()
    calls = max(BATCH, args.calls // BATCH * BATCH)
    binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if args.url:
        run_local(args.url, calls)
    elif binary:
        with redis_servers(binary, 1) as [port]:
            run_local(f"redis://127.0.0.1:{port}/0", calls)
    else:
        raise SystemExit("no redis-server on PATH: give --url")
    if args.no_cluster or not binary or not cli:
        print("cluster: skipped" + ("" if args.no_cluster else " (redis-server or redis-cli not on PATH)"))
        return
    run_cluster(binary, cli, calls)


if __name__ == "__main__":
    main()
