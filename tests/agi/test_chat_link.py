"""Every trunk and the menu and bot diversions full: a FastAGI call is diverted to online chat, and serve's parts
(chat links, alert workers) text the caller the link through Twilio (loopback), once, even if the event comes again,
at the E.164 number of the national caller id the PBX gave (the demo tenant's region is CN).
Both trunks full: a caller diverted to the keypad self-service menu who presses 3 gets the same SMS; one who
presses 2 gets none.

The dialplan's ``chat`` extension only plays "link sent" and hangs up, as the self-service menu does after
key 3: nothing on the call path waits on the SMS.
"""

from __future__ import annotations

import asyncio
import re
import time
from itertools import takewhile
from pathlib import Path

import pytest

from agi.fastagi import FastAgiServer
from alerts.workers import alert_workers
from hotline.chat_links import GROUP, chat_links
from hotline.keys import intents_stream
from hotline.serve import Runtime
from hotline.settings import Settings
from ivr.events import IntentEvent
from ivr.trajectory import Outcome
from tests.alerts.conftest import outbox_rows
from tests.alerts.conftest import twilio  # noqa: F401 - the loopback Twilio fixture
from tests.agi.test_selfservice import dialplan_agi, diverted_to_selfservice
from tests.alerts.fakes import FakeTwilio
from tests.hotline.test_chat_links import group_created
from tests.sim.asterisk_agi import AsteriskChannel, Caller, SimResult, call_fastagi

CALLER = "+8613900000002"
#: ``CALLER`` as a Chinese trunk delivers it: national format, trunk prefix 0.
NATIONAL = "013900000002"
LINK = "https://chat.example.com/demo"


def chat_extension(conf_dir: Path) -> list[str]:
    """The applications ``[hotline-divert]`` runs for ``chat`` in the shipped dialplan, in order."""
    lines = (conf_dir / "asterisk" / "extensions_hotline.conf").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("exten => chat,1,"))
    steps = [lines[start], *takewhile(lambda line: line.startswith(" same => n,"), lines[start + 1:])]
    return [re.search(r",(\w+)\(", step)[1] for step in steps]


async def _sent(twilio: FakeTwilio) -> bool:
    return bool(twilio.of("Messages"))


async def until(check, timeout: float = 10.0):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while not (value := await check()) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return value


@pytest.fixture
def runtime(demo_conf: Path, engine, async_redis, redis_url: str, twilio: FakeTwilio,  # noqa: F811
            tmp_path: Path) -> Runtime:
    """What ``hotline serve`` gives its parts, on this test's conf, texting through the loopback Twilio."""
    settings = Settings(conf_dir=demo_conf, data_dir=tmp_path, twilio_account_sid=FakeTwilio.SID,
                        twilio_auth_token="twilio-test-token", twilio_api_base_url=twilio.url,
                        twilio_sms_from="+15005550006")
    return Runtime(settings, engine, async_redis, redis_url)


async def all_acked(redis, stream: str) -> bool:  # noqa: ANN001
    """The chat-links group read the stream's last entry and acked all: any SMS of those calls is queued."""
    ((last_id, _),) = await redis.xrevrange(stream, count=1)
    (group,) = [g for g in await redis.xinfo_groups(stream) if g["name"] == GROUP.encode()]
    return group["last-delivered-id"] == last_id and group["pending"] == 0


async def test_a_call_diverted_to_chat_gets_one_sms_with_the_link(
        agi_server: FastAgiServer, edge, tenant: str, conf_dir: Path, runtime: Runtime, sessions, async_redis,
        twilio: FakeTwilio) -> None:  # noqa: F811
    assert chat_extension(conf_dir) == ["Answer", "Playback", "Hangup"]
    effects, _ = edge
    for target in ("primary", "backup", "keypad", "speechbot"):
        await effects.router.set_live(tenant, target, limit=0)
    stream = intents_stream(tenant)
    uniqueid = f"{time.time():.6f}"

    async with alert_workers(runtime), chat_links(runtime):
        await group_created(async_redis, tenant)
        call = await call_fastagi(agi_server.port, AsteriskChannel(f"{tenant}/ivr/main", Caller(keys=["0"]),
                                                                   uniqueid=uniqueid, callerid=NATIONAL))
        assert {k: call.variables[k] for k in ("HOTLINE_OUTCOME", "HOTLINE_ROUTE", "HOTLINE_TARGET")} == {
            "HOTLINE_OUTCOME": "diverted", "HOTLINE_ROUTE": "chat", "HOTLINE_TARGET": LINK}
        assert await until(lambda: _sent(twilio))

        await async_redis.xgroup_setid(stream, GROUP, "0")  # the group reads the call's event again
        assert await until(lambda: all_acked(async_redis, stream))
        await asyncio.sleep(1.0)  # four outbox polls: time enough for a second SMS to go out, if one were queued

    (sms,) = twilio.of("Messages")
    assert (sms["To"], sms["From"], sms["Body"]) == (CALLER, "+15005550006",
                                                     f"Chat with us online: {LINK}?call={uniqueid}")
    (row,) = await outbox_rows(sessions, tenant)
    assert (row.task_id, row.escalation_id, row.state) == (uniqueid, None, "sent")
    assert await effects.router.release(tenant, uniqueid)  # the chat diversion held the call's lease



async def in_selfservice(server: FastAgiServer, edge, tenant: str, conf_dir: Path,  # noqa: ANN001
                         keys: list[str]) -> tuple[str, SimResult]:
    """Both trunks full: main diverts the call to the keypad menu, which the dialplan runs and the caller keys
    ``keys`` in; returns the call id and the self-service session."""
    uniqueid = f"{time.time():.6f}"
    variables = dict((await diverted_to_selfservice(server, edge, tenant, uniqueid)).variables)
    script = dialplan_agi(conf_dir, "hotline-divert", variables["HOTLINE_ROUTE"], tenant, variables)
    channel = AsteriskChannel(script, Caller(keys=keys), uniqueid=uniqueid, variables=variables,
                              callerid=CALLER)
    return uniqueid, await call_fastagi(server.port, channel)


async def test_a_selfservice_caller_who_presses_3_gets_one_sms_with_the_link(
        agi_server: FastAgiServer, edge, tenant: str, conf_dir: Path, runtime: Runtime, sessions, async_redis,
        twilio: FakeTwilio) -> None:  # noqa: F811
    async with alert_workers(runtime), chat_links(runtime):
        await group_created(async_redis, tenant)
        uniqueid, selfservice = await in_selfservice(agi_server, edge, tenant, conf_dir, ["3"])
        link_sent = selfservice.commands.index('STREAM FILE hotline/chat-link-sms ""')
        assert selfservice.commands[link_sent + 1] == "HANGUP"  # the call never waits on the SMS
        assert await until(lambda: _sent(twilio))
        assert await until(lambda: all_acked(async_redis, intents_stream(tenant)))
        await asyncio.sleep(1.0)  # four outbox polls: time enough for a second SMS, if one were queued

    (sms,) = twilio.of("Messages")
    assert (sms["To"], sms["Body"]) == (CALLER, f"Chat with us online: {LINK}?call={uniqueid}")
    (row,) = await outbox_rows(sessions, tenant)
    assert (row.task_id, row.state) == (uniqueid, "sent")
    events = [IntentEvent.from_fields(f) for _, f in await async_redis.xrange(intents_stream(tenant))]
    assert [(e.menu, e.outcome, e.summary["chat_link"]) for e in events] == [
        ("main", Outcome.DIVERTED, None), ("selfservice", Outcome.HUNG_UP, "chat")]


async def test_a_selfservice_caller_who_asks_for_a_fee_reduction_gets_no_sms(
        agi_server: FastAgiServer, edge, tenant: str, conf_dir: Path, runtime: Runtime, sessions, async_redis,
        twilio: FakeTwilio) -> None:  # noqa: F811
    async with alert_workers(runtime), chat_links(runtime):
        await group_created(async_redis, tenant)
        await in_selfservice(agi_server, edge, tenant, conf_dir, ["2", "300#"])
        assert await until(lambda: all_acked(async_redis, intents_stream(tenant)))  # both events: none queued
        await asyncio.sleep(1.0)  # four outbox polls
    assert await outbox_rows(sessions, tenant) == [] and twilio.of("Messages") == []
