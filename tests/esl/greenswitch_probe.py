"""Drive greenswitch 0.0.19 against the simulated FreeSWITCH, to show its faults (run as a child process).

    python tests/esl/greenswitch_probe.py <probe> <port>

Prints one JSON object per finding on stdout. The parent test
(test_greenswitch_faults.py) runs the simulator and reads them. gevent
patches this process only.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import json
import logging
import sys

import gevent
from greenswitch import esl

logging.disable(logging.CRITICAL)  # greenswitch's own warnings would flood stderr in the spin probe


def say(**finding: object) -> None:
    print(json.dumps(finding), flush=True)


def blocked(fn, *args, wait: float = 1.5) -> tuple[bool, object]:
    """Run ``fn`` in a greenlet; (True, None) if it has not returned after ``wait`` seconds."""
    job = gevent.spawn(fn, *args)
    job.join(timeout=wait)
    if not job.ready():
        job.kill(block=False)
        return True, None
    return False, job.value if job.successful() else repr(job.exception)


def inbound_drop(port: int) -> None:
    """The switch closes the socket while a command waits for its reply."""
    client = esl.InboundESL("127.0.0.1", port, "ClueCon", timeout=2)
    client.connect()
    say(step="connected", connected=client.connected)
    stuck, _ = blocked(client.send, "api status", wait=1.0)
    say(step="send during drop", blocked=stuck, connected=client.connected)
    gevent.sleep(0.3)  # the switch still listens: a reconnecting client would be back by now
    stuck, value = blocked(client.send, "api version", wait=0.3)
    say(step="send after drop", blocked=stuck, result=str(value), connected=client.connected)


def inbound_fifo(port: int) -> None:
    """One reply never comes (the switch is muted for ``api status``): later replies go one command early."""
    client = esl.InboundESL("127.0.0.1", port, "ClueCon", timeout=2)
    client.connect()
    stuck, _ = blocked(client.send, "api status", wait=0.3)
    version = gevent.spawn(client.send, "api version")
    hostname = gevent.spawn(client.send, "api hostname")
    gevent.joinall([version, hostname], timeout=1)
    say(step="fifo", status_blocked=stuck, version_got=getattr(version.value, "data", None),
        hostname_blocked=not hostname.ready())


def inbound_spin(port: int) -> None:
    """Connect and tick every 0.1 s; the parent makes the switch close mid-body, then counts ticks and CPU."""
    client = esl.InboundESL("127.0.0.1", port, "ClueCon", timeout=2)
    client.connect()
    say(step="ready")
    while True:
        gevent.sleep(0.1)
        say(step="tick")


def outbound(port: int) -> None:
    """An outbound app as greenswitch's README writes it; the simulated call's caller presses nothing."""
    outcome: dict[str, object] = {}

    class App:
        def __init__(self, session: esl.OutboundSession) -> None:
            self.session = session

        def run(self) -> None:
            self.session.myevents()
            self.session.answer()
            self.session.call_command("playback", "a.wav")  # block=False, twice: no event-lock
            self.session.call_command("playback", "b.wav")
            digits = self.session.play_and_get_digits(1, 6, 1, 2000, "#", "x.wav", "y.wav", "hotline_amount",
                                                      "\\d+", 1000, response_timeout=2)
            outcome["digits"] = digits
            outcome["blocked_playback"], _ = blocked(self.session.playback, "c.wav", wait=1.0)
            say(step="outbound", **outcome)
            self.session.sock.close()

    server = esl.OutboundESLServer("127.0.0.1", port, application=App, max_connections=5)
    gevent.spawn(server.listen)
    gevent.sleep(0.2)
    say(step="listening")
    gevent.sleep(10)


if __name__ == "__main__":
    {"inbound-drop": inbound_drop, "inbound-fifo": inbound_fifo, "inbound-spin": inbound_spin,
     "outbound": outbound}[sys.argv[1]](int(sys.argv[2]))
