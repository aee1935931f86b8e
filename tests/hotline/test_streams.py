import asyncio
import time
from functools import partial

import pytest
import redis.asyncio as aioredis
import structlog

from hotline.keys import tenant_key
from hotline.streams import Entry, StreamConsumer, ensure_group
from hotline.workers import background


@pytest.fixture
def stream(tenant: str) -> str:
    return tenant_key(tenant, "test-stream")


def consumer(redis, stream: str, name: str, **kw) -> StreamConsumer:  # noqa: ANN001
    return StreamConsumer(redis, stream, "workers", name, block_ms=50, **kw)


async def test_group_creation_is_idempotent(async_redis, stream: str) -> None:
    await ensure_group(async_redis, stream, "workers")
    await ensure_group(async_redis, stream, "workers")
    groups = await async_redis.xinfo_groups(stream)
    assert [g["name"] for g in groups] == [b"workers"]


async def test_entries_are_acked_only_after_the_handler_returns(async_redis, stream: str) -> None:
    await ensure_group(async_redis, stream, "workers")
    await async_redis.xadd(stream, {"n": "1"})
    await async_redis.xadd(stream, {"n": "2"})
    seen: list[Entry] = []

    async def handler(entries: list[Entry]) -> None:
        assert (await async_redis.xpending(stream, "workers"))["pending"] == 2  # not yet acked
        seen.extend(entries)

    assert await consumer(async_redis, stream, "a").run_once(handler) == 2
    assert [e.fields["n"] for e in seen] == ["1", "2"]
    assert (await async_redis.xpending(stream, "workers"))["pending"] == 0


async def test_failed_handler_leaves_entries_for_another_consumer(async_redis, stream: str) -> None:
    await ensure_group(async_redis, stream, "workers")
    await async_redis.xadd(stream, {"n": "1"})

    async def broken(entries: list[Entry]) -> None:
        raise RuntimeError("database down")

    assert await consumer(async_redis, stream, "a").run_once(broken) == 0
    got: list[str] = []

    async def ok(entries: list[Entry]) -> None:
        got.extend(e.fields["n"] for e in entries)

    other = consumer(async_redis, stream, "b", claim_idle_ms=1000)
    assert await other.run_once(ok) == 0  # not stale yet: nothing new, nothing claimable
    await asyncio.sleep(1.05)
    assert await other.run_once(ok) == 1
    assert got == ["1"]
    assert (await async_redis.xpending(stream, "workers"))["pending"] == 0


async def test_poison_entry_goes_to_dead_letters_after_max_deliveries(async_redis, stream: str) -> None:
    await ensure_group(async_redis, stream, "workers")
    await async_redis.xadd(stream, {"n": "poison"})
    c = consumer(async_redis, stream, "a", claim_idle_ms=0, max_deliveries=2)

    async def broken(entries: list[Entry]) -> None:
        raise ValueError("cannot handle")

    for _ in range(4):
        await c.run_once(broken)
    dead = await async_redis.xrange(c.dead_letter_stream)
    assert len(dead) == 1 and dead[0][1][b"n"] == b"poison"
    assert (await async_redis.xpending(stream, "workers"))["pending"] == 0


async def test_a_poison_entry_dies_alone_with_its_error_and_a_warning(
    async_redis, tenant: str, stream: str  # noqa: ANN001
) -> None:
    await ensure_group(async_redis, stream, "workers")
    for n in ("1", "poison", "2"):
        await async_redis.xadd(stream, {"n": n})
    c = consumer(async_redis, stream, "a", claim_idle_ms=0, max_deliveries=2)
    handled: list[str] = []

    async def picky(entries: list[Entry]) -> None:
        if any(e.fields["n"] == "poison" for e in entries):
            raise ValueError("cannot handle")
        handled.extend(e.fields["n"] for e in entries)

    with structlog.testing.capture_logs() as logs:
        for _ in range(4):
            await c.run_once(picky)
    assert handled == ["1", "2"], "the batch-mates of a poison entry go through on their own, once"
    [(_, fields)] = await async_redis.xrange(c.dead_letter_stream)
    assert {k.decode(): v.decode() for k, v in fields.items()} == {
        "n": "poison", "_origin_id": fields[b"_origin_id"].decode(), "_group": "workers", "_consumer": "a",
        "_deliveries": "3", "_error": "ValueError: cannot handle"}
    assert (await async_redis.xpending(stream, "workers"))["pending"] == 0
    assert await async_redis.keys(f"{stream}:errors:*") == [], "errors are forgotten with their entries"
    [warning] = [line for line in logs if line["log_level"] == "warning"]
    assert warning == {
        "event": "stream entries moved to dead letters; run `hotline streams dead` to see them",
                       "log_level": "warning", "tenant": tenant, "stream": "test-stream", "group": "workers",
                       "count": 1, "entries": [fields[b"_origin_id"].decode()],
                       "first_error": "ValueError: cannot handle"}


async def test_an_outage_costs_a_redelivered_batch_three_calls_not_one_per_entry(
    async_redis, stream: str  # noqa: ANN001
) -> None:
    await ensure_group(async_redis, stream, "workers")
    for n in range(20):
        await async_redis.xadd(stream, {"n": str(n)})
    c = consumer(async_redis, stream, "a", claim_idle_ms=0, max_deliveries=50)
    calls: list[int] = []

    async def database_down(entries: list[Entry]) -> None:
        calls.append(len(entries))
        raise ConnectionRefusedError("database down")

    assert await c.run_once(database_down) == 0 and calls == [20]
    assert await c.run_once(database_down) == 0
    assert calls == [20, 20, 1, 1], "the batch, then entries alone until two fail in a row"
    assert (await async_redis.xpending(stream, "workers"))["pending"] == 20, "nothing acked, nothing buried"


async def test_run_stops_when_asked(async_redis, stream: str) -> None:
    stop = asyncio.Event()
    handled: list[str] = []

    async def handler(entries: list[Entry]) -> None:
        handled.extend(e.fields["n"] for e in entries)
        stop.set()

    task = asyncio.create_task(consumer(async_redis, stream, "a").run(handler, stop))
    await asyncio.sleep(0.05)
    await async_redis.xadd(stream, {"n": "1"})
    await asyncio.wait_for(task, 2)
    assert handled == ["1"]


async def _blocked_readers(redis: aioredis.Redis, name: str) -> list[dict]:
    """Clients named ``name`` that the server holds in a blocking command."""
    return [c for c in await redis.client_list() if c["name"] == name and "b" in c["flags"]]


async def test_a_consumer_blocked_in_a_read_stops_at_once_and_loses_nothing(
    redis_url: str, async_redis, stream: str
) -> None:
    name = f"blocked-{stream}"
    reader = aioredis.Redis.from_url(redis_url, client_name=name)
    handled: list[str] = []

    async def handler(entries: list[Entry]) -> None:
        handled.extend(e.fields["n"] for e in entries)

    stop = asyncio.Event()
    task = asyncio.create_task(StreamConsumer(reader, stream, "workers", "a", block_ms=10_000).run(handler, stop))
    while not await _blocked_readers(async_redis, name):
        await asyncio.sleep(0.01)
    begun = time.perf_counter()
    stop.set()
    await asyncio.wait_for(task, 1)
    assert time.perf_counter() - begun < 0.2, "a read holds no work: it is not waited out"
    for _ in range(100):  # the cancelled read's connection was closed, not pooled with its reply still to come
        if not await _blocked_readers(async_redis, name):
            break
        await asyncio.sleep(0.01)
    await async_redis.xadd(stream, {"n": "1"})
    assert (await async_redis.xpending(stream, "workers"))["pending"] == 0, "delivered to no dead read"
    assert await reader.xlen(stream) == 1, "the client's next command gets its own reply"
    await reader.aclose()
    assert await consumer(async_redis, stream, "b").run_once(handler) == 1 and handled == ["1"]


async def test_a_stop_during_a_batch_lets_it_finish_and_ack_then_stops(async_redis, stream: str) -> None:
    await ensure_group(async_redis, stream, "workers")
    for n in ("1", "2"):
        await async_redis.xadd(stream, {"n": n})
    inside, release, stop = asyncio.Event(), asyncio.Event(), asyncio.Event()
    handled: list[str] = []

    async def slow(entries: list[Entry]) -> None:
        inside.set()
        await release.wait()
        handled.extend(e.fields["n"] for e in entries)

    task = asyncio.create_task(consumer(async_redis, stream, "a").run(slow, stop))
    await asyncio.wait_for(inside.wait(), 2)
    stop.set()
    await async_redis.xadd(stream, {"n": "3"})  # comes during the stop: for whoever reads next
    await asyncio.sleep(0.2)
    assert not task.done(), "the batch in hand is finished before the consumer stops"
    assert (await async_redis.xpending(stream, "workers"))["pending"] == 2, "not acked before the handler returns"
    release.set()
    await asyncio.wait_for(task, 1)
    assert handled == ["1", "2"]
    assert (await async_redis.xpending(stream, "workers"))["pending"] == 0
    assert await consumer(async_redis, stream, "b").run_once(slow) == 1 and handled == ["1", "2", "3"]


async def test_a_batch_past_the_drain_time_is_cancelled_unacked_and_redelivered(async_redis, stream: str) -> None:
    await ensure_group(async_redis, stream, "workers")
    await async_redis.xadd(stream, {"n": "1"})
    inside = asyncio.Event()

    async def stuck(entries: list[Entry]) -> None:
        inside.set()
        await asyncio.Event().wait()

    with structlog.testing.capture_logs() as logs:
        async with background({"stuck": partial(consumer(async_redis, stream, "a").run, stuck)}, grace_s=0.2):
            await asyncio.wait_for(inside.wait(), 2)
    assert [line["worker"] for line in logs if line["log_level"] == "warning"] == ["stuck"]
    handled: list[str] = []

    async def ok(entries: list[Entry]) -> None:
        handled.extend(e.fields["n"] for e in entries)

    assert await consumer(async_redis, stream, "b", claim_idle_ms=0).run_once(ok) == 1 and handled == ["1"]
    assert (await async_redis.xpending(stream, "workers"))["pending"] == 0
