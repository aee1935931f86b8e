"""The spawned AGI script (``hotline-agi``) over pipes, as AGI() runs it, in-process: same engine, protocol.

(Relayed to a running FastAGI server: tests/agi/test_relay.py.)
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

import pytest

from agi.fastagi import FastAgiServer
from hotline.keys import intents_stream
from tests.sim.asterisk_agi import AsteriskChannel, Caller, call_spawned


async def test_spawned_demo_call_routes_fee_reduction(edge, in_process_env: dict[str, str], tenant: str,
                                                      async_redis) -> None:
    channel = AsteriskChannel("/usr/bin/hotline-agi", Caller(keys=["2", "500#"]))
    result, status = await call_spawned([tenant, "ivr", "main"], channel, env=in_process_env)
    assert status == 0 and result.agistatus == "SUCCESS"
    assert result.variables["HOTLINE_INTENT"] == "fee_reduction"
    assert result.variables["HOTLINE_DIAL"] == "PJSIP/4002@carrier-a"
    [(_, fields)] = await async_redis.xrange(intents_stream(tenant))
    assert fields[b"intent"] == b"fee_reduction"


async def test_spawned_hangup_is_sighup_without_a_line_and_the_trajectory_is_kept(
        edge, in_process_env: dict[str, str], tenant: str, async_redis) -> None:
    channel = AsteriskChannel("/usr/bin/hotline-agi", Caller(keys=["2"], hangup_on=3))  # during GET DATA
    result, status = await call_spawned([tenant, "ivr", "main"], channel, env=in_process_env)
    assert status == 0 and result.agistatus == "HANGUP"
    assert result.commands[4:] == ["CHANNEL STATUS"]  # the -1 probed once, then nothing more
    [(_, fields)] = await async_redis.xrange(intents_stream(tenant))
    assert fields[b"outcome"] == b"abandoned"


async def test_spawned_unknown_menu_leaves_fallback_variables(in_process_env: dict[str, str],
                                                               tenant: str) -> None:
    channel = AsteriskChannel("/usr/bin/hotline-agi")
    result, status = await call_spawned([tenant, "ivr", "nosuch"], channel, env=in_process_env)
    assert status == 0
    assert result.variables["HOTLINE_ROUTE"] == "fallback"


@pytest.mark.parametrize("mode", ["in-process", "relay"])
async def test_spawned_without_environment_exits_with_failure(mode: str, in_process_env: dict[str, str],
                                                              agi_server: FastAgiServer) -> None:
    env = {**os.environ, **in_process_env}
    if mode == "relay":
        env["HOTLINE_AGI_PORT"] = str(agi_server.port)
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "agi.script", "demo", "ivr", "main",
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE, env=env)
    proc.stdin.write(b"agi_network_scri")
    proc.stdin.close()
    assert await asyncio.wait_for(proc.wait(), 10) == 3
    errors = await proc.stderr.read()
    assert b"no AGI environment" in errors
    assert (b"running the call in-process" in errors) is (mode == "in-process")
    assert time.monotonic() - started < 5
