"""End-of-call hand-off against a real Redis: history, repeat detection and the intent stream."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from hotline import keys
from hotline.handoff import CallEnd, finish_call_async, finish_call_sync
from ivr.check import load_intents, load_menus
from ivr.engine import call_script
from ivr.events import IntentEvent
from ivr.trajectory import Outcome
from tests.ivr.fakepbx import FakePbx

T0 = 1_800_000_000.0
HOUR = 3600.0


@pytest.fixture
def conf(conf_dir: Path):
    return load_menus(conf_dir), load_intents(conf_dir)


def fee_reduction_call(menus, tenant: str, call_id: str, ended_at: float, caller: str = "13800138000",
                       keys_pressed: tuple[str, ...] = ("2", "500")) -> CallEnd:
    record = FakePbx(list(keys_pressed)).run(call_script(demo_menu_as(menus, tenant), tenant, "main"))
    assert record.tenant == tenant
    return CallEnd(record, call_id, caller, started_at=ended_at - 30, ended_at=ended_at)


def demo_menu_as(menus, tenant):
    """The demo menu under a test's own tenant, so its Redis keys are the test's alone."""
    return {(tenant, "main"): replace(menus[("demo", "main")], tenant=tenant)}


async def test_finish_call_puts_one_event_on_the_tenant_stream(async_redis, tenant, conf):
    menus, rules = conf
    done = await finish_call_async(async_redis, fee_reduction_call(menus, tenant, "c1", T0), rules)

    entries = await async_redis.xrange(keys.intents_stream(tenant))
    assert [e[0].decode() for e in entries] == [done.entry_id]
    event = IntentEvent.from_fields(entries[0][1])
    assert event == done.event
    assert (event.intent, event.template, event.fields, event.repeat) == ("fee_reduction", "fee_reduction",
                                                                         {"amount": 500}, False)
    assert (event.tenant, event.caller, event.outcome, event.outcome_node) == (
        tenant, "13800138000", Outcome.ROUTED, "reduction-queue")


async def test_second_call_within_24h_is_a_repeat_of_the_first(async_redis, tenant, conf):
    menus, rules = conf
    await finish_call_async(async_redis, fee_reduction_call(menus, tenant, "c1", T0), rules)
    second = await finish_call_async(async_redis, fee_reduction_call(menus, tenant, "c2", T0 + 23 * HOUR), rules)

    assert second.event.repeat and second.event.earlier_call_ids == ("c1",)
    last = (await async_redis.xrange(keys.intents_stream(tenant)))[-1]
    assert IntentEvent.from_fields(last[1]).earlier_call_ids == ("c1",)


async def test_call_after_the_window_is_not_a_repeat_and_old_history_is_trimmed(async_redis, tenant, conf):
    menus, rules = conf
    await finish_call_async(async_redis, fee_reduction_call(menus, tenant, "c1", T0), rules)
    later = await finish_call_async(async_redis, fee_reduction_call(menus, tenant, "c2", T0 + 25 * HOUR), rules)

    assert not later.event.repeat and later.event.earlier_call_ids == ()
    history = keys.caller_history(tenant, "13800138000")
    assert await async_redis.zcard(history) == 1
    assert 0 < await async_redis.ttl(history) <= 24 * HOUR


async def test_other_caller_or_other_intent_is_not_a_repeat(async_redis, tenant, conf):
    menus, rules = conf
    await finish_call_async(async_redis, fee_reduction_call(menus, tenant, "c1", T0), rules)
    other_caller = await finish_call_async(
        async_redis, fee_reduction_call(menus, tenant, "c2", T0 + 60, caller="13900000000"), rules)
    no_intent = await finish_call_async(
        async_redis, fee_reduction_call(menus, tenant, "c3", T0 + 120, keys_pressed=("0",)), rules)

    assert not other_caller.event.repeat
    assert (no_intent.event.intent, no_intent.event.repeat) == (None, False)


async def test_retried_hand_off_does_not_count_itself(async_redis, tenant, conf):
    menus, rules = conf
    end = fee_reduction_call(menus, tenant, "c1", T0)
    await finish_call_async(async_redis, end, rules)
    again = await finish_call_async(async_redis, end, rules)
    assert not again.event.repeat
    assert await async_redis.zcard(keys.caller_history(tenant, "13800138000")) == 1


async def test_anonymous_caller_has_no_history(async_redis, tenant, conf):
    menus, rules = conf
    await finish_call_async(async_redis, fee_reduction_call(menus, tenant, "c1", T0, caller=""), rules)
    done = await finish_call_async(async_redis, fee_reduction_call(menus, tenant, "c2", T0 + 1, caller=""), rules)
    assert not done.event.repeat
    assert await async_redis.keys(keys.caller_history(tenant, "*")) == []


def test_sync_hand_off_behaves_the_same(sync_redis, tenant, conf):
    menus, rules = conf
    first = finish_call_sync(sync_redis, fee_reduction_call(menus, tenant, "c1", T0), rules)
    second = finish_call_sync(sync_redis, fee_reduction_call(menus, tenant, "c2", T0 + HOUR), rules)
    third = finish_call_sync(sync_redis, fee_reduction_call(menus, tenant, "c3", T0 + 26 * HOUR), rules)

    assert (first.event.repeat, second.event.earlier_call_ids, third.event.repeat) == (False, ("c1",), False)
    entries = sync_redis.xrange(keys.intents_stream(tenant))
    assert [IntentEvent.from_fields(f).call_id for _, f in entries] == ["c1", "c2", "c3"]
