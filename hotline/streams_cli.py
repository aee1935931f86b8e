"""``hotline streams``: is a worker stuck, what did it give up on, and putting that back once fixed.

The Redis work is in ``hotline.stream_admin``; this module parses, confirms,
prints, and turns every operator-fixable problem into a ``Failure`` (exit 2).
"""

from __future__ import annotations

import getpass
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import click
import redis
from rich import box
from rich.table import Column, Table

from hotline import stream_admin
from hotline.cli_support import Failure, console, settings_or_fail
from hotline.logs import configure_logging, get_logger
from hotline.pbx_events import REPLAY_WINDOW_S
from hotline.redisconn import RedisUnavailable, sync_client
from hotline.settings import Settings
from hotline.stream_admin import STREAMS, DeadLetter, GroupStatus, KnownStream, StreamStatus
from hotline.streams import CLAIM_IDLE_MS

__all__ = ["streams"]

log = get_logger(__name__)
_ENTRY_ID = re.compile(r"[0-9]+-[0-9]+")

_IDEMPOTENCY = f"""\
Replay puts an entry back as a new one, so every consumer group of the
stream reads it again, not only the one that gave up. That is harmless: each
consumer keys its effect on what the entry says, not on where it sits. On
`intents`, the call id (call log: one row per call; flows: one ticket per
call and template; chat links: one SMS per call, sent now if it never was).
On `pbx-events`, the event itself: statistics ignore an event they already
counted, or one older than its call's last counted event, so a replayed
call neither counts twice nor starts waiting again. They remember a call
for {REPLAY_WINDOW_S // 86_400} days after its last event; replay warns about PBX events older
than that, which may count again.
"""


def _where(settings: Settings) -> str:
    if settings.redis_url:
        from hotline.serve import safe_url  # heavy imports, only on this error path

        url = safe_url(settings.redis_url)
        return f"Redis at {url} (HOTLINE_REDIS_URL); check the URL and that the server runs"
    return (f"the embedded Redis under {settings.data_dir} (HOTLINE_DATA_DIR); check that `hotline serve` "
            "still runs with that data dir, or set HOTLINE_REDIS_URL")


@contextmanager
def _redis(settings: Settings) -> Iterator[redis.Redis]:
    """The running serve's Redis (never a new one); its errors become a ``Failure`` naming the setting."""
    try:
        client = sync_client(settings)
    except RedisUnavailable as exc:
        raise Failure(str(exc)) from exc
    try:
        yield client
    except redis.RedisError as exc:
        raise Failure(f"{exc}: talking to {_where(settings)}") from exc
    finally:
        client.close()


def _check_ids(ctx: click.Context, param: click.Parameter, ids: tuple[str, ...]) -> list[str]:
    bad = [i for i in ids if not _ENTRY_ID.fullmatch(i)]
    if bad:
        raise click.BadParameter(
            f"{', '.join(bad)}: an entry id looks like 1718000000000-0 (see `hotline streams dead`)")
    return list(dict.fromkeys(ids))


def _age(ms: int | None) -> str:
    if ms is None:
        return "-"
    seconds = ms // 1000
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _state(group: GroupStatus) -> str:
    """The verdict: work waiting that no consumer has asked for within the claim time means a stuck worker."""
    unread = group.last_read_ms is None or group.last_read_ms > CLAIM_IDLE_MS
    if unread and (group.pending or group.lag):
        return "[bold red]stuck[/]"
    if unread:
        return "[dim]idle[/]"
    if group.oldest_pending_deliveries > 1:
        return "[yellow]retry[/]"
    return "[green]ok[/]"


def _lag(group: GroupStatus) -> str:
    return f"{group.lag}+" if group.lag_capped else str(group.lag)


def _status_table(rows: list[StreamStatus]) -> Table:
    headers = "tenant", "stream", "len", "group", "pending", "lag", "oldest", "tries", "read", "dead", "state"
    table = Table(*(Column(h, no_wrap=h != "tenant", overflow="fold", min_width=len(h)) for h in headers),
                  title="worker streams", box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    for row in rows:
        dead = f"[bold red]{row.dead}[/]" if row.dead else "0"
        if not row.groups:
            table.add_row(row.tenant, row.stream, str(row.length), "-", "", "", "", "", "", dead, "[dim]-[/]")
        for g in row.groups:
            table.add_row(row.tenant, row.stream, str(row.length), g.name, str(g.pending), _lag(g),
                          _age(g.oldest_pending_idle_ms), str(g.oldest_pending_deliveries or "-"),
                          _age(g.last_read_ms), dead, _state(g))
    return table


def _entry_text(letter: DeadLetter, stream: KnownStream, full: bool) -> str:
    shown = letter.fields if full else {k: letter.fields[k] for k in stream.summary if letter.fields.get(k)}
    return "\n".join(f"{k}={v}" for k, v in shown.items())


def _dead_table(tenant: str, stream: KnownStream, letters: list[DeadLetter], total: int, full: bool) -> Table:
    table = Table(Column("id", no_wrap=True, min_width=max(len(d.id) for d in letters)),  # copied from here
                  Column("died (UTC)", no_wrap=True), "gave up", "tries", "error",
                  Column("entry", overflow="fold"),
                  box=box.SIMPLE_HEAD, title=f"dead letters of {stream.name}, tenant {tenant}: {total}")
    for d in letters:
        who = f"{d.group}/{d.consumer}" if d.group else "-"
        table.add_row(d.id, f"{d.died_at:%Y-%m-%d %H:%M:%S}", who, d.deliveries or "-", d.error or "-",
                      _entry_text(d, stream, full))
    return table


def _pick(client: redis.Redis, tenant: str, stream: KnownStream, ids: list[str]) -> list[DeadLetter]:
    """The dead letters ``ids`` name, or a ``Failure`` listing the ones that are none."""
    found = stream_admin.find(client, tenant, stream, ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise Failure(f"no dead letter {', '.join(missing)} in {stream.name} of tenant {tenant}; "
                      f"`hotline streams dead --tenant {tenant} --stream {stream.name}` lists them")
    return [found[i] for i in ids]


def _audit(settings: Settings, event: str, tenant: str, stream: KnownStream, letters: list[DeadLetter],
           **extra: object) -> None:
    """One log line per operator action, with who did it: the trail of what left the dead letters."""
    configure_logging(settings.log_level, settings.log_format)
    log.warning(event, tenant=tenant, stream=stream.name, by=getpass.getuser(), count=len(letters),
                entries=[d.id for d in letters], call_ids=[d.fields.get("call_id", "") for d in letters],
                **extra)


_tenant_option = click.option("--tenant", required=True, help="The tenant whose dead letters these are.")
_stream_option = click.option("--stream", "stream", required=True, type=click.Choice(sorted(STREAMS)),
                              callback=lambda ctx, param, name: STREAMS[name],
                              help="The stream they came from.")
_yes_option = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")


@click.group("streams")
def streams() -> None:
    """Worker streams (Redis): backlog per consumer group, and the entries workers gave up on.

    `hotline serve` hands work from the call path to its workers through
    Redis streams: `intents` (finished calls: flows, call log, chat links) and
    `pbx-events` (statistics). An entry a worker fails on is retried; after
    too many deliveries it is moved to the stream's dead letters, with the
    error, so it neither blocks the others nor is lost. These commands use
    the Redis of the running serve (HOTLINE_REDIS_URL, or the embedded one
    under HOTLINE_DATA_DIR); they never start one.
    """


@streams.command("status")
@click.option("--tenant", default=None, help="Only this tenant (default: every tenant with a stream).")
def status(tenant: str | None) -> None:
    """Show each stream and consumer group: length, backlog, idle times, dead letters and a verdict.

    \b
    len      entries kept in the stream (old ones are trimmed)
    pending  delivered to a consumer, not acknowledged yet
    lag      not delivered to the group yet
    oldest   since the oldest pending entry was last handed out
    read     since any consumer of the group last asked for work
             (a running serve asks every second)
    tries    how often the oldest pending entry was handed out
    dead     entries given up on: see `hotline streams dead`
    state    ok;
             stuck: work waits and no consumer read for 30 s
             (serve is down, or a handler hangs);
             retry: an entry failed, it is tried again every 30 s
             until it is given up on (a dead letter);
             idle: nothing waits, and no consumer read for 30 s
    """
    with _redis(settings_or_fail()) as client:
        rows = stream_admin.status(client, tenant)
    if not rows:
        where = f" of tenant {tenant}" if tenant else ""
        console.print(f"no worker streams{where} in Redis: nothing was queued yet")
        return
    console.print(_status_table(rows))
    for row in rows:
        if row.dead:
            console.print(f"{row.dead} dead letter(s) in {row.stream} of {row.tenant}: "
                          f"`hotline streams dead --tenant {row.tenant} --stream {row.stream}`")


@streams.command("dead")
@click.option("--tenant", default=None, help="Only this tenant (default: every tenant).")
@click.option("--stream", "name", type=click.Choice(sorted(STREAMS)), default=None,
              help="Only this stream (default: all).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="At most this many per stream, oldest first.")
@click.option("--full", is_flag=True,
              help="Show every field of each entry, not only the call id and key fields.")
def dead(tenant: str | None, name: str | None, limit: int, full: bool) -> None:
    """List dead letters: id, when, which group/consumer gave up after how many tries, the error, the entry.

    Fix the cause the error names (a config, a database, a bug), then put
    them back with `hotline streams replay`, or give up on them with
    `hotline streams drop`.
    """
    shown = 0
    with _redis(settings_or_fail()) as client:
        for t, stream in stream_admin.present(client, tenant):
            if name is not None and stream.name != name:
                continue
            letters, total = stream_admin.dead_letters(client, t, stream, limit)
            if not letters:
                continue
            shown += 1
            console.print(_dead_table(t, stream, letters, total, full))
            if total > len(letters):
                console.print(f"{total - len(letters)} more: --limit {total}")
    if not shown:
        console.print("no dead letters")


def _past_replay_window(letters: list[DeadLetter], now: float) -> int:
    """How many of the PBX events ``letters`` happened over ``REPLAY_WINDOW_S`` before ``now``.

    One without a readable time is not counted: statistics skip it anyway.
    """
    def happened(letter: DeadLetter) -> float:
        try:
            return float(letter.fields.get("ts", ""))
        except ValueError:
            return now

    return sum(1 for letter in letters if happened(letter) < now - REPLAY_WINDOW_S)


@streams.command("replay", epilog=_IDEMPOTENCY)
@_tenant_option
@_stream_option
@click.argument("ids", nargs=-1, callback=_check_ids)
@click.option("--all", "everything", is_flag=True,
              help="Replay every dead letter of the stream, oldest first.")
@_yes_option
def replay(tenant: str, stream: KnownStream, ids: list[str], everything: bool, yes: bool) -> None:
    """Put the dead letters IDS (or --all) back on their stream, once their cause is fixed.

    Each goes back as a new entry with its original fields, and leaves the
    dead letters in the same atomic step: never lost, never twice. If it
    fails again it comes back to the dead letters.
    """
    if everything == bool(ids):
        raise Failure("give the ids to replay (see `hotline streams dead`) or --all, not both")
    settings = settings_or_fail()
    with _redis(settings) as client:
        if everything:
            letters, _ = stream_admin.dead_letters(client, tenant, stream)
        else:
            letters = _pick(client, tenant, stream, ids)
        if not letters:
            console.print(f"no dead letters in {stream.name} of tenant {tenant}")
            return
        console.print(_dead_table(tenant, stream, letters, len(letters), full=False))
        if stream.name == "pbx-events" and (forgotten := _past_replay_window(letters, time.time())):
            console.print(f"[yellow]{forgotten} of these PBX events are older than statistics remember "
                          "their calls: they may count again (see --help)[/]")
        if not yes:
            click.confirm(f"Replay these {len(letters)} onto {stream.name} of tenant {tenant}?", abort=True)
        done = stream_admin.replay(client, tenant, stream, [d.id for d in letters])
    for old, new in done.items():
        gone = f"{old} was gone already (replayed or dropped meanwhile)"
        console.print(f"replayed {old} as {new}" if new else gone)
    _audit(settings, "dead letters replayed", tenant, stream, [d for d in letters if done[d.id]],
           new_ids=[new for new in done.values() if new])


@streams.command("drop")
@_tenant_option
@_stream_option
@click.argument("ids", nargs=-1, required=True, callback=_check_ids)
@_yes_option
def drop(tenant: str, stream: KnownStream, ids: list[str], yes: bool) -> None:
    """Delete the dead letters IDS for good, when nobody will ever want them handled.

    Logged (one warning line: who, tenant, stream, entry and call ids); the
    entries themselves are gone. `hotline streams dead --full` shows them
    first if they are worth keeping elsewhere.
    """
    settings = settings_or_fail()
    with _redis(settings) as client:
        letters = _pick(client, tenant, stream, ids)
        console.print(_dead_table(tenant, stream, letters, len(letters), full=False))
        if not yes:
            click.confirm(f"Delete these {len(letters)} dead letters for good?", abort=True)
        count = stream_admin.drop(client, tenant, stream, ids)
    console.print(f"dropped {count} dead letter(s) of {stream.name}, tenant {tenant}")
    _audit(settings, "dead letters dropped", tenant, stream, letters)
