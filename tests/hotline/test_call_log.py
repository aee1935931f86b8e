"""Finished calls reach SQL through the intent stream, once each, and the calls API serves them."""

from __future__ import annotations

from pathlib import Path

from hotline.call_log import GROUP, record_calls
from hotline.handoff import finish_call_async
from hotline.keys import intents_stream
from hotline.streams import Entry, StreamConsumer, ensure_group
from hotline.tokens import Role
from ivr.check import load_intents, load_menus
from tests.ivr.test_handoff import fee_reduction_call


async def test_fee_reduction_call_is_logged_once_and_served(api, engine, async_redis, tenant: str, conf_dir: Path) -> None:  # noqa: ANN001
    menus, rules = load_menus(conf_dir), load_intents(conf_dir)
    stream = intents_stream(tenant)
    await ensure_group(async_redis, stream, GROUP)
    await finish_call_async(async_redis, fee_reduction_call(menus, tenant, "call-1", ended_at=1_800_000_000.0), rules)
    consumer = StreamConsumer(async_redis, stream, GROUP, "test", block_ms=10)

    async def handle(entries: list[Entry]) -> None:
        assert await record_calls(engine, entries) == 1
        assert await record_calls(engine, entries) == 1  # a redelivery inserts nothing new

    assert await consumer.run_once(handle) == 1

    headers = await api.headers(tenant, Role.VIEWER)
    listed = await (await api.client.get("/api/v1/calls?caller=13800138000", headers=headers)).json()
    assert [c["id"] for c in listed["calls"]] == ["call-1"]
    call = await (await api.client.get("/api/v1/calls/call-1", headers=headers)).json()
    assert (call["intent"], call["fields"], call["outcome"]) == ("fee_reduction", {"amount": 500}, "routed")
    kinds = [step[1] for step in call["trajectory"]]
    assert kinds[0] == "enter" and "keys" in kinds and kinds[-1] == "route"
    other = await api.client.get("/api/v1/calls/call-1", headers=await api.headers("someone-else"))
    assert other.status == 404


async def test_malformed_entries_are_skipped_not_fatal(engine) -> None:  # noqa: ANN001
    assert await record_calls(engine, [Entry("1-0", {"v": "999"}), Entry("2-0", {"nonsense": "x"})]) == 0
