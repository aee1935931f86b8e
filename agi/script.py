"""``hotline-agi <tenant> <script> [<arg>] [key=value ...]``: the same scripts as FastAGI, run by AGI() over stdin/stdout.

Asterisk starts one process per call, so start-up is what this costs. When the
FastAGI server of a running ``hotline serve`` accepts (``HOTLINE_AGI_HOST`` /
``HOTLINE_AGI_PORT``), the call is relayed to it and the engine is never
imported (``agi.relay``); otherwise it runs here (``agi.inprocess``, imported
only then), and stderr (Asterisk's console) says so once.

On hang-up Asterisk sends SIGHUP and no ``HANGUP`` line. SIGHUP is ignored: the
next command answers ``-1`` or 511 and the call ends through the normal
hang-up path (trajectory handed over), here or in the server. This is the
process entry point, like ``hotline/cli.py``, hence the one signal disposition set here.
Exit status: 0 (AGISTATUS=SUCCESS, the dialplan reads HOTLINE_*), 3 when the
dialogue broke before a route was left (AGISTATUS=FAILURE → hard phones); how
the relay tells which is in ``agi.relay``.
"""

from __future__ import annotations

import signal
import sys

from agi import relay

__all__ = ["main"]


def main(argv: list[str] | None = None, rfd: int = 0, wfd: int = 1) -> int:
    """Run one spawned AGI session, relayed or in-process; returns the exit status (module docstring)."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    sys.stdout = sys.stderr  # fd 1 is the AGI channel: a stray print or log line would be taken as a command
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        server = relay.connect()
    except OSError as exc:
        print(f"hotline-agi: {exc}; running the call in-process", file=sys.stderr)
    else:
        return relay.relay(server, args, rfd, wfd)
    from agi.inprocess import run

    return run(args, rfd, wfd)


if __name__ == "__main__":
    sys.exit(main())
