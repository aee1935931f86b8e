"""Intent events from the stream become tickets: exactly once, and a repeat call attaches."""

from __future__ import annotations

from datetime import timedelta

from flows.intake import intake
from flows.versions import CatalogCache
from flows.worker import GROUP, intake_handler
from hotline.keys import intents_stream
from hotline.streams import StreamConsumer, ensure_group
from tests.flows.conftest import Desk
from tests.flows.helpers import NOW, catalog, intent_event

CALLER = "13900000001"


async def _consume(desk: Desk, redis) -> int:
    consumer = StreamConsumer(redis, intents_stream(desk.tenant), GROUP, "test", block_ms=10)
    await ensure_group(redis, consumer.stream, GROUP)
    return await consumer.run_once(
        intake_handler(desk.sessions, consumer, desk.tenant, CatalogCache(0), lambda: NOW)
    )


async def _tickets(desk: Desk, caller: str = CALLER) -> list[dict]:
    status, body = await desk.get(f"/api/v1/tickets?caller={caller}")
    assert status == 200, body
    return body["tickets"]


async def test_an_intent_event_on_the_stream_opens_exactly_one_ticket(desk: Desk, async_redis) -> None:
    event = intent_event(desk.tenant, "call-1", CALLER, amount="1200.00")
    entry_id = await async_redis.xadd(intents_stream(desk.tenant), event.to_fields())
    assert await _consume(desk, async_redis) == 1
    [ticket] = await _tickets(desk)
    assert (ticket["flow"], ticket["current_node"], ticket["fields"]["amount"]) == (
        "fee_reduction",
        "supervisor",
        1200,
    )
    assert ticket["priority"] == "high"
    pending = await async_redis.xpending(intents_stream(desk.tenant), GROUP)
    assert pending["pending"] == 0  # acked after the commit

    await async_redis.xadd(
        intents_stream(desk.tenant), dict(event.to_fields())
    )  # the same event delivered again
    assert await _consume(desk, async_redis) == 1
    assert [t["id"] for t in await _tickets(desk)] == [ticket["id"]]
    detail = await desk.ticket(ticket["id"])
    assert len(detail["tasks"]) == 1 and [e["kind"] for e in detail["timeline"]] == ["created", "moved"]
    assert entry_id


async def test_a_second_call_within_24h_attaches_to_the_open_ticket(desk: Desk, async_redis) -> None:
    first = intent_event(desk.tenant, "call-a", CALLER, started_at=NOW.timestamp() - 3600)
    second = intent_event(desk.tenant, "call-b", CALLER, started_at=NOW.timestamp(), repeat=True)
    for event in (first, second, second):
        await async_redis.xadd(intents_stream(desk.tenant), event.to_fields())
    assert await _consume(desk, async_redis) == 3
    [ticket] = await _tickets(desk)
    detail = await desk.ticket(ticket["id"])
    assert detail["repeat"] == 1
    assert [c["call_id"] for c in detail["calls"]] == ["call-a", "call-b"]
    assert [e["kind"] for e in detail["timeline"]] == ["created", "moved", "call"]

    await async_redis.xadd(intents_stream(desk.tenant), second.to_fields())  # replay of the attached call
    await _consume(desk, async_redis)
    assert (await desk.ticket(ticket["id"]))["repeat"] == 1


async def test_a_call_after_the_window_or_after_closing_opens_a_new_ticket(desk: Desk) -> None:
    day = timedelta(hours=24).total_seconds()
    events = [
        intent_event(desk.tenant, "old", CALLER, started_at=NOW.timestamp() - day - 60),
        intent_event(desk.tenant, "new", CALLER, started_at=NOW.timestamp()),
    ]
    async with desk.sessions.begin() as session:
        result = await intake(
            session, desk.tenant, events, catalog=await catalog(desk.sessions, desk.tenant), now=NOW
        )
    assert (result.created, result.attached) == (2, 0)


async def test_a_repeat_inside_one_batch_attaches_to_the_ticket_made_in_that_batch(desk: Desk) -> None:
    events = [intent_event(desk.tenant, f"b{i}", CALLER, started_at=NOW.timestamp() + i) for i in range(3)]
    async with desk.sessions.begin() as session:
        result = await intake(
            session, desk.tenant, events, catalog=await catalog(desk.sessions, desk.tenant), now=NOW
        )
    assert (result.created, result.attached) == (1, 2)
    [ticket] = await _tickets(desk)
    assert ticket["repeat"] == 2


async def test_events_that_cannot_make_a_ticket_are_skipped_and_bad_entries_go_to_dead_letters(
    desk: Desk, async_redis
) -> None:
    stream = intents_stream(desk.tenant)
    await async_redis.xadd(stream, intent_event(desk.tenant, "none", CALLER, template=None).to_fields())
    await async_redis.xadd(
        stream, intent_event(desk.tenant, "other", CALLER, template="unknown_template").to_fields()
    )
    await async_redis.xadd(stream, {"v": "999", "call_id": "x"})
    assert await _consume(desk, async_redis) == 3
    assert await _tickets(desk) == []
    [(_, dead)] = await async_redis.xrange(f"{stream}:dead")
    assert (dead[b"call_id"], dead[b"_group"]) == (b"x", b"flows")
    assert dead[b"_error"].startswith(b"malformed intent event: intent event version '999'"), dead
    assert (await async_redis.xpending(stream, "flows"))["pending"] == 0
