"""IVR engine alone, no I/O: steps per second on the demo menu, and memory per live call script.

Run: ``python bench/ivr_engine.py [calls] [live]``. A step is one command yielded
and answered. The fee-reduction path (2, 500#) is 5 steps; results are built
once, so only the engine is timed. Memory: ``live`` scripts are started and left
waiting at the main menu's key read (the state most live calls sit in), and
tracemalloc measures what they hold (the shared menu model is loaded before).
"""

from __future__ import annotations

import platform
import sys
import time
import tracemalloc
from pathlib import Path

from ivr.check import load_menus
from ivr.commands import Collect, Digits, Done, RouteDecision, RouteKind
from ivr.engine import call_script

CONF = Path(__file__).resolve().parent.parent / "conf"
FEE_REDUCTION = [
    Done(elapsed_ms=100),  # Answer
    Done(elapsed_ms=2100),  # Play welcome
    Digits("2", elapsed_ms=3000),  # Play main menu, barge-in
    Digits("500", elapsed_ms=9000),  # Collect amount
    RouteDecision(RouteKind.TRUNK, "trunk-a", dial="PJSIP/reduction@trunk-a", elapsed_ms=9100),  # Route
]
TO_MENU_WAIT = [Done(elapsed_ms=100), Done(elapsed_ms=2100), Done(elapsed_ms=9000)]


def run_calls(menus, calls: int) -> tuple[int, float]:
    steps = 0
    start = time.perf_counter()
    for _ in range(calls):
        script = call_script(menus, "demo", "main", "zh")
        next(script)
        steps += 1
        try:
            for result in FEE_REDUCTION:
                script.send(result)
                steps += 1
        except StopIteration:
            pass
    return steps, time.perf_counter() - start


def live_scripts(menus, count: int) -> tuple[list, int]:
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    scripts = []
    for _ in range(count):
        script = call_script(menus, "demo", "main", "en")
        next(script)
        for result in TO_MENU_WAIT:
            command = script.send(result)
        assert isinstance(command, Collect)
        scripts.append(script)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    held = sum(s.size_diff for s in after.compare_to(before, "filename"))
    return scripts, held


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    live = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    menus = load_menus(CONF)
    run_calls(menus, 1000)  # warm up
    best = min((run_calls(menus, calls) for _ in range(3)), key=lambda r: r[1])
    steps, seconds = best
    scripts, held = live_scripts(menus, live)
    print(f"machine: {platform.machine()}, python {platform.python_version()}, {platform.system()}")
    print(f"calls: {calls} x fee-reduction path ({steps // calls} steps each), best of 3")
    print(f"  {steps / seconds:,.0f} steps/s, {calls / seconds:,.0f} calls/s, {seconds / calls * 1e6:.1f} us/call")
    print(f"live scripts waiting at the main menu: {len(scripts)}")
    print(f"  {held / len(scripts):,.0f} bytes per live script ({held / 2**20:.1f} MiB total)")


if __name__ == "__main__":
    main()
