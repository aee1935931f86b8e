"""Voice alerts go out through the Asterisk edge's AMI connection as a real Originate."""

from __future__ import annotations

import asyncio

import pytest

from agi.ami import AmiClient, AmiPbx
from alerts.providers.pbx_voice import OriginateError
from hotline.pbx_voice import ALERT_CONTEXT, PbxVoiceRelay
from router.check import load_routing_config
from tests.sim.asterisk_ami import AmiSimulator


async def test_without_ami_the_relay_is_unreachable_so_the_outbox_retries() -> None:
    with pytest.raises(ConnectionError, match="HOTLINE_AMI_URLS or HOTLINE_FS_EVENT_HOST"):
        await PbxVoiceRelay()("+15550100001", "Ticket #1 is overdue")


async def test_alert_call_is_an_originate_on_the_tenants_asterisk_trunk(conf_dir, async_redis) -> None:  # noqa: ANN001
    sim = AmiSimulator()
    port = await sim.start()
    ami = AmiClient(AmiPbx("pbx1", "127.0.0.1", port, "hotline", "secret", "demo"), async_redis)
    await ami.start()
    try:
        await asyncio.wait_for(ami.logged_in.wait(), 5)
        relay = PbxVoiceRelay()
        relay.attach_ami(ami, load_routing_config(conf_dir))
        assert await relay("5550100001", "Ticket #7\nfee reduction:  supervisor is overdue") is not None
    finally:
        await ami.close()
        await sim.stop()
    originate = next(a for a in sim.actions if a.get("action") == "Originate")
    assert originate["channel"] == "PJSIP/5550100001@carrier-a"
    assert (originate["context"], originate["exten"]) == (ALERT_CONTEXT, "s")
    assert originate["variable"] == "HOTLINE_ALERT_TEXT=Ticket #7 fee reduction: supervisor is overdue"


async def test_without_asterisk_the_alert_call_goes_out_through_freeswitch(conf_dir, async_redis, tenant) -> None:  # noqa: ANN001
    from esl.inbound import InboundClient
    from tests.conftest import free_port
    from tests.sim.freeswitch import SimSwitch

    switch = SimSwitch(free_port())
    await switch.start()
    switch.originate = lambda args: "-ERR USER_BUSY\n" if "5550100009" in args else "+OK 4a9b-1\n"
    client = InboundClient("127.0.0.1", switch.port, switch.password, async_redis, tenant=tenant, pbx="fs1")
    await client.start()
    try:
        relay = PbxVoiceRelay()
        relay.attach_freeswitch(client, "demo", load_routing_config(conf_dir))
        assert await relay("5550100001", "Ticket #7, it's overdue") == "4a9b-1"
        with pytest.raises(OriginateError) as busy:
            await relay("5550100009", "again")
    finally:
        await client.close()
        await switch.stop()
    assert busy.value.transient
    originate = next(c for c in switch.commands if c.startswith("bgapi originate"))
    assert originate == ("bgapi originate {hotline_alert_text='Ticket #7  it s overdue'}"
                         "sofia/gateway/carrier_b/5550100001 &playback(hotline/alert-overdue)")
