import asyncio

import pytest

from hotline.keys import tenant_key
from hotline.streams import Entry, StreamConsumer, ensure_group


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
