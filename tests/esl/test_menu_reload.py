"""``hotline esl`` picks up IVR menus deployed while it runs; a deploy that fails its check never replaces them.

Its own process and conf dir, since a broken menu is refused for every tenant of the conf.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from ivr.reload import POLL_S
from tests.conftest import free_port
from tests.esl.conftest import EslProcess, write_conf
from tests.esl.test_outbound import DEMO
from tests.sim.freeswitch import Caller, SimCall

REFUSED = "IVR menus changed but fail their check; the running menus stay in force"


def welcome(process: EslProcess, tenant: str) -> str:
    """The first prompt a new demo call hears."""
    sim = SimCall(variables={"hotline_tenant": tenant, "hotline_menu": "main"}, caller=Caller(list(DEMO)))
    result = asyncio.run(asyncio.wait_for(sim.run("127.0.0.1", process.port), 15))
    return next(arg for app, arg in result.apps if app == "playback")


def test_the_next_call_uses_a_deployed_menu_and_a_broken_deploy_leaves_it_in_force(redis_url, tmp_path, tenant):
    conf = write_conf(tmp_path / "conf", [tenant])
    main: Path = conf / "ivr" / tenant / "main.yaml"
    process = EslProcess(conf, redis_url, free_port()).start()
    try:
        assert welcome(process, tenant) == "hotline/welcome.wav"

        main.write_text(main.read_text().replace("sound: hotline/welcome,", "sound: hotline/welcome-v2,"))
        deployed = time.monotonic()
        process.wait_for_log(timeout=3 * POLL_S, event="IVR menus reloaded")
        assert welcome(process, tenant) == "hotline/welcome-v2.wav"
        assert time.monotonic() - deployed < 3 * POLL_S

        lines = main.read_text().splitlines()
        broken = next(n for n, text in enumerate(lines) if text.strip() == "next: main")
        lines[broken] = "    next: nowhere"
        main.write_text("\n".join(lines) + "\n")
        record = process.wait_for_log(timeout=3 * POLL_S, event=REFUSED)
        assert record["level"] == "error" and f"{main}:{broken + 1}: node 'welcome'" in record["errors"]
        assert welcome(process, tenant) == "hotline/welcome-v2.wav"
    finally:
        assert process.stop() == 0, "\n".join(process.lines[-20:])
