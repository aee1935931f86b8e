"""``hotline alerts``: see the outbox and put a failed alert back in it.

Operator commands see every tenant unless ``--tenant`` narrows them.
"""

from __future__ import annotations

import click
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.delivery import retry_alert
from alerts.models import AlertState
from alerts.queries import list_alerts
from hotline.cli_support import Failure, console, in_transaction, run_async, settings_or_fail
from hotline.models.base import utcnow

__all__ = ["alerts"]

@click.group()
def alerts() -> None:
    """Escalation alerts: the outbox of WeCom, e-mail, SMS and voice notifications (and callers' chat link SMS)."""


@alerts.command("list")
@click.option("--state", type=click.Choice([s.value for s in AlertState]), default=None,
              help="Only alerts in this state.")
@click.option("--task", "task_id", default=None, help="Only this task's alerts.")
@click.option("--tenant", default=None, help="Only this tenant's alerts.")
@click.option("--limit", default=50, show_default=True, help="At most this many, newest first.")
def list_(state: str | None, task_id: str | None, tenant: str | None, limit: int) -> None:
    """List alerts, newest first, with their state, attempts and last error."""
    settings = settings_or_fail()
    rows = run_async(lambda: in_transaction(settings, lambda s: list_alerts(
        s, tenant=tenant, state=AlertState(state) if state else None, task_id=task_id, limit=limit)))
    table = Table("id", "tenant", "task", "lvl", "channel", "to", "state", "tries", "next / sent", "last error")
    for a in rows:
        when = a.sent_at if a.sent_at else a.next_attempt_at
        table.add_row(str(a.id), a.tenant, a.task_id, str(a.level), str(a.channel), a.address, str(a.state),
                      str(a.attempts), f"{when:%Y-%m-%d %H:%M:%S}", (a.last_error or "")[:60])
    console.print(table)
    if not rows:
        console.print("no alerts match")


@alerts.command("retry")
@click.argument("alert_id", type=int)
def retry(alert_id: int) -> None:
    """Queue a failed or cancelled alert again, from attempt zero (see `hotline alerts list --state failed`)."""
    settings = settings_or_fail()

    async def work(session: AsyncSession) -> str | None:
        row = await retry_alert(session, alert_id, now=utcnow())
        return f"alert #{row.id} queued again ({row.channel} to {row.address})" if row else None

    done = run_async(lambda: in_transaction(settings, work))
    if done is None:
        raise Failure(f"alert #{alert_id} does not exist or is not failed/cancelled; see `hotline alerts list`")
    console.print(done)
