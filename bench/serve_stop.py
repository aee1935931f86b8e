"""How long ``hotline serve`` takes to stop: SIGTERM to process exit, on embedded defaults, idle.

Usage: python -m bench.serve_stop [--runs 5] (from the repository root).

Each run starts a real ``hotline serve`` in a fresh temp data dir (embedded
Redis, SQLite, the repository's conf/) as tests/hotline/test_serve.py does,
waits until /healthz answers 200 and a second more (idle: every stream
consumer sits in its blocking read), sends SIGTERM and times until the
process has exited. Operators restart serve on every deploy, and systemd and
docker kill it once their stop timeout passes, so this figure has to stay
small. Printed: each run, the median, and the stage lines serve logged on its
last stop.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hotline.test_serve import start_serve, stop_serve


def stop_once() -> tuple[float, str]:
    """One start, a second idle, SIGTERM: seconds from the signal to the exit, and serve's stderr."""
    with tempfile.TemporaryDirectory() as data_dir:
        proc = start_serve(Path(data_dir))
        try:
            time.sleep(1.0)
            return stop_serve(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times, err = [], ""
    for run in range(args.runs):
        seconds, err = stop_once()
        times.append(seconds)
        print(f"run {run + 1}: {seconds * 1000:.0f} ms")
    print(f"median of {args.runs}: {statistics.median(times) * 1000:.0f} ms")
    print("last stop as serve logged it:")
    print("\n".join(line for line in err.splitlines() if "stop" in line))


if __name__ == "__main__":
    main()
