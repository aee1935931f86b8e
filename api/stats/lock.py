"""The tenant's statistics lock, and the fenced writes only its holder can make.

Strategy: one node applies a tenant's PBX events at a time, holding a Redis
lock with an expiry that it renews between batches. A batch that outlasts the
lock (a SQL stall) may find that another node has taken the lock over and
applied the same events from the same call states; both writes landing would
count every figure twice. So a holder's Redis writes are not a plain
MULTI/EXEC but one Lua script that first checks the lock still holds this
holder's token and only then makes them, atomically: one round trip, like the
transaction it replaces. A holder that lost the lock writes nothing and gets
``LockLost``: its batch is not acked, stays pending and is claimed again, and
the call states make it a no-op for whatever the other node applied.

The token is the node name plus a random part, per holder: two processes run
under one node name (a copy-pasted config) must not pass for each other.
All keys written are the tenant's, in its ``{tenant}`` slot (Redis Cluster).
"""

from __future__ import annotations

import uuid
from typing import Any

import redis.asyncio as aioredis

from hotline.keys import stats_lock

__all__ = ["LockLost", "StatsLock", "Writes"]

_HOLD = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
"""

# ARGV: the token, then per command: its argument count n, its name, its key (an index into KEYS), n arguments.
_FENCED = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local i = 2
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  redis.call(ARGV[i + 1], KEYS[tonumber(ARGV[i + 2])], unpack(ARGV, i + 3, i + 2 + n))
  i = i + 3 + n
end
return 1
"""


class LockLost(Exception):
    """The lock lapsed and another node may hold it: this holder's batch was not written and must not be acked."""


class Writes:
    """Redis write commands collected for one fenced script, each ``(command, key, *arguments)``."""

    def __init__(self) -> None:
        self.keys: dict[str, int] = {}
        self.argv: list[Any] = []

    def __call__(self, command: str, key: str, *args: Any) -> None:
        index = self.keys.setdefault(key, len(self.keys) + 2)  # KEYS[1] is the lock
        self.argv.extend((len(args), command, index, *args))


class StatsLock:
    """One holder's view of a tenant's statistics lock (see the module docstring)."""

    def __init__(self, redis: aioredis.Redis, tenant: str, holder: str) -> None:
        self.redis = redis
        self.key = stats_lock(tenant)
        self.token = f"{holder}:{uuid.uuid4().hex[:12]}"
        self._hold = redis.register_script(_HOLD)
        self._fenced = redis.register_script(_FENCED)

    async def hold(self, ttl_ms: int) -> bool:
        """Take the lock, or renew it if it is ours; False while another holder has it."""
        return bool(await self._hold(keys=[self.key], args=[self.token, ttl_ms]))

    async def release(self) -> None:
        """Give the lock up if it is still ours, so another node need not wait for it to lapse."""
        if await self.redis.get(self.key) == self.token.encode():
            await self.redis.delete(self.key)

    async def write(self, writes: Writes) -> None:
        """Make ``writes`` atomically if the lock is still ours; raises ``LockLost`` (nothing written) if not."""
        if writes.argv and not await self._fenced(keys=[self.key, *writes.keys], args=[self.token, *writes.argv]):
            raise LockLost(f"statistics lock {self.key} is no longer held by {self.token}")
