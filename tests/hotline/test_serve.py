"""``hotline serve`` and the CLI as an operator runs them: real processes, real ports."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import redis

from hotline.keys import intents_stream
from hotline.redisconn import EmbeddedRedis
from tests.conftest import free_port
from tests.flows.helpers import intent_event
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


def start_serve(data_dir: Path) -> subprocess.Popen:
    """A healthy ``hotline serve`` on embedded defaults (embedded Redis, SQLite) in ``data_dir``."""
    env = env_for(data_dir)
    proc = subprocess.Popen([*HOTLINE, "serve"], env=env, cwd=data_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_healthy(proc, int(env["HOTLINE_HTTP_PORT"]))
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    return proc


def stop_serve(proc: subprocess.Popen) -> tuple[float, str]:
    """SIGTERM, as systemd and docker send it: seconds until the process exited, and its stderr."""
    begun = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    return time.monotonic() - begun, err.decode()


def event_of(line: str) -> str | None:
    """The event a serve log line records."""
    found = re.search(r"event='([^']*)'", line)
    return found[1] if found else None


def logged(err: str, *events: str) -> list[str]:
    """The lines of ``err`` that log one of ``events``, in order."""
    return [line for line in err.splitlines() if event_of(line) in events]


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


def test_sigterm_stops_an_idle_serve_within_a_second_and_logs_each_stage(tmp_path: Path) -> None:
    proc = start_serve(tmp_path)
    kids = children(proc.pid)
    time.sleep(0.5)  # idle: every stream consumer sits in its blocking read
    took, err = stop_serve(proc)
    assert proc.returncode == 0, err
    assert took < 1.5, f"stopped in {took:.2f}s: {logged(err, 'http stopped', 'workers stopped', 'hotline stopped')}"
    stages = logged(err, "hotline stopping", "http stopped", "workers stopped", "embedded redis stopped",
                    "hotline stopped")
    assert [event_of(line) for line in stages] == [
        "hotline stopping", "http stopped", "workers stopped", "embedded redis stopped", "hotline stopped"]
    assert all(" ms=" in line for line in stages[1:] if "redis" not in line), stages
    assert kids and not [k for k in kids if alive(k)], "serve left a child process behind"


def test_a_stop_during_an_intake_batch_finishes_it_and_acks_it_once(tmp_path: Path) -> None:
    proc = start_serve(tmp_path)
    stream = intents_stream("demo")
    db = sqlite3.connect(tmp_path / "hotline.sqlite3", isolation_level=None)
    try:
        with redis.Redis(unix_socket_path=str(tmp_path / "redis.sock")) as client:
            db.execute("BEGIN IMMEDIATE")  # the database is busy: the batch's transaction waits in its handler
            client.xadd(stream, intent_event("demo", "stop-1").to_fields())
            deadline = time.monotonic() + 10
            while client.xpending(stream, "flows")["pending"] != 1:
                assert time.monotonic() < deadline, "the flow intake did not take the entry"
                time.sleep(0.02)
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert proc.poll() is None, "serve must wait for the batch in hand"
            assert client.xpending(stream, "flows")["pending"] == 1, "not acked before its commit"
        db.execute("ROLLBACK")
        _, err = stop_serve(proc)
        assert proc.returncode == 0, err
        assert len(logged(err, "intent batch")) == 1, "handled once"
        [tickets] = db.execute("SELECT count(*) FROM tickets WHERE tenant = 'demo'").fetchone()
        [calls] = db.execute("SELECT count(*) FROM calls WHERE tenant = 'demo' AND call_id = 'stop-1'").fetchone()
        assert (tickets, calls) == (1, 1), "the flow intake and the call log both committed their batch"
    finally:
        db.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    embedded = EmbeddedRedis(tmp_path)  # the stopped serve's Redis, from its append-only file
    embedded.start()
    try:
        with redis.Redis(unix_socket_path=str(embedded.socket)) as client:
            assert {g["name"].decode(): g["pending"] for g in client.xinfo_groups(stream)} == {
                "call-log": 0, "chat-links": 0, "flows": 0}, "every group acked its batch before serve exited"
    finally:
        embedded.stop()
