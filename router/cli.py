"""``hotline route``: see and change trunk capacity and state while calls flow.

A change made here is live (Redis) and applies to the next call on every node,
with no restart; it wins over conf/routing.yaml until that file is deployed
again. ``status`` says which one is in force for each value.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich import box
from rich.table import Column, Table

from hotline.cli_support import Failure, console, settings_or_fail
from hotline.redisconn import RedisUnavailable, sync_client
from hotline.yamlconf import ConfigErrors
from router.check import load_routing_config
from router.decision import RouterError
from router.model import Breaker, Source, TrunkState
from router.plan import TargetStatus
from router.sync import Router

__all__ = ["route"]


@contextmanager
def _router(tenant: str | None) -> Iterator[tuple[Router, str]]:
    """The configured router and the tenant to act on; every operator-fixable problem becomes a ``Failure``."""
    settings = settings_or_fail()
    try:
        config = load_routing_config(settings.conf_dir)
        client = sync_client(settings)
    except (ConfigErrors, RedisUnavailable) as exc:
        raise Failure(str(exc)) from exc
    tenants = sorted(config.tenants)
    if tenant is None and len(tenants) != 1:
        raise Failure(f"several tenants in routing.yaml, pick one with --tenant: {', '.join(tenants)}")
    chosen = tenant or tenants[0]
    if chosen not in config.tenants:
        raise Failure(
            f"no tenant '{chosen}' in {settings.conf_dir / 'routing.yaml'}; known: {', '.join(tenants)}"
        )
    try:
        yield Router(client, config, node=settings.node_name), chosen
    except RouterError as exc:
        raise Failure(str(exc)) from exc
    finally:
        client.close()


def _breaker(row: TargetStatus) -> str:
    if row.breaker is Breaker.CLOSED or row.reopen_in_s is None:
        return str(row.breaker)
    return f"{row.breaker} ({row.reopen_in_s:.0f}s)" if row.reopen_in_s else f"{row.breaker} (probe due)"


def _source(row: TargetStatus) -> str:
    """``config`` when the deployed file is in force, ``live`` when both values are live changes, else which one is."""
    live = [
        what
        for what, source in (("capacity", row.capacity_source), ("state", row.state_source))
        if source is Source.LIVE
    ]
    if not live:
        return str(Source.CONFIG)
    return f"[bold yellow]live{'' if len(live) == 2 else ' ' + live[0]}[/]"


def _table(tenant: str, rows: list[TargetStatus]) -> Table:
    table = Table(
        *(
            Column(name, no_wrap=True)
            for name in ("target", "kind", "capacity", "in use", "state", "source", "breaker")
        ),
        title=f"routing of tenant {tenant}",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
    )
    for row in rows:
        capacity = "no limit" if row.capacity is None else str(row.capacity)
        full = row.capacity is not None and row.in_use >= row.capacity
        in_use = f"[red]{row.in_use}[/]" if full else str(row.in_use)
        table.add_row(row.name, str(row.kind), capacity, in_use, str(row.state), _source(row), _breaker(row))
    return table


@click.group("route")
def route() -> None:
    """Call routing: trunk capacity, state and load, changed live."""


@route.command("status")
@click.option("--tenant", default=None, help="Tenant to show (default: the only one configured).")
def status(tenant: str | None) -> None:
    """Show every trunk, diversion and the hard-phone group: capacity, calls in use, state, breaker."""
    with _router(tenant) as (router, chosen):
        console.print(_table(chosen, router.status(chosen)))


@route.command("set")
@click.argument("trunk")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="New capacity (calls at once).")
@click.option(
    "--state",
    type=click.Choice([s.value for s in TrunkState]),
    default=None,
    help="up, down, or drain (no new calls, live ones finish).",
)
@click.option("--tenant", default=None, help="Tenant (default: the only one configured).")
def set_(trunk: str, limit: int | None, state: str | None, tenant: str | None) -> None:
    """Change TRUNK's (or a diversion's) capacity and/or state; applies to the next call, no restart."""
    if limit is None and state is None:
        raise Failure("give --limit N and/or --state up|down|drain")
    with _router(tenant) as (router, chosen):
        router.set_live(chosen, trunk, limit=limit, state=None if state is None else TrunkState(state))
        rows = [row for row in router.status(chosen) if row.name == trunk]
        console.print(_table(chosen, rows))
