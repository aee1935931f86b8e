"""FastAGI: Hotline's server vs a bare panoramisk FastAGI server, and spawned AGI start-up.

    python bench/fastagi.py [--quick] [--startup]

Both servers run the same 6-command session (ANSWER, GET VARIABLE, STREAM FILE,
GET DATA, 2× SET VARIABLE), each in its own child process; this process plays
Asterisk over loopback (asyncio protocols, canned res_agi replies). "Per
command" is what Asterisk waits: from writing a reply (or the header) to
reading the next command line. Loops are bounded by session counts.

1. closed loop at 100 and 1,000 concurrent sessions: sessions/s, p50/p99 per command;
2. realistic: 1,000 sessions left idle inside STREAM FILE while new calls arrive at
   200/s: p99 per command of the new calls (target < 5 ms);
3. spawned AGI start-up to the first command: the ``hotline-agi`` console script relaying to
   the Hotline server child (``agi.relay``) and running in-process (no server where it looks),
   vs a pyst2 script vs a bare stdlib script (and the interpreter alone); ``--startup`` runs only this.

The Hotline child calls ``gc.freeze()`` after start-up, as ``hotline serve`` should
(``BENCH_GC_FREEZE=0`` to see the difference). Figures: bench/RESULTS.md, "Asterisk edge".
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = (
    "agi_network: yes\nagi_network_script: bench/bench\nagi_request: agi://127.0.0.1/bench/bench\n"
    "agi_channel: PJSIP/carrier-a-00000001\nagi_language: en\nagi_type: PJSIP\nagi_uniqueid: {uid}\n"
    "agi_version: 22.10.1\nagi_callerid: 5551234\nagi_calleridname: Bench\nagi_callingpres: 0\n"
    "agi_callingani2: 0\nagi_callington: 0\nagi_callingtns: 0\nagi_dnid: 4000\nagi_rdnis: unknown\n"
    "agi_context: hotline-inbound\nagi_extension: 4000\nagi_priority: 2\nagi_enhanced: 0.0\n"
    "agi_accountcode: \nagi_threadid: 140342904891072\n\n"
)
REPLIES = {b"ANSWER": b"200 result=0\n", b"GET VARIABLE": b"200 result=1 (5551234)\n",
           b"STREAM FILE": b"200 result=0 endpos=18023\n", b"GET DATA": b"200 result=500\n",
           b"SET VARIABLE": b"200 result=1\n"}
COMMANDS = [("ANSWER",), ("GET VARIABLE", "CALLERID(num)"), ("STREAM FILE", "hotline/welcome", ""),
            ("GET DATA", "hotline/enter-amount", "5000", "6"), ("SET VARIABLE", "HOTLINE_INTENT", "fee_reduction"),
            ("SET VARIABLE", "HOTLINE_DIAL", "PJSIP/4002@carrier-a")]


# -- the two servers (child processes) ---------------------------------------------------------


def _bench_script(call):  # a Hotline AGI script: the same six commands
    from agi.session import agi

    for name, *args in COMMANDS:
        yield from agi(name, *args)


async def _serve_hotline(port: int) -> None:
    from agi.fastagi import FastAgiServer
    from agi.session import AgiTimeouts
    from hotline.logs import configure_logging

    configure_logging("WARNING")
    server = FastAgiServer("127.0.0.1", port, effects=None, menus={}, scripts={"bench": _bench_script},
                           timeouts=AgiTimeouts(media_s=120.0))
    await server.start()
    if os.environ.get("BENCH_GC_FREEZE", "1") == "1":
        gc.freeze()  # what `hotline serve` does after start-up: the imported world leaves the GC's scans
    print("READY", flush=True)
    await asyncio.Event().wait()


async def _serve_panoramisk(port: int) -> None:
    import logging

    from panoramisk.fast_agi import Application

    logging.basicConfig(level=logging.WARNING)

    async def handler(request):
        for name, *args in COMMANDS:
            await request.send_command(" ".join([name, *(f'"{a}"' if not a or " " in a else a for a in args)]))

    app = Application(loop=asyncio.get_running_loop())
    app.add_route("bench/bench", handler)
    server = await asyncio.start_server(app.handler, "127.0.0.1", port, backlog=4096)
    async with server:
        print("READY", flush=True)
        await asyncio.Event().wait()


def _start(kind: str) -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # The child says when it listens: probing the port with an empty connection would make
    # panoramisk spin for ever on the missing header (fault F3), frozen before the bench starts.
    proc = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE)
    if proc.stdout.readline().strip() != b"READY":
        raise RuntimeError(f"{kind} server did not start")
    return proc, port


# -- the Asterisk side ---------------------------------------------------------------------------


class _Asterisk(asyncio.Protocol):
    """One res_agi session: header, then one canned reply per command line; records waits."""

    def __init__(self, uid: int, waits: list[float], done: asyncio.Future, hold: asyncio.Future | None) -> None:
        self.uid, self.waits, self.done, self.hold = uid, waits, done, hold
        self.buf = b""
        self.since = 0.0
        self.commands = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(HEADER.format(uid=self.uid).encode())
        self.since = time.perf_counter()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            now = time.perf_counter()
            if self.hold is None:
                self.waits.append(now - self.since)
            self.commands += 1
            reply = next(r for prefix, r in REPLIES.items() if line.startswith(prefix))
            if self.hold is not None and line.startswith(b"STREAM FILE"):  # a caller listening, for a while
                self.hold.add_done_callback(lambda _f, r=reply: self._reply(r))
            else:
                self._reply(reply)

    def _reply(self, reply: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(reply)
            self.since = time.perf_counter()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(self.commands)


async def _session(port: int, uid: int, waits: list[float], hold: asyncio.Future | None = None) -> int:
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    await loop.create_connection(lambda: _Asterisk(uid, waits, done, hold), "127.0.0.1", port)
    return await asyncio.wait_for(done, 120)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def closed_loop(port: int, concurrency: int, sessions: int) -> dict:
    waits: list[float] = []
    counter = iter(range(sessions))
    bad = 0

    async def worker() -> None:
        nonlocal bad
        for uid in counter:
            if await _session(port, uid, waits) != len(COMMANDS):
                bad += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"sessions_s": sessions / elapsed, "p50_ms": _pct(waits, 0.5), "p99_ms": _pct(waits, 0.99), "bad": bad}


async def realistic(port: int, idle: int, rate: float, calls: int) -> dict:
    loop = asyncio.get_running_loop()
    hold = loop.create_future()
    idle_waits: list[float] = []
    idlers = [asyncio.create_task(_session(port, 10_000_000 + i, idle_waits, hold)) for i in range(idle)]
    await asyncio.sleep(2.0)  # all idle sessions parked inside STREAM FILE
    waits: list[float] = []
    tasks = []
    started = time.perf_counter()
    for uid in range(calls):
        tasks.append(asyncio.create_task(_session(port, uid, waits)))
        await asyncio.sleep(max(0.0, started + (uid + 1) / rate - time.perf_counter()))
    done = await asyncio.gather(*tasks)
    hold.set_result(None)
    await asyncio.gather(*idlers)
    return {"p50_ms": _pct(waits, 0.5), "p99_ms": _pct(waits, 0.99), "max_ms": max(waits) * 1000,
            "bad": sum(1 for d in done if d != len(COMMANDS))}


# -- spawned start-up ----------------------------------------------------------------------------

BARE = ("import sys\nenv = {}\nfor line in sys.stdin:\n    line = line.rstrip('\\n')\n    if not line: break\n"
        "    k, _, v = line.partition(': ')\n    env[k] = v\nsys.stdout.write('ANSWER\\n'); sys.stdout.flush()\n"
        "sys.stdin.readline()\n")
PYST2 = "from asterisk.agi import AGI\nagi = AGI()\nagi.answer()\n"


def _first_command_ms(argv: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={**os.environ, **(env or {})}, cwd=ROOT)
    proc.stdin.write(HEADER.format(uid=1).replace("agi_network: yes\n", "").encode())
    proc.stdin.flush()
    line = proc.stdout.readline()
    elapsed = (time.perf_counter() - started) * 1000
    proc.kill()
    proc.wait()
    assert line.startswith(b"ANSWER"), line
    return elapsed


def _exit_ms(argv: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, env={**os.environ, **(env or {})})
    return (time.perf_counter() - started) * 1000


def startup(runs: int) -> dict:
    """Median (min) ms per case over ``runs`` rounds, the cases taking turns within a round."""
    hotline_agi = str(Path(sys.executable).with_name("hotline-agi"))  # the console script Asterisk runs
    server, port = _start("hotline")
    with socket.socket() as refusing:  # bound, not listening: the relay is refused at once
        refusing.bind(("127.0.0.1", 0))
        engine = {"HOTLINE_REDIS_URL": "redis://127.0.0.1:1/0", "HOTLINE_CONF_DIR": str(ROOT / "conf"),
                  "HOTLINE_AGI_PORT": str(refusing.getsockname()[1])}  # no I/O before the 1st command
        cases = {"python -c pass": (_exit_ms, [sys.executable, "-c", "pass"], None),
                 "bare stdlib script": (_first_command_ms, [sys.executable, "-c", BARE], None),
                 "pyst2 AGI script": (_first_command_ms, [sys.executable, "-c", PYST2], None),
                 "hotline-agi in-process": (_first_command_ms, [hotline_agi, "demo", "ivr", "main"], engine),
                 "hotline-agi relay": (_first_command_ms, [hotline_agi, "bench", "bench"],
                                       {"HOTLINE_AGI_HOST": "127.0.0.1", "HOTLINE_AGI_PORT": str(port)})}
        times: dict[str, list[float]] = {name: [] for name in cases}
        results = {}
        try:
            for _ in range(runs):
                for name, (measure, argv, env) in list(cases.items()):
                    try:
                        times[name].append(measure(argv, env))
                    except AssertionError as exc:
                        results[name] = f"failed: {exc}"
                        del cases[name]
        finally:
            server.terminate()
            server.wait()
    for name in cases:  # the ones that never failed
        results[name] = f"{statistics.median(times[name]):.0f} ms (min {min(times[name]):.0f})"
    return results


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _measure(proc: subprocess.Popen, run) -> dict:
    before = _cpu_s(proc.pid)
    result = await run
    result["cpu_ms"] = (_cpu_s(proc.pid) - before) * 1000
    return result


async def _rounds(rounds: int, quick: bool) -> dict:
    """Both servers up at once, cases run alternately, ``rounds`` times; medians per figure."""
    servers = {kind: _start(kind) for kind in ("panoramisk", "hotline")}
    n100, n1000, ncalls = (2000, 3000, 600) if quick else (6000, 10000, 2000)
    cases = {"closed 100": (lambda port: closed_loop(port, 100, n100), n100),
             "closed 1000": (lambda port: closed_loop(port, 1000, n1000), n1000),
             "realistic": (lambda port: realistic(port, 1000, 200, ncalls), ncalls)}
    raw: dict = {kind: {case: [] for case in cases} for kind in servers}
    try:
        for proc, port in servers.values():
            await closed_loop(port, 50, 500)  # warm-up
        for _ in range(rounds):
            for case, (run, sessions) in cases.items():
                for kind, (proc, port) in servers.items():
                    result = await _measure(proc, run(port))
                    result["cpu_ms"] /= sessions
                    raw[kind][case].append(result)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait()
    return {kind: {case: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for case, runs in by.items()}
            for kind, by in raw.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--startup", action="store_true", help="only the spawned AGI start-up figures")
    parser.add_argument("--serve", choices=["hotline", "panoramisk"])
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    if args.serve:
        asyncio.run({"hotline": _serve_hotline, "panoramisk": _serve_panoramisk}[args.serve](args.port))
        return
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    if not args.startup:
        _print_rounds(args)
    for name, value in startup(5 if args.quick else 15).items():
        print(f"start-up to first command  {name:22} {value}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


def _print_rounds(args: argparse.Namespace) -> None:
    results = asyncio.run(_rounds(args.rounds, args.quick))
    print(f"medians of {args.rounds} alternating rounds; cpu_ms = server CPU per session")
    for case in ("closed 100", "closed 1000", "realistic"):
        for kind in ("panoramisk", "hotline"):
            r = results[kind][case]
            print(f"{case:12} {kind:10} " + "  ".join(f"{k}={v:.2f}" for k, v in r.items()))
    for case in ("closed 100", "closed 1000"):
        ratio = results["hotline"][case]["sessions_s"] / results["panoramisk"][case]["sessions_s"]
        cpu = results["panoramisk"][case]["cpu_ms"] / results["hotline"][case]["cpu_ms"]
        print(f"{case}: hotline/panoramisk sessions/s = {ratio:.2f}, CPU efficiency = {cpu:.2f} (target >= 0.8)")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
