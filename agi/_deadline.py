"""A per-session deadline for asyncio drivers that costs nothing per command."""

from __future__ import annotations

import asyncio

__all__ = ["Deadline"]


class Deadline:
    """One lazily re-armed timer per session instead of one per command.

    ``arm`` only moves ``at`` (and reschedules when it moved earlier); the timer
    re-arms itself when it fires early, and cancels the session task once ``at``
    has passed. Between waits ``at`` is the session's own limit.
    """

    def __init__(self, limit_s: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        self.limit = self.loop.time() + limit_s
        self.at = self.limit
        self.expired = False
        self.handle: asyncio.TimerHandle | None = None

    def arm(self, seconds: float) -> None:
        self.at, self.expired = min(self.loop.time() + seconds, self.limit), False
        if self.handle is None or self.handle.when() > self.at:
            if self.handle is not None:
                self.handle.cancel()
            self.handle = self.loop.call_at(self.at, self._fire)

    def _fire(self) -> None:
        if self.loop.time() >= self.at:
            self.handle, self.expired = None, True
            self.task.cancel()  # type: ignore[union-attr]
        else:
            self.handle = self.loop.call_at(self.at, self._fire)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
