"""Time bounds in tests that tolerate a stalled process but not a slow component.

The few tests that assert a time (a routing decision within its timeout, a
threshold change on the monitor within 1 s) run in one event loop with the
server under test. A stall the whole process suffers (a full garbage
collection late in a long suite, a machine shared with other jobs; seen in
CI as ~960 ms and ~430 ms over the bound) delays everything alike, so the
measured stall is added to the bound. A component that overruns its bound
while the loop keeps ticking still fails.
"""

from __future__ import annotations

import asyncio
import time
from typing import Self

__all__ = ["LoopStalls"]


class LoopStalls:
    """Measures the longest time the event loop could not run a 5 ms ticker inside the ``with`` block."""

    TICK_S = 0.005

    def __init__(self) -> None:
        self.worst_s = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.TICK_S)
            self.worst_s = max(self.worst_s, time.perf_counter() - started - self.TICK_S)

    def __enter__(self) -> Self:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._task is not None
        self._task.cancel()

    def bound(self, limit_s: float) -> float:
        """``limit_s`` plus the longest stall seen."""
        return limit_s + self.worst_s

    def explain(self, what: str, took_s: float) -> str:
        return f"{what} took {took_s * 1000:.0f} ms; the event loop stalled at most {self.worst_s * 1000:.0f} ms"
