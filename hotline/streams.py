"""Redis Streams with consumer groups: the hand-off from the call path to the workers.

Strategy: at-least-once in, exactly-once effect. A consumer reads a batch,
lets the handler commit its effect (the handler's own idempotency key makes a
redelivery harmless), and only then acknowledges. Entries whose consumer died
before acking stay pending; after ``claim_idle_ms`` another consumer claims
them (XAUTOCLAIM). An entry delivered ``max_deliveries`` times without success
is moved to a dead-letter stream with the last error, so one poison event
never blocks the others and is never silently dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from hotline.logs import get_logger

__all__ = ["Entry", "StreamConsumer", "ensure_group"]

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Entry:
    """One stream entry with its fields decoded as text."""

    id: str
    fields: dict[str, str]


Handler = Callable[[list[Entry]], Awaitable[None]]


def _decode(raw: list) -> list[Entry]:
    out = []
    for entry_id, fields in raw:
        if fields is None:  # deleted while pending
            continue
        out.append(
            Entry(
                entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
                {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v) for k, v in fields.items()},
            )
        )
    return out


async def ensure_group(redis: aioredis.Redis, stream: str, group: str, start: str = "0") -> None:
    """Create the consumer group (and the stream) unless it exists; safe to call on every start.

    A new group reads from ``start``: ``"0"`` takes the stream's whole history,
    ``"$"`` only what comes after (a group whose effect must not replay the past).
    An existing group keeps its position whatever ``start`` says.
    """
    try:
        await redis.xgroup_create(stream, group, id=start, mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


@dataclass
class StreamConsumer:
    """Reads one stream as one member of a consumer group; ``start`` as for ``ensure_group``."""

    redis: aioredis.Redis
    stream: str
    group: str
    consumer: str
    batch: int = 100
    block_ms: int = 1000
    claim_idle_ms: int = 30_000
    max_deliveries: int = 5
    start: str = "0"

    @property
    def dead_letter_stream(self) -> str:
        return f"{self.stream}:dead"

    async def read(self) -> list[Entry]:
        """Stale entries of dead consumers first, then new ones (blocking up to ``block_ms``)."""
        claimed = await self.redis.xautoclaim(
            self.stream, self.group, self.consumer, min_idle_time=self.claim_idle_ms, start_id="0-0", count=self.batch
        )
        stale = _decode(claimed[1])
        if stale:
            return await self._drop_poison(stale)
        raw = await self.redis.xreadgroup(self.group, self.consumer, {self.stream: ">"}, count=self.batch, block=self.block_ms)
        return _decode(raw[0][1]) if raw else []

    async def ack(self, entries: list[Entry]) -> None:
        if entries:
            await self.redis.xack(self.stream, self.group, *[e.id for e in entries])

    async def _drop_poison(self, entries: list[Entry]) -> list[Entry]:
        """Move entries delivered too often to the dead-letter stream; return the rest."""
        pending = await self.redis.xpending_range(
            self.stream, self.group, min=entries[0].id, max=entries[-1].id, count=len(entries) * 2
        )
        times = {(p["message_id"].decode() if isinstance(p["message_id"], bytes) else p["message_id"]): p["times_delivered"] for p in pending}
        keep = []
        for entry in entries:
            if times.get(entry.id, 0) > self.max_deliveries:
                await self.redis.xadd(self.dead_letter_stream, {**entry.fields, "_origin_id": entry.id})
                await self.redis.xack(self.stream, self.group, entry.id)
                log.error("stream entry moved to dead letters", stream=self.stream, entry=entry.id, deliveries=times[entry.id])
            else:
                keep.append(entry)
        return keep

    async def run_once(self, handler: Handler) -> int:
        """Read one batch, hand it over, ack after the handler returns; returns entries handled.

        A handler error leaves the batch pending (it will be claimed again
        after ``claim_idle_ms``) and is logged with the stream and entry ids.
        """
        entries = await self.read()
        if not entries:
            return 0
        try:
            await handler(entries)
        except Exception:
            log.exception("stream handler failed; entries stay pending", stream=self.stream, first=entries[0].id, count=len(entries))
            return 0
        await self.ack(entries)
        return len(entries)

    async def run(self, handler: Handler, stop: asyncio.Event, retry_s: float = 1.0) -> None:
        """Consume until ``stop`` is set; a Redis outage is logged and retried, never fatal."""
        await self._ensure_group_retrying(stop, retry_s)
        while not stop.is_set():
            try:
                await self.run_once(handler)
            except RedisError as exc:
                log.warning("stream read failed; retrying", stream=self.stream, error=str(exc))
                await _sleep_or_stop(stop, retry_s)

    async def _ensure_group_retrying(self, stop: asyncio.Event, retry_s: float) -> None:
        while not stop.is_set():
            try:
                await ensure_group(self.redis, self.stream, self.group, self.start)
                return
            except RedisError as exc:
                log.warning("cannot create consumer group; retrying", stream=self.stream, error=str(exc))
                await _sleep_or_stop(stop, retry_s)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
