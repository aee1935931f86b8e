"""greenswitch 0.0.19 against the simulated FreeSWITCH: the faults that made esl/ read frames itself.

These pin the library's behaviour, not ours: if a greenswitch upgrade makes
one fail, the fault is fixed and the decision in esl/inbound.py and
esl/server.py can be revisited. greenswitch runs in a child process
(tests/esl/greenswitch_probe.py), so gevent never patches pytest.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Self


from tests.conftest import free_port
from tests.sim.freeswitch import Caller, Fault, SimCall, SimSwitch

PROBE = Path(__file__).with_name("greenswitch_probe.py")
ROOT = PROBE.parents[2]


class Probe:
    """The probe child; ``findings`` collects its JSON lines as they come."""

    def __init__(self, name: str, port: int) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.name, self.port = name, port
        self.findings: list[dict] = []

    async def __aenter__(self) -> Self:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = await asyncio.create_subprocess_exec(sys.executable, str(PROBE), self.name, str(self.port),
                                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        return self

    async def next(self, timeout: float = 10.0) -> dict:
        assert self.proc and self.proc.stdout
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        assert line, "the probe ended early"
        self.findings.append(json.loads(line))
        return self.findings[-1]

    def cpu_seconds(self) -> float:
        assert self.proc
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def __aexit__(self, *exc: object) -> None:
        assert self.proc
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()


async def test_inbound_send_blocks_for_ever_when_the_connection_drops_and_never_reconnects():
    switch = SimSwitch(free_port())
    await switch.start()
    switch.drop_on = "api status"
    try:
        async with Probe("inbound-drop", switch.port) as probe:
            assert (await probe.next())["connected"]
            during = await probe.next()
            after = await probe.next()
    finally:
        await switch.stop()
    assert during == {"step": "send during drop", "blocked": True, "connected": False}
    assert after["result"] == "NotConnectedError()" and not after["connected"]
    assert switch.connections == 1  # no reconnect, no resubscription, ever


async def test_inbound_replies_are_matched_in_order_so_one_missing_reply_shifts_all_later_ones():
    switch = SimSwitch(free_port())
    await switch.start()
    switch.mute_on = "api status"
    try:
        async with Probe("inbound-fifo", switch.port) as probe:
            finding = await probe.next()
    finally:
        await switch.stop()
    assert finding["status_blocked"] and finding["hostname_blocked"]
    assert finding["version_got"] == "-ERR hostname Command not found!\n"  # api hostname's reply


async def test_reader_spins_at_full_cpu_when_the_peer_closes_inside_a_body():
    """After the close the probe's other greenlet never runs again: the reader loops without yielding."""
    switch = SimSwitch(free_port())
    await switch.start()
    try:
        async with Probe("inbound-spin", switch.port) as probe:
            assert (await probe.next())["step"] == "ready"
            ticks_before = await _ticks(probe, 0.6)
            await switch.break_mid_body()
            await _ticks(probe, 0.2)  # ticks already on their way before the loop started
            before = probe.cpu_seconds()
            ticks_after = await _ticks(probe, 1.0)
            busy = probe.cpu_seconds() - before
    finally:
        await switch.stop()
    assert ticks_before >= 3 and ticks_after == 0
    assert busy > 0.2, busy  # ~1 s of CPU per second when the box is idle; less when others compete


async def _ticks(probe: Probe, seconds: float) -> int:
    count, deadline = 0, asyncio.get_running_loop().time() + seconds
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        try:
            count += (await probe.next(left))["step"] == "tick"
        except TimeoutError:
            break
    return count


async def test_outbound_sends_none_for_omitted_args_and_no_event_lock_and_waits_for_ever():
    port = free_port()
    async with Probe("outbound", port) as probe:
        assert (await probe.next())["step"] == "listening"
        sim = SimCall(variables={"hotline_tenant": "demo"}, caller=Caller(["500#"]), fault=Fault("silent", at=4),
                      connect_wait_s=10)
        run = asyncio.create_task(sim.run("127.0.0.1", port))
        finding = await probe.next()
        result = await asyncio.wait_for(run, 5)
    executes = [dict(c.headers) for c in result.commands if c.line == "sendmsg"]
    pagd = next(h["execute-app-arg"] for h in executes if h["execute-app-name"] == "play_and_get_digits")
    assert pagd.endswith(" 1000 None")  # transfer_on_fail: FreeSWITCH would transfer to extension "None"
    assert not any("event-lock" in h for h in executes)
    nested = [app for app, _ in result.apps][:4]
    assert nested == ["answer", "playback", "playback", "play_and_get_digits"]
    # Without event-lock the playbacks and play_and_get_digits overlap; greenswitch takes the first
    # CHANNEL_EXECUTE_COMPLETE whose variable_current_application is play_and_get_digits (a playback's, as
    # that variable names the app started last) instead of matching Application-UUID: the digits are lost.
    assert result.variables["hotline_amount"] == "500" and finding["digits"] is None
    assert finding["blocked_playback"] is True  # playback(block=True) has no timeout at all
