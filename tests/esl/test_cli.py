"""``hotline esl`` as an operator runs it: re-exec under gevent, clean SIGTERM, one-line start-up errors."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time

from tests.conftest import free_port
from tests.esl.conftest import ROOT, EslProcess, write_conf
from tests.sim.freeswitch import Caller, SimCall


def test_the_click_command_reexecs_itself_under_gevent_and_stops_on_sigterm(redis_url, tmp_path, tenant):
    conf = write_conf(tmp_path / "conf", [tenant])
    port = free_port()
    code = f"import hotline.cli; from esl.cli import esl; esl(['--port', '{port}'], prog_name='hotline esl')"
    launcher = [sys.executable, "-c", code]
    process = EslProcess(conf, redis_url, port, argv=launcher).start()
    pid = process.proc.pid
    sim = SimCall(variables={"hotline_tenant": tenant}, caller=Caller(["2", "500#"]))
    result = asyncio.run(asyncio.wait_for(sim.run("127.0.0.1", port), 10))
    assert result.bridged == ["sofia/gateway/primary/4002"]
    started = time.monotonic()
    assert process.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 3 and process.proc.pid == pid  # same process: execv, not a child
    assert process.records(event="esl stopped")


def test_sigterm_hands_calls_still_in_the_ivr_back_to_the_dialplan(redis_url, tmp_path, tenant):
    conf = write_conf(tmp_path / "conf", [tenant])
    process = EslProcess(conf, redis_url, free_port(), env={"HOTLINE_ESL_PROMPT_TIMEOUT_S": "30"}).start()

    async def run() -> object:
        sim = SimCall(variables={"hotline_tenant": tenant}, caller=Caller(["2", "500#"]),
                      sounds={"hotline/welcome.wav": 1_000_000})
        task = asyncio.create_task(sim.run("127.0.0.1", process.port))
        while sim.playbacks == 0:
            await asyncio.sleep(0.01)
        process.proc.send_signal(signal.SIGINT)
        return await asyncio.wait_for(task, 5)

    result = asyncio.run(run())
    assert result.exited and not result.bridged and result.hangup_cause == ""
    assert process.proc.wait(5) == 0
    assert process.records(event="calls still in the IVR at shutdown, handing them back to the dialplan")


def test_port_in_use_is_one_line_and_exit_status_2(redis_url, tmp_path, tenant):
    conf = write_conf(tmp_path / "conf", [tenant])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = EslProcess(conf, redis_url, port)
        done = subprocess.run(process.argv, cwd=ROOT, env=process.env, capture_output=True, timeout=20, check=False)
    assert done.returncode == 2
    assert f"ESL port 127.0.0.1:{port} is already in use" in done.stderr.decode()
    assert "Traceback" not in done.stderr.decode()


def test_no_redis_is_one_line_and_exit_status_2(tmp_path, tenant):
    conf = write_conf(tmp_path / "conf", [tenant])
    process = EslProcess(conf, "", free_port(), env={"HOTLINE_DATA_DIR": str(tmp_path / "data")})
    process.env.pop("HOTLINE_REDIS_URL")
    done = subprocess.run(process.argv, cwd=ROOT, env=process.env, capture_output=True, timeout=20, check=False)
    assert done.returncode == 2 and "no Redis" in done.stderr.decode()


def test_gevent_never_patches_the_test_process():
    import socket as stdlib_socket
    import threading

    assert stdlib_socket.socket.__module__ == "socket" and threading.Lock.__module__ != "gevent.lock"
    if "gevent.monkey" in sys.modules:
        assert not sys.modules["gevent.monkey"].is_module_patched("socket")
