"""Trunk leases of one PBX's live calls, kept by what AMI says: renewed while up, released at hang-up.

Strategy: a lease lapses ``lease_ttl_s`` (90 s) after its last renewal, and the
FastAGI session that took it ends as soon as the dialplan dials, so something
that outlives the session must renew it: AMI sees every channel until its
``Hangup``. ``LeaseKeeper`` keeps the set of live channel ids (``Newchannel`` in,
``Hangup`` out; rebuilt from ``CoreShowChannels`` after each login, when the
router also drops leases whose call is gone: ``reconcile``) and renews each every
``interval`` seconds. Renewing a channel that holds no lease is a cheap no-op
in the router's Lua, so no bookkeeping of who was routed is needed. Every
router call is bounded and its failure logged; the TTL is the last safety net.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hotline.logs import get_logger

__all__ = ["LeaseKeeper"]

log = get_logger(__name__)


class LeaseKeeper:
    """``router``: anything with ``AsyncRouter``'s ``renew``/``release``/``reconcile`` (tenant, ...)."""

    def __init__(self, router: Any, tenant: str, pbx: str, *, interval: float = 30.0, timeout: float = 5.0,
                 concurrency: int = 16) -> None:
        self.router, self.tenant, self.pbx = router, tenant, pbx
        self.interval, self.timeout = interval, timeout
        self.live: set[str] = set()
        self._limit = asyncio.Semaphore(concurrency)

    def channel_up(self, call_id: str) -> None:
        if call_id:
            self.live.add(call_id)

    async def channel_down(self, call_id: str) -> None:
        """The channel hung up: release its lease (idempotent: the ``h`` extension may have done it)."""
        self.live.discard(call_id)
        await self._call("release", call_id)

    async def resync(self, live: set[str]) -> None:
        """After (re)login: the PBX's own list of channels replaces ours; stale leases are dropped."""
        self.live = set(live)
        await self._call("reconcile", self.pbx, self.live)

    async def renew_all(self) -> int:
        """Renew every live call's lease once; returns how many were renewed."""
        results = await asyncio.gather(*(self._bounded(call_id) for call_id in list(self.live)))
        return sum(1 for r in results if r is True)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            renewed = await self.renew_all()
            log.debug("leases renewed", tenant=self.tenant, pbx=self.pbx, live=len(self.live), renewed=renewed)

    async def _bounded(self, call_id: str) -> Any:
        async with self._limit:
            return await self._call("renew", call_id)

    async def _call(self, method: str, *args: Any) -> Any:
        try:
            return await asyncio.wait_for(getattr(self.router, method)(self.tenant, *args), self.timeout)
        except Exception as exc:  # noqa: BLE001  the lease lapses on its TTL; never let this stop the AMI client
            log.warning("router call from AMI failed", method=method, tenant=self.tenant, pbx=self.pbx,
                        error=repr(exc))
            return None
