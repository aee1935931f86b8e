"""The serve part: both loops run, a due alert goes out in real time, and stopping loses nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.workers import alert_workers
from hotline.serve import Runtime, StartupError
from hotline.settings import Settings
from tests.alerts.conftest import REPO, demo_plan, outbox_rows, start


async def test_alert_workers_fire_and_send_a_due_alert_within_a_second(engine, sessions, async_redis, redis_url, tenant,
                                                                       tmp_path: Path) -> None:
    settings = Settings(conf_dir=REPO / "conf", data_dir=tmp_path)   # no provider configured: the log stands in
    due = datetime.now(UTC) + timedelta(milliseconds=300)
    await start(sessions, tenant, "1001", demo_plan(levels=demo_plan().levels[:1]), started_at=due - timedelta(hours=1))
    async with alert_workers(Runtime(settings, engine, async_redis, redis_url)):
        for _ in range(60):
            rows = await outbox_rows(sessions, tenant)
            if rows and rows[0].state == "delivered":
                break
            await asyncio.sleep(0.05)
    (row,) = await outbox_rows(sessions, tenant)
    assert row.state == "delivered" and row.provider_id == f"log-{row.id}"
    assert row.sent_at - due < timedelta(seconds=1)


async def test_a_broken_alerts_file_stops_start_up_with_its_line(engine, async_redis, redis_url, tmp_path: Path) -> None:
    (tmp_path / "alerts.yaml").write_text("lease: 5s\nretry:\n  send_timeout: 10s\n")
    with pytest.raises(StartupError, match="alerts.yaml:1: .*lease must be longer"):
        async with alert_workers(Runtime(Settings(conf_dir=tmp_path, data_dir=tmp_path), engine, async_redis, redis_url)):
            pass
