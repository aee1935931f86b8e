"""Writes finished calls (the intent stream) to SQL, off the call path.

Strategy: one consumer group per tenant stream, batches of entries inserted
with one Core statement per batch; the unique (tenant, call_id) constraint
makes a redelivered entry a no-op, so the at-least-once stream gives exactly
one row per call. Malformed entries are logged and skipped (they stay in the
stream for inspection) rather than blocking the batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.keys import intents_stream
from hotline.logs import get_logger
from hotline.models import Call
from hotline.serve import Runtime
from hotline.streams import Entry, StreamConsumer
from hotline.workers import background, tenants_in
from ivr.events import IntentEvent

__all__ = ["GROUP", "call_log", "intent_events", "record_calls"]

log = get_logger(__name__)
GROUP = "call-log"


def _row(event: IntentEvent) -> dict[str, Any]:
    return {
        "tenant": event.tenant,
        "call_id": event.call_id,
        "caller": event.caller,
        "menu": event.menu,
        "started_at": datetime.fromtimestamp(event.started_at, UTC),
        "ended_at": datetime.fromtimestamp(event.ended_at, UTC),
        "outcome": str(event.outcome),
        "outcome_node": event.outcome_node,
        "intent": event.intent,
        "repeat": event.repeat,
        "fields": event.fields,
        "trajectory": [step.as_list() for step in event.steps],
    }


def intent_events(entries: list[Entry]) -> list[IntentEvent]:
    """The intent events of a batch; a malformed entry is logged and left out, never blocking the others."""
    events = []
    for entry in entries:
        try:
            events.append(IntentEvent.from_fields(entry.fields))
        except ValueError as exc:
            log.error("malformed intent event skipped", entry=entry.id, error=str(exc))
    return events


async def record_calls(engine: AsyncEngine, entries: list[Entry]) -> int:
    """Insert the calls of one batch in one transaction; returns how many entries parsed."""
    rows = [_row(event) for event in intent_events(entries)]
    if not rows:
        return 0
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(Call).values(rows).on_conflict_do_nothing(index_elements=["tenant", "call_id"])
    async with engine.begin() as conn:
        await conn.execute(statement)
    return len(rows)


@asynccontextmanager
async def call_log(runtime: Runtime) -> AsyncIterator[None]:
    """Serve part: one call-log consumer per tenant with IVR menus."""

    def worker(tenant: str):  # noqa: ANN202 - a Worker
        consumer = StreamConsumer(runtime.redis, intents_stream(tenant), GROUP, runtime.settings.node_name)

        async def run(stop: asyncio.Event) -> None:
            async def handle(entries: list[Entry]) -> None:
                await record_calls(runtime.engine, entries)

            await consumer.run(handle, stop)

        return run

    tenants = tenants_in(runtime.settings.conf_dir, "ivr")
    async with background({f"call-log:{t}": worker(t) for t in tenants}):
        yield
