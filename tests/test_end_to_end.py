"""One caller, the whole system: Asterisk (simulated) → FastAGI → IVR → router → stream → ticket and call log.

Runs a real ``hotline serve`` on embedded defaults (SQLite file, embedded Redis)
in a scratch data dir, exactly as the README's first command does.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.hotline.test_serve import HOTLINE, env_for, wait_healthy
from tests.sim.asterisk_agi import AsteriskChannel, Caller, call_fastagi


def get_json(port: int, path: str, token: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as resp:
        return json.load(resp)


def poll(fetch, ready, timeout: float = 15.0):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ready(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


async def test_fee_reduction_call_becomes_a_ticket_through_a_real_serve(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    http, agi = int(env["HOTLINE_HTTP_PORT"]), int(env["HOTLINE_AGI_PORT"])
    proc = subprocess.Popen([*HOTLINE, "serve"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_healthy(proc, http)
        made = subprocess.run([*HOTLINE, "tokens", "create", "--tenant", "demo", "--role", "admin", "--name", "ops"],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        token = made.stdout.strip().splitlines()[-1]

        caller = "13900000001"
        channel = AsteriskChannel("demo/ivr/main", Caller(keys=["2", "500#"]), uniqueid="1795900000.1", callerid=caller)
        result = await call_fastagi(agi, channel)
        assert result.variables["HOTLINE_INTENT"] == "fee_reduction"
        assert result.variables["HOTLINE_ROUTE"] == "primary"
        assert result.variables["HOTLINE_DIAL"].startswith("PJSIP/") and "@carrier-a" in result.variables["HOTLINE_DIAL"]
        assert result.variables["HOTLINE_CALL_ID"] == "1795900000.1"

        tickets = poll(lambda: get_json(http, f"/api/v1/tickets?caller={caller}", token), lambda b: b.get("tickets"))
        assert len(tickets["tickets"]) == 1
        assert tickets["tickets"][0]["fields"]["amount"] == 500
        calls = poll(lambda: get_json(http, f"/api/v1/calls?caller={caller}", token), lambda b: b.get("calls"))
        assert [c["id"] for c in calls["calls"]] == ["1795900000.1"]
        assert calls["calls"][0]["intent"] == "fee_reduction"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()[-3000:]
    log = err.decode()
    assert "call_id=" in log and "1795900000.1" in log, "the call's log lines must carry its call id"
