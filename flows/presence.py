"""Who is online, per tenant, in Redis: a person stays online until their heartbeat expires.

A client (the agent desk) calls ``set_online`` every few minutes with a TTL;
going offline removes the person. Expired members are ignored on read and
trimmed on write, so a crashed desk drops out by itself.
"""

from __future__ import annotations

from collections.abc import Callable

import redis.asyncio as aioredis

from flows.workspace import PresenceSource
from hotline.keys import presence

__all__ = ["online_people", "presence_source", "set_online"]


async def set_online(
    redis: aioredis.Redis, tenant: str, person: str, online: bool, *, now_ms: int, ttl_s: int
) -> None:
    key = presence(tenant)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zremrangebyscore(key, "-inf", now_ms)
        if online:
            pipe.zadd(key, {person: now_ms + ttl_s * 1000})
        else:
            pipe.zrem(key, person)
        await pipe.execute()


async def online_people(redis: aioredis.Redis, tenant: str, *, now_ms: int) -> frozenset[str]:
    members = await redis.zrangebyscore(presence(tenant), now_ms, "+inf")
    return frozenset(m.decode() if isinstance(m, bytes) else m for m in members)


def presence_source(redis: aioredis.Redis, tenant: str, clock_ms: Callable[[], int]) -> PresenceSource:
    """What the engine calls (at most once per transaction) when a node assigns online people only."""

    async def read() -> frozenset[str]:
        return await online_people(redis, tenant, now_ms=clock_ms())

    return read
