"""``hotline alerts`` as an operator meets it (the group is attached by the lead; tested directly here)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from alerts.cli import alerts
from alerts.clock import SlaClock
from alerts.outbox import Outbox
from alerts.plan import Channel
from alerts.providers.base import GiveUp
from hotline.cli_support import console
from hotline.db import create_engine, session_factory, upgrade
from tests.alerts.conftest import T0, Scripted, demo_plan, fast_conf, scripted_set, start


@pytest.fixture
def seeded_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("HOTLINE_DATABASE_URL", url)
    monkeypatch.setenv("HOTLINE_CONF_DIR", str(tmp_path))
    monkeypatch.setattr(console, "width", 200)

    async def seed() -> None:
        engine = create_engine(url)
        await upgrade(engine)
        sessions = session_factory(engine)
        await start(sessions, "demo", "1001", demo_plan(levels=demo_plan().levels[:1]))
        await SlaClock(sessions).run_once(T0 + timedelta(hours=1))
        refuse = Scripted(Channel.WECOM, lambda n: (_ for _ in ()).throw(GiveUp("invalid webhook url")))
        await Outbox(sessions, scripted_set(refuse, Scripted(Channel.EMAIL, lambda n: (_ for _ in ()).throw(
            GiveUp("550 no such user")))), fast_conf()).drain(T0 + timedelta(hours=1))
        await engine.dispose()

    asyncio.run(seed())
    return tmp_path


def test_list_shows_failed_alerts_and_retry_requeues_one(seeded_db: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(alerts, ["list", "--state", "failed"])
    assert listed.exit_code == 0, listed.output
    assert "wecom" in listed.output and "email" in listed.output and "invalid webhook url" in listed.output
    done = runner.invoke(alerts, ["retry", "1"])
    assert done.exit_code == 0 and "alert #1 queued again (wecom to LiNa)" in done.output
    again = runner.invoke(alerts, ["retry", "1"])
    assert again.exit_code == 2 and "not failed/cancelled" in again.output
    assert "queued" in runner.invoke(alerts, ["list", "--task", "1001"]).output
    assert "no alerts match" in runner.invoke(alerts, ["list", "--tenant", "nobody"]).output
