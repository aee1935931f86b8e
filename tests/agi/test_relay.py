"""``hotline-agi`` in relay mode: the console script hands the spawned call to a real FastAGI server.

Every test runs the console script Asterisk would run, with ``PYTHONPROFILEIMPORTTIME=1``
(``-X importtime``) where the imports matter: its stderr lists every module the
process loaded, so "the relay never imported the engine" is read from the process itself.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from agi.fastagi import FastAgiServer
from agi.protocol import AgiConnection, Environment
from agi.relay import fastagi_header
from agi.scripts import parse_script_path
from hotline.keys import intents_stream
from tests.sim.asterisk_agi import AsteriskChannel, Caller, SimResult, call_spawned

HOTLINE_AGI = (str(Path(sys.executable).with_name("hotline-agi")),)  # the console script of setup.cfg
PROJECT = {"agi", "hotline", "ivr", "router", "esl", "flows", "alerts", "api"}
HEAVY = {"redis", "structlog", "rich", "pydantic", "pydantic_settings", "yaml", "sqlalchemy"}


def _relay_env(server: FastAgiServer) -> dict[str, str]:
    return {"HOTLINE_AGI_HOST": "127.0.0.1", "HOTLINE_AGI_PORT": str(server.port),
            "PYTHONPROFILEIMPORTTIME": "1"}


def _imported(result: SimResult) -> set[str]:
    """The modules the process imported, from its ``-X importtime`` lines on stderr."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    return {line.rsplit("|", 1)[1].strip() for line in lines[1:]}  # the first line is the column header


def _demo_channel(uniqueid: str, callerid: str, **caller) -> AsteriskChannel:
    return AsteriskChannel(HOTLINE_AGI[0], Caller(keys=["2", "500#"], **caller), uniqueid=uniqueid,
                           callerid=callerid)


async def test_relayed_demo_call_is_the_in_process_one_without_the_engine(
        agi_server: FastAgiServer, in_process_env: dict[str, str], tenant: str, async_redis) -> None:
    here, here_status = await call_spawned([tenant, "ivr", "main"], _demo_channel("1795832832.46", "5551001"),
                                           env=in_process_env, program=HOTLINE_AGI)
    relayed, status = await call_spawned([tenant, "ivr", "main"], _demo_channel("1795832832.47", "5551002"),
                                         env=_relay_env(agi_server), program=HOTLINE_AGI)
    assert (status, relayed.agistatus, relayed.ended) == (here_status, here.agistatus, here.ended) == (
        0, "SUCCESS", "app-closed")
    assert relayed.commands == [c.replace(".46", ".47") for c in here.commands]
    assert relayed.variables == {**here.variables, "HOTLINE_CALL_ID": "1795832832.47"}
    assert relayed.variables["HOTLINE_INTENT"] == "fee_reduction"
    assert agi_server.counts == {"completed": 1, "failed": 0, "hung_up": 0}  # the server ran it
    entries = await async_redis.xrange(intents_stream(tenant))
    assert [e[1][b"call_id"] for e in entries] == [b"1795832832.46", b"1795832832.47"]
    modules = _imported(relayed)
    assert {m for m in modules if m.split(".")[0] in PROJECT} == {"agi", "agi.relay", "agi.script"}
    assert not {m.split(".")[0] for m in modules} & HEAVY
    assert "in-process" not in relayed.stderr


async def test_without_a_server_the_call_runs_in_process_and_says_so_once(
        edge, in_process_env: dict[str, str], tenant: str) -> None:
    env = {**in_process_env, "PYTHONPROFILEIMPORTTIME": "1"}
    result, status = await call_spawned([tenant, "ivr", "main"], _demo_channel("1795832832.46", "5551001"),
                                        env=env, program=HOTLINE_AGI)
    assert status == 0 and result.variables["HOTLINE_INTENT"] == "fee_reduction"
    said = [line for line in result.stderr.splitlines() if "running the call in-process" in line]
    assert said == [f"hotline-agi: no FastAGI server at 127.0.0.1:{in_process_env['HOTLINE_AGI_PORT']} "
                    "([Errno 111] Connection refused); running the call in-process"]
    what_relay_avoids = {"agi.inprocess", "agi.protocol", "ivr", "redis", "structlog"}
    assert what_relay_avoids <= _imported(result)


@dataclass
class _ServerGoesDown(AsteriskChannel):
    """Shuts the FastAGI server down (its sessions cancelled) instead of answering ``GET DATA``."""

    server: FastAgiServer | None = None
    closing: asyncio.Future | None = None

    def handle(self, raw: bytes) -> list[tuple[float, bytes]]:
        if not raw.startswith(b"GET DATA"):
            return super().handle(raw)
        self.commands.append(raw.decode())
        self.closing = asyncio.ensure_future(self.server.close(grace_s=0))
        return []


async def test_server_going_down_mid_command_fails_the_agi(agi_server: FastAgiServer, tenant: str) -> None:
    channel = _ServerGoesDown(HOTLINE_AGI[0], Caller(keys=["2"]), server=agi_server)
    result, status = await call_spawned([tenant, "ivr", "main"], channel, env=_relay_env(agi_server),
                                        program=HOTLINE_AGI)
    await channel.closing
    assert status == 3 and result.agistatus == "FAILURE" and result.ended == "app-closed"
    assert result.commands[-1].startswith("GET DATA")
    assert "closed with a command unanswered" in result.stderr


@pytest.mark.parametrize("exit_on_hangup", [False, True], ids=["sighup", "agiexitonhangup"])
async def test_caller_hangup_ends_the_relay_and_the_server_records_it(
        agi_server: FastAgiServer, tenant: str, async_redis, exit_on_hangup: bool) -> None:
    channel = _demo_channel("1795832832.46", "5551001", hangup_on=3,  # during GET DATA
                            exit_on_hangup=exit_on_hangup)
    result, status = await call_spawned([tenant, "ivr", "main"], channel, env=_relay_env(agi_server),
                                        program=HOTLINE_AGI, timeout=5)
    assert status == 0 and result.agistatus == "HANGUP"
    assert result.ended == ("exit-on-hangup" if exit_on_hangup else "app-closed")
    assert agi_server.counts == {"completed": 0, "failed": 0, "hung_up": 1}
    [(_, fields)] = await async_redis.xrange(intents_stream(tenant))
    assert fields[b"outcome"] == b"abandoned"


def test_rewritten_header_names_the_script_of_argv_as_fastagi_reads_it() -> None:
    args = ["demo", "ivr", "main", "pbx=pbx 1&x=y", "note=a=b/c?d%", "pbx=pbx1"]
    spawned = b"agi_request: /usr/bin/hotline-agi\nagi_channel: PJSIP/a-1\nagi_uniqueid: 17.3\nagi_arg_1: x"
    conn = AgiConnection()
    conn.receive_data(fastagi_header(spawned, args, ("127.0.0.1", 4573)))
    env = conn.next_event()
    assert isinstance(env, Environment)
    assert parse_script_path(env.script_path) == parse_script_path(["demo", "ivr", "main"])
    assert env.query == {"pbx": "pbx1", "note": "a=b/c?d%"}  # as in-process: dict(a.split("=", 1))
    assert env.get("request") == f"agi://127.0.0.1:4573/{env.network_script}"
    assert (env.get("network"), env.channel, env.uniqueid, env.args) == ("yes", "PJSIP/a-1", "17.3", ("x",))
