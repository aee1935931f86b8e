"""Operator access to the worker streams: each group's backlog, and dead letters seen, replayed or dropped.

Strategy: plain blocking Redis calls (the CLI's client, the one ``hotline
route`` uses), reading what ``hotline.streams`` leaves behind: the stream,
its consumer groups and ``<stream>:dead`` with the ``DeadField`` fields. A
replay is one Lua script per entry (XADD to the stream, XDEL from the dead
letters), so a crash or a lost connection never loses an entry nor puts it
back twice. A replayed entry is a new entry: every group of the stream reads
it, which is why only idempotent consumers may share a stream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

from hotline.keys import PREFIX, intents_stream, pbx_events_stream, split_tenant_key
from hotline.streams import DEAD_SUFFIX, DeadField, Entry, as_text, dead_letter_key, decode_entries

__all__ = ["LAG_COUNT_MAX", "STREAMS", "DeadLetter", "GroupStatus", "KnownStream", "StreamStatus",
           "dead_letters", "drop", "find", "present", "replay", "status"]

#: Redis before 7 reports no lag; it is counted instead, up to this many entries (``lag_capped`` beyond).
LAG_COUNT_MAX = 10_000
_DEAD_FIELDS = frozenset(DeadField)

_COUNT_AFTER = """
return #redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])
"""

# KEYS: dead letters, their stream. ARGV: the dead entry's id, then the dead-letter field names to strip.
_REPLAY = """
local found = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #found == 0 then return false end
local strip = {}
for i = 2, #ARGV do strip[ARGV[i]] = true end
local fields, kept = found[1][2], {}
for i = 1, #fields, 2 do
  if not strip[fields[i]] then
    kept[#kept + 1] = fields[i]
    kept[#kept + 1] = fields[i + 1]
  end
end
if #kept == 0 then
  return redis.error_reply('dead letter ' .. ARGV[1] .. ' has no fields of its own to replay')
end
local new_id = redis.call('XADD', KEYS[2], '*', unpack(kept))
redis.call('XDEL', KEYS[1], ARGV[1])
return new_id
"""


@dataclass(frozen=True, slots=True)
class KnownStream:
    """A stream the workers of ``hotline serve`` consume, under the short name operators type."""

    name: str
    key: Callable[[str], str]
    #: The fields that tell one entry from another in a listing (the rest is payload).
    summary: tuple[str, ...]


STREAMS = {s.name: s for s in (
    KnownStream("intents", intents_stream, ("call_id", "caller", "outcome", "intent")),
    KnownStream("pbx-events", pbx_events_stream, ("call_id", "kind", "pbx")),
)}


@dataclass(frozen=True, slots=True)
class GroupStatus:
    """One consumer group: what waits for it and when any of its consumers last asked for work."""

    name: str
    pending: int
    #: Entries not delivered to the group yet (counted up to ``LAG_COUNT_MAX`` when Redis cannot tell).
    lag: int
    lag_capped: bool
    oldest_pending_idle_ms: int | None
    #: How often the oldest pending entry was handed out: above 1, it failed (or its consumer died) before.
    oldest_pending_deliveries: int
    #: Since any consumer of the group last read or claimed; None when it never had one.
    last_read_ms: int | None


@dataclass(frozen=True, slots=True)
class StreamStatus:
    tenant: str
    stream: str
    length: int
    dead: int
    groups: list[GroupStatus]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A dead-letter entry split into the original entry's fields and why it was given up."""

    id: str
    fields: dict[str, str]
    origin_id: str
    group: str
    consumer: str
    deliveries: str
    error: str

    @classmethod
    def of(cls, entry: Entry) -> DeadLetter:
        meta = entry.fields.get
        return cls(entry.id, {k: v for k, v in entry.fields.items() if k not in _DEAD_FIELDS},
                   meta(DeadField.ORIGIN_ID, ""), meta(DeadField.GROUP, ""), meta(DeadField.CONSUMER, ""),
                   meta(DeadField.DELIVERIES, ""), meta(DeadField.ERROR, ""))

    @property
    def died_at(self) -> datetime:
        """When it was moved (a stream id starts with its epoch milliseconds)."""
        return datetime.fromtimestamp(int(self.id.partition("-")[0]) / 1000, UTC)


def present(client: redis.Redis, tenant: str | None) -> list[tuple[str, KnownStream]]:
    """(tenant, stream) for each known stream that has entries or dead letters, sorted.

    Without a tenant the keyspace is scanned (an operator command, not a hot path).
    """
    if tenant is not None:
        return [(tenant, s) for s in STREAMS.values()
                if client.exists(s.key(tenant), dead_letter_key(s.key(tenant)))]
    found: set[tuple[str, str]] = set()
    for raw in client.scan_iter(match=f"{PREFIX}:{{*}}:*", _type="stream", count=1000):
        split = split_tenant_key(as_text(raw))
        if split is not None and (name := split[1].removesuffix(DEAD_SUFFIX)) in STREAMS:
            found.add((split[0], name))
    return [(t, STREAMS[name]) for t, name in sorted(found)]


def _group_status(client: redis.Redis, key: str, info: dict) -> GroupStatus:
    name = as_text(info["name"])
    lag, capped = info.get("lag"), False
    if lag is None:  # Redis 6 has no lag (7 none after deletions): count what follows the group's position
        lag = client.eval(_COUNT_AFTER, 1, key, as_text(info["last-delivered-id"]), LAG_COUNT_MAX)
        capped = lag >= LAG_COUNT_MAX
    oldest = client.xpending_range(key, name, min="-", max="+", count=1) if info["pending"] else []
    idle = [c["idle"] for c in client.xinfo_consumers(key, name)]
    first = oldest[0] if oldest else {"time_since_delivered": None, "times_delivered": 0}
    return GroupStatus(name, info["pending"], lag, capped, first["time_since_delivered"], first["times_delivered"],
                       min(idle, default=None))


def status(client: redis.Redis, tenant: str | None = None) -> list[StreamStatus]:
    """Length, dead letters and each group's backlog of every known stream present (of ``tenant``)."""
    out = []
    for t, stream in present(client, tenant):
        key = stream.key(t)
        infos = client.xinfo_groups(key) if client.exists(key) else []
        groups = [_group_status(client, key, info) for info in infos]
        out.append(StreamStatus(t, stream.name, client.xlen(key), client.xlen(dead_letter_key(key)), groups))
    return out


def dead_letters(client: redis.Redis, tenant: str, stream: KnownStream,
                 limit: int | None = None) -> tuple[list[DeadLetter], int]:
    """The oldest ``limit`` dead letters (default all), in the order replay puts them back, and the total."""
    key = dead_letter_key(stream.key(tenant))
    return [DeadLetter.of(e) for e in decode_entries(client.xrange(key, count=limit))], client.xlen(key)


def find(client: redis.Redis, tenant: str, stream: KnownStream, ids: list[str]) -> dict[str, DeadLetter]:
    """The dead letters among ``ids``; an id missing from the result is no dead letter (any more)."""
    key = dead_letter_key(stream.key(tenant))
    pipe = client.pipeline(transaction=False)
    for entry_id in ids:
        pipe.xrange(key, entry_id, entry_id)
    return {letter.id: letter for raw in pipe.execute() for letter in map(DeadLetter.of, decode_entries(raw))}


def replay(client: redis.Redis, tenant: str, stream: KnownStream, ids: list[str]) -> dict[str, str | None]:
    """Put each dead letter back on its stream as a new entry; dead id → new id (None: gone already)."""
    key = stream.key(tenant)
    script = client.register_script(_REPLAY)
    done: dict[str, str | None] = {}
    for entry_id in ids:
        new_id = script(keys=[dead_letter_key(key), key], args=[entry_id, *DeadField])
        done[entry_id] = None if new_id is None else as_text(new_id)
    return done


def drop(client: redis.Redis, tenant: str, stream: KnownStream, ids: list[str]) -> int:
    """Delete dead letters for good; returns how many were still there."""
    return client.xdel(dead_letter_key(stream.key(tenant)), *ids)
