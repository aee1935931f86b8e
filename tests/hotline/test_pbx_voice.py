"""Voice alerts go out through the Asterisk edge's AMI connection as a real Originate."""

from __future__ import annotations

import asyncio

import pytest

from agi.ami import AmiClient, AmiPbx
from hotline.pbx_voice import ALERT_CONTEXT, PbxVoiceRelay
from router.check import load_routing_config
from tests.sim.asterisk_ami import AmiSimulator


async def test_without_ami_the_relay_is_unreachable_so_the_outbox_retries() -> None:
    with pytest.raises(ConnectionError, match="HOTLINE_AMI_URLS"):
        await PbxVoiceRelay()("+15550100001", "Ticket #1 is overdue")


async def test_alert_call_is_an_originate_on_the_tenants_asterisk_trunk(conf_dir, async_redis) -> None:  # noqa: ANN001
    sim = AmiSimulator()
    port = await sim.start()
    ami = AmiClient(AmiPbx("pbx1", "127.0.0.1", port, "hotline", "secret", "demo"), async_redis)
    await ami.start()
    try:
        await asyncio.wait_for(ami.logged_in.wait(), 5)
        relay = PbxVoiceRelay()
        relay.attach(ami, load_routing_config(conf_dir))
        assert await relay("5550100001", "Ticket #7\nfee reduction:  supervisor is overdue") is not None
    finally:
        await ami.close()
        await sim.stop()
    originate = next(a for a in sim.actions if a.get("action") == "Originate")
    assert originate["channel"] == "PJSIP/5550100001@carrier-a"
    assert (originate["context"], originate["exten"]) == (ALERT_CONTEXT, "s")
    assert originate["variable"] == "HOTLINE_ALERT_TEXT=Ticket #7 fee reduction: supervisor is overdue"
