"""Calls diverted to chat, or whose caller asked a menu for the link, get it by SMS from serve, from the
recorded intent event on: once per call, one per caller per quiet time, through Twilio outages and restarts,
at the caller id made E.164 in the tenant's region (the loopback Twilio, like Twilio, refuses anything else),
never to a withheld or unusable number; ``hotline check`` refuses a menu asking for a chat diversion that is
not there, and a region no phone numbers are known for."""

from __future__ import annotations

import asyncio
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import structlog
from click.testing import CliRunner
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.models import OutboxAlert
from hotline.chat_links import GROUP, ChatLinks, chat_links, tagged_link
from hotline.cli import cli
from hotline.handoff import CallEnd, finish_call_async
from hotline.keys import intents_stream
from hotline.serve import Runtime
from hotline.settings import Settings
from hotline.streams import Entry, StreamConsumer, ensure_group
from ivr.check import load_intents
from ivr.commands import RouteDecision, RouteKind
from ivr.trajectory import CallRecord, Outcome, StepKind
from router.check import load_routing_config
from router.model import TenantRouting
from tests.agi.conftest import copy_demo_conf
from tests.alerts.conftest import T0, outbox_rows, sms_outbox
from tests.alerts.conftest import twilio  # noqa: F401 - the loopback Twilio fixture
from tests.alerts.fakes import FakeTwilio, Reply

CALLER = "+8613900000001"
LINK = "https://chat.example.com/demo"
ROUTES = {"chat": RouteKind.DIVERSION, "keypad": RouteKind.DIVERSION, "primary": RouteKind.TRUNK,
          "desk": RouteKind.HARDPHONE}


@pytest.fixture
def routing(conf_dir: Path) -> TenantRouting:
    return load_routing_config(conf_dir).tenants["demo"]


def diverted(tenant: str, call_id: str, caller: str = CALLER, route: str = "chat") -> CallEnd:
    """A call the router sent to ``route`` from the main menu, as an edge hands it over."""
    record = CallRecord(tenant, "main", "en")
    record.add(2000, StepKind.ROUTE, "main", "route-general", "general")
    record.route = RouteDecision(ROUTES[route], route, target=LINK if route == "chat" else None, elapsed_ms=2100)
    outcome = Outcome.DIVERTED if ROUTES[route] is RouteKind.DIVERSION else Outcome.ROUTED
    record.finish(outcome, 2100, "main", "route-general")
    ended = T0.timestamp()
    return CallEnd(record, call_id, caller, started_at=ended - 3, ended_at=ended)


def asked(tenant: str, call_id: str, diversion: str = "chat") -> CallEnd:
    """A call whose caller asked a menu's ``chat_link`` node for ``diversion``'s link, then heard goodbye."""
    record = CallRecord(tenant, "selfservice", "en")
    record.add(1500, StepKind.CHAT_LINK, "selfservice", "chat-link", diversion)
    record.finish(Outcome.HUNG_UP, 4000, "selfservice", "link-sent")
    ended = T0.timestamp()
    return CallEnd(record, call_id, CALLER, started_at=ended - 4, ended_at=ended)


async def recorded(redis, tenant: str, conf_dir: Path, *ends: CallEnd) -> list[Entry]:  # noqa: ANN001
    """Hand ``ends`` over the way the edges do; returns them as the chat-links group first reads them."""
    await ensure_group(redis, intents_stream(tenant), GROUP, start="$")
    consumer = StreamConsumer(redis, intents_stream(tenant), GROUP, "node-1", block_ms=10)
    for end in ends:
        await finish_call_async(redis, end, load_intents(conf_dir))
    return await consumer.read()


async def group_created(redis, tenant: str) -> None:  # noqa: ANN001
    """Wait until the serve part's worker has created its group (it does so as it starts)."""
    stream = intents_stream(tenant)
    for _ in range(100):
        if await redis.exists(stream) and GROUP.encode() in {g["name"] for g in await redis.xinfo_groups(stream)}:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no group {GROUP} on {stream}")


async def test_a_redelivered_event_sends_nothing_more(sessions, async_redis, tenant, conf_dir, routing,
                                                      twilio) -> None:  # noqa: F811
    links = ChatLinks(routing, sessions, clock=lambda: T0)
    entries = await recorded(async_redis, tenant, conf_dir, diverted(tenant, "1795900000.7"))
    assert (await links.handle(entries)).queued == 1  # committed, then node-1 died before its XACK

    other = StreamConsumer(async_redis, intents_stream(tenant), GROUP, "node-2", block_ms=10, claim_idle_ms=0)
    results = []

    async def handle(batch: list[Entry]) -> None:
        results.append(await links.handle(batch))

    assert await other.run_once(handle) == 1
    outbox = sms_outbox(sessions, twilio)
    try:
        await outbox.drain(T0)
    finally:
        await outbox.providers.aclose()
    assert [(r.queued, r.skips) for r in results] == [(0, [("1795900000.7", "already queued for this call")])]
    (sms,) = twilio.of("Messages")
    assert (sms["To"], sms["Body"]) == (CALLER, f"Chat with us online: {LINK}?call=1795900000.7")
    assert await async_redis.xpending(intents_stream(tenant), GROUP) == {
        "pending": 0, "min": None, "max": None, "consumers": []}


async def test_a_caller_calling_ten_times_in_a_minute_gets_one_sms(sessions, async_redis, tenant, conf_dir,
                                                                   routing) -> None:
    entries = await recorded(async_redis, tenant, conf_dir, *(diverted(tenant, f"c{i}") for i in range(10)))
    stats = await ChatLinks(routing, sessions, clock=lambda: T0).handle(entries)
    assert (stats.queued, len(stats.skips)) == (1, 9)
    assert [r.task_id for r in await outbox_rows(sessions, tenant)] == ["c0"]


async def test_a_twilio_outage_is_waited_out_across_a_restart(sessions, async_redis, tenant, conf_dir, routing,
                                                             twilio) -> None:  # noqa: F811
    """Five failures: more than the alerts' three attempts (fast_conf), yet the link is not given up."""
    twilio.replies += [Reply(500, {"code": 20500, "message": "Internal Server Error", "status": 500})] * 5
    entries = await recorded(async_redis, tenant, conf_dir, diverted(tenant, "c1"))
    await ChatLinks(routing, sessions, clock=lambda: T0).handle(entries)
    now, sent = T0, []
    for worker in ("before-restart", "after-restart"):
        outbox = sms_outbox(sessions, twilio, worker=worker)
        try:
            for _ in range(3):
                sent.append((await outbox.drain(now)).sent)
                now += timedelta(minutes=5)  # past the backoff's cap: the row is due again
        finally:
            await outbox.providers.aclose()
    assert sent == [0, 0, 0, 0, 0, 1]
    assert [r["To"] for r in twilio.of("Messages")] == [CALLER] * 6
    (row,) = await outbox_rows(sessions, tenant)
    assert (row.state, row.attempts, row.claimed_by) == ("sent", 6, None)


async def test_withheld_or_unusable_numbers_send_nothing_and_say_why(sessions, async_redis, tenant, conf_dir,
                                                                     routing) -> None:
    callers = {"c1": "", "c2": "anonymous", "c3": "0000000000", "c4": "6001", "c5": "not-a-number", "c6": CALLER}
    entries = await recorded(async_redis, tenant, conf_dir, *(diverted(tenant, c, n) for c, n in callers.items()))
    with structlog.testing.capture_logs() as logs:
        stats = await ChatLinks(routing, sessions, clock=lambda: T0).handle(entries)
    assert stats.skips == [
        ("c1", "caller id '': withheld"),
        ("c2", "caller id 'anonymous': withheld"),
        ("c3", "caller id '0000000000': not a valid phone number (read as +86000000000)"),
        ("c4", "caller id '6001': too short for a phone number (an internal extension?)"),
        ("c5", "caller id 'not-a-number': not a phone number")]
    assert [(e["tenant"], e["call_id"], e["reason"]) for e in logs if e["event"] == "chat link not sent"] == [
        (tenant, call_id, reason) for call_id, reason in stats.skips]
    assert [r.task_id for r in await outbox_rows(sessions, tenant)] == ["c6"]


async def texted(sessions: async_sessionmaker[AsyncSession], async_redis: Redis, tenant: str, conf_dir: Path,
                 routing: TenantRouting, twilio: FakeTwilio, callers: dict[str, str]) -> list[str]:  # noqa: F811
    """Calls of ``callers`` (call id → caller id) diverted to chat and their SMS sent: the numbers Twilio took."""
    entries = await recorded(async_redis, tenant, conf_dir, *(diverted(tenant, c, n) for c, n in callers.items()))
    await ChatLinks(routing, sessions, clock=lambda: T0).handle(entries)
    outbox = sms_outbox(sessions, twilio)
    try:
        await outbox.drain(T0)
    finally:
        await outbox.providers.aclose()
    assert {r.state for r in await outbox_rows(sessions, tenant)} == {"sent"}, "none refused by Twilio"
    return [sms["To"] for sms in twilio.of("Messages")]


async def test_national_caller_ids_are_texted_in_e164_of_the_tenants_region(sessions, async_redis, tenant,
                                                                          conf_dir, routing, twilio) -> None:  # noqa: F811
    """The demo tenant's region is CN: a mobile number with or without the trunk prefix 0 is one number (one SMS
    per quiet time), an international call keeps its country, an E.164 id is kept as it is."""
    assert routing.region == "CN"
    callers = {"c1": "013800138000", "c2": "13800138000", "c3": "0044 20 7946 0958", "c4": CALLER}
    assert await texted(sessions, async_redis, tenant, conf_dir, routing, twilio, callers) == [
        "+8613800138000", "+442079460958", CALLER]


async def test_a_us_tenant_reads_its_callers_as_us_numbers(sessions, async_redis, tenant, conf_dir, routing,
                                                           twilio) -> None:  # noqa: F811
    us = routing.model_copy(update={"region": "US"})
    assert await texted(sessions, async_redis, tenant, conf_dir, us, twilio, {"c1": "(415) 555-2671"}) == [
        "+14155552671"]


async def test_without_a_region_only_e164_caller_ids_are_texted(sessions, async_redis, tenant, conf_dir,
                                                                routing) -> None:
    entries = await recorded(async_redis, tenant, conf_dir, diverted(tenant, "c1", "13800138000"),
                             diverted(tenant, "c2", CALLER))
    stats = await ChatLinks(routing.model_copy(update={"region": None}), sessions, clock=lambda: T0).handle(entries)
    assert stats.skips == [("c1", ("caller id '13800138000': national format and no region to read it in: write "
                                   "it as +<country code>..., or set the tenant's region in routing.yaml"))]
    assert [r.address for r in await outbox_rows(sessions, tenant)] == [CALLER]


async def test_calls_routed_anywhere_else_are_not_texted(sessions, async_redis, tenant, conf_dir, routing) -> None:
    entries = await recorded(async_redis, tenant, conf_dir,
                             *(diverted(tenant, f"c-{route}", route=route) for route in ("keypad", "primary", "desk")))
    stats = await ChatLinks(routing, sessions, clock=lambda: T0).handle(entries)
    assert (stats.queued, stats.skips, len(entries)) == (0, [], 3)
    assert await outbox_rows(sessions, tenant) == []


async def test_a_caller_who_asked_in_a_menu_gets_what_a_diverted_caller_gets(sessions, async_redis, tenant,
                                                                              conf_dir, routing) -> None:
    """Same message, link and dedup: a second event of the call, diverted to chat this time, adds nothing."""
    entries = await recorded(async_redis, tenant, conf_dir, asked(tenant, "c1"), diverted(tenant, "c1"),
                             asked(tenant, "c2", diversion="keypad"))
    stats = await ChatLinks(routing, sessions, clock=lambda: T0).handle(entries)
    assert (stats.queued, stats.skips) == (1, [("c1", "already queued for this call")])
    (row,) = await outbox_rows(sessions, tenant)
    assert (row.task_id, row.address, row.body) == ("c1", CALLER, f"Chat with us online: {LINK}?call=c1")


@pytest.mark.parametrize("name", ["keypad", "chatt"], ids=["a-menu-diversion", "no-such-diversion"])
def test_a_menu_asking_for_what_is_no_chat_diversion_fails_hotline_check_at_its_line(
        conf_dir: Path, tmp_path: Path, name: str) -> None:
    conf = tmp_path / "conf"
    shutil.copytree(conf_dir, conf)
    menu = conf / "ivr" / "demo" / "selfservice.yaml"
    lines = menu.read_text().splitlines(keepends=True)
    line = next(i for i, text in enumerate(lines, 1) if text.lstrip().startswith("diversion: chat"))
    lines[line - 1] = lines[line - 1].replace("diversion: chat", f"diversion: {name}")
    menu.write_text("".join(lines))

    result = CliRunner().invoke(cli, ["check", str(conf)])
    assert result.exit_code == 2 and "chat links 1 error(s)" in result.output
    assert (f"{menu}:{line}: node 'chat-link': '{name}' is not a chat diversion of tenant 'demo' in "
            "routing.yaml (hint: its chat diversions: chat)") in result.output


def test_the_link_keeps_its_own_query_and_gains_the_call_id() -> None:
    assert tagged_link("https://chat.example.com/demo?lang=zh#top", "1795900000.7") == (
        "https://chat.example.com/demo?lang=zh&call=1795900000.7#top")


async def test_serve_texts_calls_that_end_after_it_started_not_the_streams_history(
        engine, sessions, async_redis, redis_url, tenant, conf_dir, tmp_path: Path) -> None:
    conf = copy_demo_conf(conf_dir, tmp_path / "conf", tenant)
    rules = load_intents(conf)
    await finish_call_async(async_redis, diverted(tenant, "before-deploy"), rules)
    async with chat_links(Runtime(Settings(conf_dir=conf, data_dir=tmp_path), engine, async_redis, redis_url)):
        await group_created(async_redis, tenant)
        await finish_call_async(async_redis, diverted(tenant, "after-deploy"), rules)
        for _ in range(100):
            rows: list[OutboxAlert] = await outbox_rows(sessions, tenant)
            if rows:
                break
            await asyncio.sleep(0.05)
    assert [r.task_id for r in rows] == ["after-deploy"]
