"""Every trunk and the menu and bot diversions full: a FastAGI call is diverted to online chat, and serve's parts
(chat links, alert workers) text the caller the link through Twilio (loopback), once, even if the event comes again.

The dialplan's ``chat`` extension only plays "link sent" and hangs up: nothing on the call path waits on the SMS.
"""

from __future__ import annotations

import asyncio
import re
import time
from itertools import takewhile
from pathlib import Path

from agi.fastagi import FastAgiServer
from alerts.workers import alert_workers
from hotline.chat_links import GROUP, chat_links
from hotline.keys import intents_stream
from hotline.serve import Runtime
from hotline.settings import Settings
from tests.alerts.conftest import outbox_rows
from tests.alerts.conftest import twilio  # noqa: F401 - the loopback Twilio fixture
from tests.alerts.fakes import FakeTwilio
from tests.hotline.test_chat_links import group_created
from tests.sim.asterisk_agi import AsteriskChannel, Caller, call_fastagi

CALLER = "+8613900000002"
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


async def test_a_call_diverted_to_chat_gets_one_sms_with_the_link(
        agi_server: FastAgiServer, edge, tenant: str, conf_dir: Path, demo_conf: Path, engine, sessions,
        async_redis, redis_url: str, twilio: FakeTwilio, tmp_path: Path) -> None:  # noqa: F811
    assert chat_extension(conf_dir) == ["Answer", "Playback", "Hangup"]
    effects, _ = edge
    for target in ("primary", "backup", "keypad", "speechbot"):
        await effects.router.set_live(tenant, target, limit=0)
    settings = Settings(conf_dir=demo_conf, data_dir=tmp_path, twilio_account_sid=FakeTwilio.SID,
                        twilio_auth_token="twilio-test-token", twilio_api_base_url=twilio.url,
                        twilio_sms_from="+15005550006")
    runtime = Runtime(settings, engine, async_redis, redis_url)
    stream = intents_stream(tenant)
    uniqueid = f"{time.time():.6f}"

    async with alert_workers(runtime), chat_links(runtime):
        await group_created(async_redis, tenant)
        call = await call_fastagi(agi_server.port, AsteriskChannel(f"{tenant}/ivr/main", Caller(keys=["0"]),
                                                                   uniqueid=uniqueid, callerid=CALLER))
        assert {k: call.variables[k] for k in ("HOTLINE_OUTCOME", "HOTLINE_ROUTE", "HOTLINE_TARGET")} == {
            "HOTLINE_OUTCOME": "diverted", "HOTLINE_ROUTE": "chat", "HOTLINE_TARGET": LINK}
        assert await until(lambda: _sent(twilio))

        await async_redis.xgroup_setid(stream, GROUP, "0")  # the group reads the call's event again
        (entry_id, _), = await async_redis.xrange(stream)

        async def read_again() -> bool:
            (group,) = [g for g in await async_redis.xinfo_groups(stream) if g["name"] == GROUP.encode()]
            return group["last-delivered-id"] == entry_id and group["pending"] == 0

        assert await until(read_again)
        await asyncio.sleep(1.0)  # four outbox polls: time enough for a second SMS to go out, if one were queued

    (sms,) = twilio.of("Messages")
    assert (sms["To"], sms["From"], sms["Body"]) == (CALLER, "+15005550006",
                                                     f"Chat with us online: {LINK}?call={uniqueid}")
    (row,) = await outbox_rows(sessions, tenant)
    assert (row.task_id, row.escalation_id, row.state) == (uniqueid, None, "sent")
    assert await effects.router.release(tenant, uniqueid)  # the chat diversion held the call's lease

