"""Read-side helpers for the CLI and the API: alerts of a tenant, as plain dicts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.models import AlertState, OutboxAlert

__all__ = ["alert_json", "list_alerts"]

MAX_LIMIT = 500


async def list_alerts(session: AsyncSession, *, tenant: str | None, state: AlertState | None = None,
                      task_id: str | None = None, limit: int = 100) -> list[OutboxAlert]:
    """Newest first; ``tenant`` None means every tenant (the operator's CLI)."""
    query = select(OutboxAlert).order_by(OutboxAlert.id.desc()).limit(max(1, min(limit, MAX_LIMIT)))
    if tenant is not None:
        query = query.where(OutboxAlert.tenant == tenant)
    if state is not None:
        query = query.where(OutboxAlert.state == state)
    if task_id is not None:
        query = query.where(OutboxAlert.task_id == task_id)
    return list((await session.execute(query)).scalars())


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def alert_json(a: OutboxAlert) -> dict[str, Any]:
    return {
        "id": a.id, "task_id": a.task_id, "level": a.level, "recipient": a.recipient,
        "recipient_name": a.recipient_name, "channel": str(a.channel), "address": a.address, "subject": a.subject,
        "state": str(a.state), "attempts": a.attempts, "next_attempt_at": _iso(a.next_attempt_at),
        "provider_id": a.provider_id, "last_error": a.last_error, "created_at": _iso(a.created_at),
        "sent_at": _iso(a.sent_at), "delivered_at": _iso(a.delivered_at), "acked_at": _iso(a.acked_at),
        "failed_at": _iso(a.failed_at),
    }
