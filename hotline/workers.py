"""Background loops of ``hotline serve``, started and stopped as one part.

A worker is a coroutine function taking a stop event; ``background`` runs a
set of them as tasks, and on exit sets the event and waits for each to finish
its current unit of work (cancelling only after ``grace_s``, logged), so a
stop never cuts a transaction in half. A worker that crashes is logged and
restarted after a pause, because one bad loop must not silently stop the
others.

A stop should cost the slowest worker's drain, not every worker's in turn:
``until_stopped`` cuts short a wait that holds no work (a blocking stream
read), and ``stop_together`` lets ``hotline serve`` tell the workers of all
its parts to stop at once before it stops the parts one by one, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TypeVar

from hotline.logs import get_logger

__all__ = ["DRAIN_S", "Worker", "background", "stop_together", "tenants_in", "until_stopped"]

log = get_logger(__name__)
Worker = Callable[[asyncio.Event], Awaitable[None]]
T = TypeVar("T")
RESTART_PAUSE_S = 1.0
#: How long a stopping worker may take to finish the unit of work in hand (a stream batch: its commit and ack).
DRAIN_S = 10.0
#: Between two cancellations of a task that has not ended yet (see ``until_stopped``).
RECANCEL_S = 0.1

_joined: ContextVar[list[asyncio.Event] | None] = ContextVar("hotline_workers_stop_together", default=None)


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
async def background(workers: dict[str, Worker], grace_s: float = DRAIN_S) -> AsyncIterator[None]:
    """Run ``workers`` (name → worker) for the duration of the block."""
    stop = asyncio.Event()
    if (joined := _joined.get()) is not None:
        joined.append(stop)
    tasks = [asyncio.create_task(_supervise(name, w, stop), name=name) for name, w in workers.items()]
    log.info("workers started", workers=",".join(workers) or "none")
    try:
        yield
    finally:
        stop.set()
        _, pending = await asyncio.wait(tasks, timeout=grace_s) if tasks else (set(), set())
        for task in pending:
            log.warning("worker did not stop in time; cancelling", worker=task.get_name(), grace_s=grace_s)
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


@contextmanager
def stop_together() -> Iterator[Callable[[], None]]:
    """Every ``background`` started inside the block joins one stop: the function it yields (callable
    after the block too) sets all their stop events at once, so their workers drain side by side
    while their parts are then stopped in order, each waiting only for what is left of its own."""
    events: list[asyncio.Event] = []

    def stop_all() -> None:
        for event in events:
            event.set()

    token = _joined.set(events)
    try:
        yield stop_all
    finally:
        _joined.reset(token)


async def until_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """``work``'s result, or ``None`` if ``stop`` is set first: then ``work`` is cancelled.

    Only for work that a cancellation cannot cut in half, such as a blocking
    stream read (what the server has not delivered stays in the stream, what
    it has stays pending and is claimed again). The task is cancelled again
    until it ends, because on Python 3.11 a cancellation that meets a
    finishing ``wait_for`` is swallowed; a result it still produced is
    returned, never dropped: that batch is in hand.
    """
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=RECANCEL_S)
    return None if task.cancelled() else task.result()


def tenants_in(conf_dir: Path, *rooms: str) -> list[str]:
    """Tenants that have configuration in any of ``rooms`` (e.g. ``conf/ivr/<tenant>/``)."""
    found = {p.name for room in rooms for p in (conf_dir / room).glob("*") if p.is_dir() and not p.name.startswith(".")}
    return sorted(found)
