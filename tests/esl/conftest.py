"""Fixtures for the FreeSWITCH edge: a conf dir with tenants of its own, and ``python -m esl`` in a subprocess.

The gevent server always runs in a child process, so gevent's monkey-patching
never reaches the pytest process. The child logs JSON lines on stderr; tests
read them to check what was logged for a call. Tenants are fresh names, so
the shared Redis needs no flushing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
TENANTS_PER_SERVER = 30


EDGES_MENU = """\
# The IVR's own ways out (no router): hang up, transfer to an extension, transfer to a dial string.
language: en
start: ask
prompts:
  pick: {en: {sound: hotline/pick, text: "1 to leave, 2 for the desk, 3 for the operator."}}
  bye: {en: {sound: hotline/goodbye, text: "Goodbye."}}
nodes:
  ask: {type: menu, prompts: [pick], keys: {1: bye, 2: desk, 3: operator, 4: bot}, max_failures: 1,
        on_failure: bye}
  bot: {type: bot, intents: {operator: operator}, default: bye}
  bye: {type: hangup, prompts: [bye]}
  desk: {type: transfer, destination: "1000"}
  operator: {type: transfer, destination: "sofia/gateway/operator/5550100"}
"""


def write_conf(root: Path, tenants: list[str]) -> Path:
    """The shipped conf with the demo tenant's menus and routing copied under each name in ``tenants``,
    plus a menu ``edges`` (EDGES_MENU) for each."""
    src = ROOT / "conf"
    root.mkdir(parents=True, exist_ok=True)
    for name in ("hotline.yaml", "intents.yaml"):
        shutil.copy(src / name, root / name)
    for tenant in tenants:
        shutil.copytree(src / "ivr" / "demo", root / "ivr" / tenant)
        (root / "ivr" / tenant / "edges.yaml").write_text(EDGES_MENU)
    routing = yaml.safe_load((src / "routing.yaml").read_text())
    demo = routing["tenants"]["demo"]
    routing["tenants"] = {tenant: demo for tenant in tenants}
    (root / "routing.yaml").write_text(yaml.safe_dump(routing, sort_keys=False))
    return root


class EslProcess:
    """``python -m esl`` (or any launcher of it) with its stderr collected line by line."""

    def __init__(self, conf: Path, redis_url: str, port: int, *, argv: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.conf, self.port = conf, port
        self.argv = argv or [sys.executable, "-m", "esl", "--port", str(port)]
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")},
            "HOTLINE_CONF_DIR": str(conf), "HOTLINE_REDIS_URL": redis_url, "HOTLINE_LOG_FORMAT": "json",
            "HOTLINE_NODE_NAME": f"test-{uuid.uuid4().hex[:6]}", "HOTLINE_ESL_REPLY_TIMEOUT_S": "1",
            "HOTLINE_ESL_PROMPT_TIMEOUT_S": "1.5", "HOTLINE_ESL_SHUTDOWN_GRACE_S": "0.5", **(env or {}),
        }
        self.lines: list[str] = []
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> EslProcess:
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        threading.Thread(target=self._collect, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not any("esl listening" in line for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("hotline esl did not start:\n" + "\n".join(self.lines[-30:]))
            time.sleep(0.02)
        return self

    def _collect(self) -> None:
        assert self.proc and self.proc.stderr
        for raw in self.proc.stderr:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def records(self, **match: str) -> list[dict]:
        """Parsed JSON log lines whose fields equal ``match``."""
        out = []
        for line in list(self.lines):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if all(record.get(k) == v for k, v in match.items()):
                out.append(record)
        return out

    def wait_for_log(self, timeout: float = 5.0, **match: str) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.records(**match)
            if found:
                return found[-1]
            time.sleep(0.02)
        raise AssertionError(f"no log line with {match}; last lines:\n" + "\n".join(self.lines[-20:]))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


class EslServer:
    """A running ``hotline esl`` and the unused tenants its conf knows."""

    def __init__(self, process: EslProcess, tenants: list[str], conf: Path) -> None:
        self.process, self.tenants, self.conf = process, list(tenants), conf
        self.port = process.port

    def take_tenant(self) -> str:
        return self.tenants.pop()


@pytest.fixture(scope="module")
def esl_server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EslServer]:
    prefix = f"f{uuid.uuid4().hex[:8]}"
    tenants = [f"{prefix}-{i}" for i in range(TENANTS_PER_SERVER)]
    conf = write_conf(tmp_path_factory.mktemp("esl-conf"), tenants)
    process = EslProcess(conf, redis_url, free_port()).start()
    try:
        yield EslServer(process, tenants, conf)
    finally:
        assert process.stop() == 0, "\n".join(process.lines[-20:])


@pytest.fixture
def esl_tenant(esl_server: EslServer) -> str:
    """A tenant of the running server's conf that no other test uses."""
    return esl_server.take_tenant()
