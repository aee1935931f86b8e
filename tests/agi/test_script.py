"""The spawned AGI script (``hotline-agi``) over pipes, as AGI() runs it: same engine, same protocol."""

from __future__ import annotations

import time
from pathlib import Path

from hotline.keys import intents_stream
from tests.sim.asterisk_agi import AsteriskChannel, Caller, call_spawned


def _env(redis_url: str, conf: Path) -> dict[str, str]:
    return {"HOTLINE_REDIS_URL": redis_url, "HOTLINE_CONF_DIR": str(conf), "HOTLINE_NODE_NAME": "test-node"}


async def test_spawned_demo_call_routes_fee_reduction(edge, demo_conf: Path, redis_url: str, tenant: str,
                                                      async_redis) -> None:
    channel = AsteriskChannel("/usr/bin/hotline-agi", Caller(keys=["2", "500#"]))
    result, status = await call_spawned([tenant, "ivr", "main"], channel, env=_env(redis_url, demo_conf))
    assert status == 0 and result.agistatus == "SUCCESS"
    assert result.variables["HOTLINE_INTENT"] == "fee_reduction"
    assert result.variables["HOTLINE_DIAL"] == "PJSIP/4002@carrier-a"
    [(_, fields)] = await async_redis.xrange(intents_stream(tenant))
    assert fields[b"intent"] == b"fee_reduction"


async def test_spawned_hangup_is_sighup_without_a_line_and_the_trajectory_is_kept(
        edge, demo_conf: Path, redis_url: str, tenant: str, async_redis) -> None:
    channel = AsteriskChannel("/usr/bin/hotline-agi", Caller(keys=["2"], hangup_on=3))  # during GET DATA
    result, status = await call_spawned([tenant, "ivr", "main"], channel, env=_env(redis_url, demo_conf))
    assert status == 0 and result.agistatus == "HANGUP"
    assert result.commands[4:] == ["CHANNEL STATUS"]  # the -1 probed once, then nothing more
    [(_, fields)] = await async_redis.xrange(intents_stream(tenant))
    assert fields[b"outcome"] == b"abandoned"


async def test_spawned_unknown_menu_leaves_fallback_variables(demo_conf: Path, redis_url: str, tenant: str) -> None:
    channel = AsteriskChannel("/usr/bin/hotline-agi")
    result, status = await call_spawned([tenant, "ivr", "nosuch"], channel, env=_env(redis_url, demo_conf))
    assert status == 0
    assert result.variables["HOTLINE_ROUTE"] == "fallback"


async def test_spawned_without_environment_exits_with_failure(tmp_path: Path) -> None:
    import asyncio
    import sys

    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "agi.script", "demo", "ivr", "main",
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    proc.stdin.write(b"agi_network_scri")
    proc.stdin.close()
    assert await asyncio.wait_for(proc.wait(), 10) == 3
    assert b"no AGI environment" in await proc.stderr.read()
    assert time.monotonic() - started < 5
