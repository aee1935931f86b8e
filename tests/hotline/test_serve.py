"""``hotline serve`` and the CLI as an operator runs them: real processes, real ports."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.sql_fixtures import POSTGRES_URL, _pg_exec

REPO = Path(__file__).resolve().parents[2]
HOTLINE = [sys.executable, "-m", "hotline"]


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(HOTLINE_CONF_DIR=str(REPO / "conf"), HOTLINE_DATA_DIR=str(data_dir),
               HOTLINE_HTTP_PORT=str(free_port()), HOTLINE_AGI_PORT=str(free_port()), HOTLINE_ESL_PORT=str(free_port()))
    env.update(extra)
    return env


def healthz(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def wait_healthy(proc: subprocess.Popen, port: int, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "serve exited"
        try:
            status, body = healthz(port)
            if status == 200:
                return body
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("serve did not become healthy")


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def test_serve_on_embedded_defaults_is_healthy_and_stops_clean(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    proc = subprocess.Popen([*HOTLINE, "serve"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        body = wait_healthy(proc, int(env["HOTLINE_HTTP_PORT"]))
        assert body["sql"]["status"] == "ok" and body["redis"]["status"] == "ok"
        kids = children(proc.pid)
        assert kids, "the embedded redis-server should be a child of serve"
        # A CLI command beside serve finds the running embedded Redis instead of starting one.
        probe = subprocess.run([sys.executable, "-c", "from hotline.settings import load_settings;"
                                "from hotline.redisconn import sync_client; print(sync_client(load_settings()).ping())"],
                               env=env, cwd=tmp_path, capture_output=True, text=True, timeout=20)
        assert probe.stdout.strip() == "True", probe.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err.decode()
    assert "hotline stopped" in err.decode()
    assert not [k for k in kids if alive(k)], "serve left a child process behind"


def test_port_in_use_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([*HOTLINE, "serve"], env=env_for(tmp_path, HOTLINE_HTTP_PORT=str(port)), cwd=tmp_path,
                              capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert f"HTTP port 127.0.0.1:{port} is already in use" in proc.stderr
    assert "Traceback" not in proc.stderr
    leftover = subprocess.run(["pgrep", "-f", f"redis-server.*{tmp_path}"], capture_output=True, text=True).stdout
    assert leftover == "", "a failed start left the embedded redis-server running"


def test_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://hotline:pw@127.0.0.1:{free_port()}/nowhere"
    proc = subprocess.run([*HOTLINE, "serve"], env=env_for(tmp_path, HOTLINE_DATABASE_URL=url), cwd=tmp_path,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "cannot use the database at postgresql+asyncpg://hotline:***@127.0.0.1" in proc.stderr
    assert "pw@" not in proc.stderr and "Traceback" not in proc.stderr


def test_bad_setting_is_one_clear_line(tmp_path: Path) -> None:
    proc = subprocess.run([*HOTLINE, "serve"], env=env_for(tmp_path, HOTLINE_AGI_PORT="many"), cwd=tmp_path,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: environment variable HOTLINE_AGI_PORT: Input should be a valid integer, unable to parse string as an integer"


@pytest.mark.postgres
def test_postgres_schema_behind_is_refused_until_db_upgrade(tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    name = f"hotline_serve_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg_exec(POSTGRES_URL, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        env = env_for(tmp_path, HOTLINE_DATABASE_URL=url)
        refused = subprocess.run([*HOTLINE, "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
        assert refused.returncode == 2
        assert "run `hotline db upgrade` first" in refused.stderr
        upgraded = subprocess.run([*HOTLINE, "db", "upgrade"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert upgraded.returncode == 0, upgraded.stderr
        proc = subprocess.Popen([*HOTLINE, "serve"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert wait_healthy(proc, int(env["HOTLINE_HTTP_PORT"]))["sql"]["status"] == "ok"
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=20)
        assert proc.returncode == 0
    finally:
        asyncio.run(_pg_exec(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
