"""The effects AGI scripts ask for, performed on the router and Redis: asyncio (FastAGI) and blocking (spawned).

Strategy: two small classes with the same ``run(op)``, one awaited and one
blocking, each a ``match`` over the effect types of agi/session.py. They do not
catch errors: the driver turns any exception into ``EffectFailed`` for the
script, which degrades (hard phones, intent from the trajectory alone).
"""

from __future__ import annotations

from typing import Any

from agi.session import FinishCall, RecordHangup, ReleaseCall, ReportDial, RouteCall
from hotline.keys import pbx_events_stream
from hotline.pbx_events import STREAM_MAXLEN

__all__ = ["AsyncEffects", "SyncEffects", "effects_client"]


def effects_client(url: str, *, max_connections: int = 64, timeout_s: float = 2.0) -> Any:
    """An asyncio Redis client for ``AsyncEffects``: callers wait for a free connection (up to
    ``timeout_s``) instead of failing when every connection is busy."""
    import redis.asyncio as aioredis

    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=timeout_s,
                                                    socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    return aioredis.Redis.from_pool(pool)


class AsyncEffects:
    """``router``: ``router.aio.AsyncRouter``; ``redis``: ``redis.asyncio.Redis``; ``rules``: ``ivr.IntentRules``.

    Build ``redis`` with ``effects_client``: redis-py's default pool raises
    ``MaxConnectionsError`` past 100 concurrent users, i.e. past 100 calls
    ending at once; a blocking pool makes them queue instead.
    """

    def __init__(self, router: Any, redis: Any, rules: Any) -> None:
        self.router, self.redis, self.rules = router, redis, rules

    async def run(self, op: Any) -> Any:
        from hotline.handoff import finish_call_async

        match op:
            case RouteCall(tenant, queue, call_id, pbx):
                return await self.router.decide(tenant, queue, call_id, pbx=pbx)
            case ReleaseCall(tenant, call_id):
                return await self.router.release(tenant, call_id)
            case ReportDial(tenant, trunk, call_id, ok):
                report = self.router.report_success if ok else self.router.report_failure
                return await report(tenant, trunk, call_id)
            case FinishCall(end):
                return await finish_call_async(self.redis, end, self.rules)
            case RecordHangup(event):
                return await self.redis.xadd(pbx_events_stream(event.tenant), event.to_fields(),
                                             maxlen=STREAM_MAXLEN, approximate=True)
        raise TypeError(f"not an AGI effect: {op!r}")


class SyncEffects:
    """Blocking twin of ``AsyncEffects``: ``router.sync.Router``, ``redis.Redis``."""

    def __init__(self, router: Any, redis: Any, rules: Any) -> None:
        self.router, self.redis, self.rules = router, redis, rules

    def run(self, op: Any) -> Any:
        from hotline.handoff import finish_call_sync

        match op:
            case RouteCall(tenant, queue, call_id, pbx):
                return self.router.decide(tenant, queue, call_id, pbx=pbx)
            case ReleaseCall(tenant, call_id):
                return self.router.release(tenant, call_id)
            case ReportDial(tenant, trunk, call_id, ok):
                report = self.router.report_success if ok else self.router.report_failure
                return report(tenant, trunk, call_id)
            case FinishCall(end):
                return finish_call_sync(self.redis, end, self.rules)
            case RecordHangup(event):
                return self.redis.xadd(pbx_events_stream(event.tenant), event.to_fields(),
                                       maxlen=STREAM_MAXLEN, approximate=True)
        raise TypeError(f"not an AGI effect: {op!r}")
