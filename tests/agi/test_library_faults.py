"""Evidence for every library fault named in agi/_panoramisk_faults.py (panoramisk 1.4) and for pyst2 0.5.1.

Each test asserts that the fault is still there, so it fails the day the
library is fixed, and the workaround can go. The same byte sequences go
through ``agi.protocol`` in tests/protocol, where they are handled.
"""

from __future__ import annotations

import asyncio
import io
import threading

import pytest
from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.fast_agi import Application, Request

from tests.sim.asterisk_ami import AmiSimulator
from tests.sim.transcripts import load


class _Writer:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    async def drain(self) -> None:
        pass


def _recorded_usage(command: bytes) -> bytes:
    """The recorded multi-line 520 answer to ``command`` (two TCP segments)."""
    chunks = load("fastagi-errors")[0].chunks
    i = next(k for k, c in enumerate(chunks) if c.dir == "H" and c.data == command)
    return chunks[i + 1].data + chunks[i + 2].data


async def test_f1_panoramisk_takes_the_hangup_notice_as_the_reply() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(b"HANGUP\n200 result=1\n200 result=0\n")
    request = Request(None, {}, reader, _Writer())
    assert (await request.send_command("SET VARIABLE X 1"))["error"] == "AGIResultHangup"
    assert (await request.send_command("NOOP"))["result"] == ("1", "")  # SET VARIABLE's reply: off by one


async def test_f2_panoramisk_reads_one_line_of_a_multiline_520_then_breaks() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(_recorded_usage(b"STREAM FILE\n") + b"200 result=0\n")
    request = Request(None, {}, reader, _Writer())
    assert (await request.send_command("STREAM FILE"))["status_code"] == 520
    with pytest.raises(ValueError):  # the next "reply" is a line of usage text
        await request.send_command("NOOP")


def test_f3_panoramisk_spins_on_a_half_sent_header() -> None:
    class EofReader:
        calls = 0

        async def read(self, _n: int) -> bytes:
            EofReader.calls += 1
            if EofReader.calls == 1:
                return b"agi_network: yes\nagi_netw"
            if EofReader.calls > 100_000:
                raise RuntimeError("spinning")
            return b""  # EOF, for ever: never suspends, so the event loop is frozen too

    app = Application.__new__(Application)  # __init__ needs a loop; handler does not
    app.default_encoding, app._route = "utf-8", {}
    result: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(app.handler(EofReader(), _Writer()))
        except BaseException as exc:  # noqa: BLE001  the spin is stopped by our own RuntimeError
            result.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert EofReader.calls > 100_000 and isinstance(result[0], RuntimeError)


async def test_f4_panoramisk_add_route_needs_asyncio_coroutine_gone_in_311() -> None:
    app = Application()
    with pytest.raises(AttributeError, match="coroutine"):
        app.add_route("demo/ivr/main", lambda request: None)


async def test_m1_panoramisk_ping_never_checks_the_reply() -> None:
    sim = AmiSimulator()
    port = await sim.start()
    manager = Manager(host="127.0.0.1", port=port, username="hotline", secret="secret",
                      ping_delay=0, ping_interval=0, reconnect_timeout=0.05)
    manager.loop = asyncio.get_running_loop()
    try:
        manager.connect()
        for _ in range(100):
            await asyncio.sleep(0.02)
            if sim.logins:
                break
        sim.silent = True  # the peer is dead but TCP is up
        await asyncio.sleep(0.5)
        pings = [a for a in sim.actions if a.get("action") == "Ping"]
        assert len(pings) >= 5 and sim.connections == 1  # pinged into the void, never reconnected
    finally:
        manager.close()
        await sim.stop()


async def test_m2_panoramisk_action_futures_never_time_out() -> None:
    sim = AmiSimulator(ignore={"redirect"})
    port = await sim.start()
    manager = Manager(host="127.0.0.1", port=port, username="hotline", secret="secret", ping_delay=60)
    manager.loop = asyncio.get_running_loop()
    try:
        manager.connect()
        await asyncio.sleep(0.2)
        future = manager.send_action({"Action": "Redirect", "Channel": "x", "Context": "c", "Exten": "s",
                                      "Priority": 1})
        await asyncio.sleep(0.5)
        assert not future.done()
    finally:
        manager.close()
        await sim.stop()


def test_m5_panoramisk_drops_a_trailing_empty_header() -> None:
    chunks = load("ami")[2].chunks
    getvar = next(c.data for c in chunks if c.dir == "A" and b"ActionID: getvar-1" in c.data)
    assert getvar.endswith(b"Value: \r\n\r\n")
    protocol = AMIProtocol()
    protocol.connection_made(None)
    seen = []
    protocol.handle_message = seen.append
    protocol.data_received(getvar)
    assert "Variable" in seen[0] and "Value" not in seen[0]


def test_pyst2_fails_on_hangup_notice_and_511_and_has_no_py3_fastagi() -> None:
    agi_module = pytest.importorskip("asterisk.agi")  # pyst2, bench-only
    agi = agi_module.AGI.__new__(agi_module.AGI)
    agi.stderr = io.StringIO()
    for line, error in ((b"HANGUP\n", ValueError), (b"511 Command Not Permitted\n", agi_module.AGIUnknownError)):
        agi.stdin = io.BytesIO(line)
        with pytest.raises(error):
            agi.get_result()
    with pytest.raises(ImportError):
        import asterisk.fastagi  # noqa: F401  (imports SocketServer, Python 2 only)


async def test_m6_panoramisk_drops_the_connection_when_an_event_callback_raises() -> None:
    sim = AmiSimulator()
    port = await sim.start()
    manager = Manager(host="127.0.0.1", port=port, username="hotline", secret="secret", ping_delay=60,
                      reconnect_timeout=0.05)
    manager.loop = asyncio.get_running_loop()
    manager.register_event("Hangup", lambda _manager, _event: 1 / 0)
    try:
        manager.connect()
        await asyncio.sleep(0.2)
        sim.emit({"Event": "Hangup", "Uniqueid": "1.1", "Cause": "16"})
        await asyncio.sleep(0.5)
        assert sim.connections == 2  # the callback's ZeroDivisionError cost us the connection
    finally:
        manager.close()
        await sim.stop()
