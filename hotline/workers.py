"""Background loops of ``hotline serve``, started and stopped as one part.

A worker is a coroutine function taking a stop event; ``background`` runs a
set of them as tasks, and on exit sets the event and waits for each to finish
its current unit of work (cancelling only after ``grace_s``), so a stop never
cuts a transaction in half. A worker that crashes is logged and restarted
after a pause, because one bad loop must not silently stop the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from hotline.logs import get_logger

__all__ = ["Worker", "background", "tenants_in"]

log = get_logger(__name__)
Worker = Callable[[asyncio.Event], Awaitable[None]]
RESTART_PAUSE_S = 1.0


async def _supervise(name: str, worker: Worker, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await worker(stop)
            return
        except Exception:
            log.exception("worker crashed; restarting", worker=name, pause_s=RESTART_PAUSE_S)
            try:
                await asyncio.wait_for(stop.wait(), RESTART_PAUSE_S)
            except TimeoutError:
                pass


@asynccontextmanager
async def background(workers: dict[str, Worker], grace_s: float = 5.0) -> AsyncIterator[None]:
    """Run ``workers`` (name → worker) for the duration of the block."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(_supervise(name, w, stop), name=name) for name, w in workers.items()]
    log.info("workers started", workers=",".join(workers) or "none")
    try:
        yield
    finally:
        stop.set()
        done, pending = await asyncio.wait(tasks, timeout=grace_s) if tasks else (set(), set())
        for task in pending:
            log.warning("worker did not stop in time; cancelling", worker=task.get_name(), grace_s=grace_s)
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def tenants_in(conf_dir: Path, *rooms: str) -> list[str]:
    """Tenants that have configuration in any of ``rooms`` (e.g. ``conf/ivr/<tenant>/``)."""
    found = {p.name for room in rooms for p in (conf_dir / room).glob("*") if p.is_dir() and not p.name.startswith(".")}
    return sorted(found)
