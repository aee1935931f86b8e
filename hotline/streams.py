"""Redis Streams with consumer groups: the hand-off from the call path to the workers.

Strategy: at-least-once in, exactly-once effect. A consumer reads a batch,
lets the handler commit its effect (the handler's own idempotency key makes a
redelivery harmless), and only then acknowledges. Entries whose consumer died
before acking stay pending; after ``claim_idle_ms`` another consumer claims
them (XAUTOCLAIM). An entry delivered ``max_deliveries`` times without success
is moved to a dead-letter stream with the last error, so one poison event
never blocks the others and is never silently dropped.

The last error of each pending entry is kept in a Redis hash beside the
stream (not in memory), because the consumer that finally gives up is often
not the one that saw the error: any member of the group may claim the entry.
A redelivered batch that fails again is retried one entry at a time, so a
poison entry does not take its batch-mates to the dead letters with it.
``hotline streams`` (``hotline.stream_admin``) lists dead letters and puts
them back once the cause is fixed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from hotline.keys import split_tenant_key
from hotline.logs import get_logger
from hotline.workers import until_stopped

__all__ = ["CLAIM_IDLE_MS", "DEAD_SUFFIX", "DeadField", "Entry", "StreamConsumer", "as_text",
           "dead_letter_key", "decode_entries", "ensure_group"]

log = get_logger(__name__)
#: A pending entry idle this long is taken over by another member of the group (its consumer presumed dead).
CLAIM_IDLE_MS = 30_000
DEAD_SUFFIX = ":dead"
#: A recorded error outlives its entry this long at most (an entry trimmed while pending leaves one behind).
ERRORS_TTL_S = 86_400
#: Longest error text kept per entry: enough for the exception and its message, not a whole traceback.
ERROR_MAX_CHARS = 500
#: A dead letter's error when none was recorded: the handler never returned, it took its process down.
NO_ERROR = "no error recorded: every consumer that took it stopped (crash, kill) before its handler returned"


class DeadField(StrEnum):
    """Fields a dead letter adds to its entry's own: where it came from and why it was given up.

    All start with ``_``, which no producer's field does; replay strips exactly these.
    """

    ORIGIN_ID = "_origin_id"
    GROUP = "_group"
    CONSUMER = "_consumer"
    DELIVERIES = "_deliveries"
    ERROR = "_error"


def dead_letter_key(stream: str) -> str:
    """The dead-letter stream of ``stream`` (same ``{tenant}`` slot, so one transaction moves an entry)."""
    return stream + DEAD_SUFFIX


def _errors_key(stream: str, group: str) -> str:
    """Hash entry id → last handler error, per group: the groups of one stream fail independently."""
    return f"{stream}:errors:{group}"


def as_text(value: bytes | str) -> str:
    """A Redis reply value as text (clients are made without ``decode_responses``: payloads may be binary)."""
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class Entry:
    """One stream entry with its fields decoded as text."""

    id: str
    fields: dict[str, str]


Handler = Callable[[list[Entry]], Awaitable[None]]


def decode_entries(raw: list) -> list[Entry]:
    """Entries of an XRANGE/XREADGROUP/XAUTOCLAIM reply as text; ones deleted while pending are left out."""
    return [Entry(as_text(entry_id), {as_text(k): as_text(v) for k, v in fields.items()})
            for entry_id, fields in raw if fields is not None]


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
    claim_idle_ms: int = CLAIM_IDLE_MS
    max_deliveries: int = 5
    start: str = "0"

    @property
    def dead_letter_stream(self) -> str:
        return dead_letter_key(self.stream)

    async def read(self) -> list[Entry]:
        """Stale entries of dead consumers first, then new ones (blocking up to ``block_ms``)."""
        return (await self._next_batch())[0]

    async def _next_batch(self) -> tuple[list[Entry], bool]:
        """``read``, and whether the batch is stale (claimed: delivered before, so it may fail again)."""
        stale = await self._claim()
        return (stale, True) if stale else (await self._read_new(), False)

    async def _claim(self) -> list[Entry]:
        claimed = await self.redis.xautoclaim(
            self.stream, self.group, self.consumer, min_idle_time=self.claim_idle_ms, start_id="0-0", count=self.batch
        )
        stale = decode_entries(claimed[1])
        return await self._drop_poison(stale) if stale else []

    async def _read_new(self) -> list[Entry]:
        raw = await self.redis.xreadgroup(self.group, self.consumer, {self.stream: ">"}, count=self.batch, block=self.block_ms)
        return decode_entries(raw[0][1]) if raw else []

    async def ack(self, entries: list[Entry]) -> None:
        """Acknowledge the entries and forget their recorded errors (one round trip)."""
        if entries:
            ids = [e.id for e in entries]
            pipe = self.redis.pipeline(transaction=False)
            pipe.xack(self.stream, self.group, *ids)
            pipe.hdel(_errors_key(self.stream, self.group), *ids)
            await pipe.execute()

    async def _remember_error(self, entries: list[Entry], exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX_CHARS]
        key = _errors_key(self.stream, self.group)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(key, mapping={e.id: error for e in entries})
        pipe.expire(key, ERRORS_TTL_S)
        await pipe.execute()

    async def _drop_poison(self, entries: list[Entry]) -> list[Entry]:
        """Move entries delivered too often to the dead-letter stream, with their last error; return the rest."""
        pipe = self.redis.pipeline(transaction=False)
        for entry in entries:  # one XPENDING per entry: a range over the batch can miss entries among others
            pipe.xpending_range(self.stream, self.group, min=entry.id, max=entry.id, count=1)
        times = {e.id: (reply[0]["times_delivered"] if reply else 0)
                 for e, reply in zip(entries, await pipe.execute(), strict=True)}
        poison = [e for e in entries if times[e.id] > self.max_deliveries]
        if not poison:
            return entries
        errors = await self.redis.hmget(_errors_key(self.stream, self.group), [e.id for e in poison])
        await self._move_to_dead(poison, [as_text(error) if error else NO_ERROR for error in errors], times)
        dead = {e.id for e in poison}
        return [e for e in entries if e.id not in dead]

    async def bury(self, entries: list[Entry], error: str) -> None:
        """Move entries to the dead letters now, acked: for a handler that knows they can never succeed
        (malformed). Acked at once, a later failure of their batch cannot redeliver and bury them twice."""
        if entries:
            await self._move_to_dead(entries, [error[:ERROR_MAX_CHARS]] * len(entries), {})

    async def _move_to_dead(self, entries: list[Entry], errors: list[str], times: dict[str, int]) -> None:
        """XADD each to the dead letters, XACK, forget the errors: one MULTI/EXEC, so a crash can neither
        lose an entry nor bury it twice."""
        ids = [e.id for e in entries]
        pipe = self.redis.pipeline(transaction=True)
        for entry, error in zip(entries, errors, strict=True):
            pipe.xadd(self.dead_letter_stream, {
                **entry.fields, DeadField.ORIGIN_ID: entry.id, DeadField.GROUP: self.group,
                DeadField.CONSUMER: self.consumer, DeadField.DELIVERIES: str(times.get(entry.id, 1)),
                DeadField.ERROR: error,
            })
        pipe.xack(self.stream, self.group, *ids)
        pipe.hdel(_errors_key(self.stream, self.group), *ids)
        await pipe.execute()
        tenant, name = split_tenant_key(self.stream) or ("", self.stream)
        log.warning("stream entries moved to dead letters; run `hotline streams dead` to see them",
                    tenant=tenant, stream=name, group=self.group, count=len(entries), entries=ids,
                    first_error=errors[0])

    async def _handle(self, handler: Handler, entries: list[Entry]) -> bool:
        """One call of the handler: ack on success; on failure log, record the error and leave pending."""
        try:
            await handler(entries)
        except Exception as exc:
            log.exception("stream handler failed; entries stay pending", stream=self.stream,
                          first=entries[0].id, count=len(entries))
            await self._remember_error(entries, exc)
            return False
        await self.ack(entries)
        return True

    async def run_once(self, handler: Handler, stop: asyncio.Event | None = None) -> int:
        """Read one batch, hand it over, ack after the handler returns; returns entries handled.

        A handler error leaves the batch pending (it will be claimed again
        after ``claim_idle_ms``) and is logged with the stream and entry ids.
        A claimed (redelivered) batch that fails again is retried entry by
        entry: the entries that work are acked, only the failing ones keep
        counting deliveries towards the dead letters (two failures in a row
        stop that: an outage, not a poison entry).

        ``stop`` cuts the read short, not the handling: a stop waits for no
        blocking read, and a batch in hand is handled and acked (its drain is
        bounded by ``hotline.workers.background``). Cancelling the read loses
        nothing: entries are delivered only when read, one delivered but not
        handled stays pending and is claimed, and a dead-letter move is one
        MULTI/EXEC. redis-py disconnects a connection whose command was
        cancelled rather than pool it with a reply still unread, which
        tests/hotline/test_streams.py checks.
        """
        read = self._next_batch()
        entries, stale = (await read if stop is None else await until_stopped(read, stop)) or ([], False)
        if not entries:
            return 0
        if await self._handle(handler, entries):
            return len(entries)
        return await self._one_by_one(handler, entries) if stale and len(entries) > 1 else 0

    async def _one_by_one(self, handler: Handler, entries: list[Entry]) -> int:
        """Each entry alone; stops at the second failure in a row, which says "outage", not "poison":
        a database that is down would otherwise cost one timeout and one traceback per entry."""
        handled = failures = 0
        for entry in entries:
            if await self._handle(handler, [entry]):
                handled, failures = handled + 1, 0
            else:
                failures += 1
                if failures == 2:
                    break
        return handled

    async def run(self, handler: Handler, stop: asyncio.Event, retry_s: float = 1.0) -> None:
        """Consume until ``stop`` is set (at once if reading, after the batch if handling one: see
        ``run_once``); a Redis outage is logged and retried, never fatal."""
        await self._ensure_group_retrying(stop, retry_s)
        while not stop.is_set():
            try:
                await self.run_once(handler, stop)
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
