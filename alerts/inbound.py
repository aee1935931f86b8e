"""What comes back: acknowledgements (key, SMS reply, link, API) and providers' delivery reports.

Strategy: the API verifies who is speaking (a Twilio signature, a signed link,
a token); these functions only decide what it means, inside the caller's
transaction. An acknowledgement through any alert of an escalation settles
the whole escalation (``alerts.escalation.acknowledge``), so no further level
fires. Unknown or stale input is answered, logged and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.acklinks import parse_ack_reply
from alerts.config import AlertsConf
from alerts.delivery import fail_over, mark_delivered
from alerts.escalation import acknowledge
from alerts.models import Escalation, OutboxAlert
from alerts.plan import Channel
from hotline.logs import get_logger

__all__ = ["AckResult", "ack_alert", "ack_by_reply", "delivery_report"]

log = get_logger(__name__)

#: Twilio's MessageStatus / CallStatus values that end an attempt.
DELIVERED = {"delivered", "completed", "read"}
UNDELIVERED = {"undelivered", "failed", "busy", "no-answer", "canceled"}


@dataclass(frozen=True)
class AckResult:
    """``acked``: this acknowledgement settled the escalation; ``title`` names the task for the reply."""

    found: bool
    acked: bool = False
    title: str = ""
    alert: OutboxAlert | None = None


async def _escalation(session: AsyncSession, alert: OutboxAlert) -> Escalation:
    return (await session.execute(select(Escalation).where(Escalation.id == alert.escalation_id))).scalar_one()


async def ack_alert(session: AsyncSession, alert_id: int, *, now: datetime, by: str | None, via: str,
                    tenant: str | None = None) -> AckResult:
    """Acknowledge through one alert (a key press, a link, the API); ``tenant`` scopes API callers.

    A notice (no escalation) is not found: there is nothing to acknowledge.
    """
    alert = await session.get(OutboxAlert, alert_id)
    if alert is None or alert.escalation_id is None or (tenant is not None and alert.tenant != tenant):
        return AckResult(found=False)
    esc = await _escalation(session, alert)
    acked = await acknowledge(session, esc, now=now, by=by or alert.recipient, via=via, alert=alert)
    return AckResult(True, acked, esc.plan.get("title", ""), alert)


async def ack_by_reply(session: AsyncSession, sender: str, body: str, *, now: datetime) -> AckResult:
    """An SMS reply 'ACK <code>' from a number the escalation alerted; anything else is not found."""
    code = parse_ack_reply(body)
    if code is None:
        return AckResult(found=False)
    alert = (await session.execute(
        select(OutboxAlert).join(Escalation, Escalation.id == OutboxAlert.escalation_id)
        .where(Escalation.ack_code == code, OutboxAlert.address == sender,
               OutboxAlert.channel.in_([Channel.SMS, Channel.VOICE, Channel.PBX_VOICE]))
        .order_by(OutboxAlert.id.desc()).limit(1))).scalar_one_or_none()
    if alert is None:
        log.info("SMS acknowledgement matched no alert", code=code, sender=sender)
        return AckResult(found=False)
    return await ack_alert(session, alert.id, now=now, by=alert.recipient, via="sms")


async def delivery_report(session: AsyncSession, alert_id: int, provider_id: str, status: str, *, now: datetime,
                          conf: AlertsConf, error: str = "") -> str:
    """Apply a provider's status callback; returns what was done (for the log and the test)."""
    alert = await session.get(OutboxAlert, alert_id)
    if alert is None or alert.provider_id != provider_id:
        log.warning("delivery report for an unknown alert ignored", alert=alert_id, provider_id=provider_id)
        return "unknown"
    status = status.lower()
    if status in DELIVERED:
        return "delivered" if await mark_delivered(session, alert_id, now) else "unchanged"
    if status in UNDELIVERED:
        reason = f"provider reported {status}" + (f" ({error})" if error else "")
        new_id = await fail_over(session, alert_id, now=now, conf=conf, reason=reason)
        return f"failed over to alert {new_id}" if new_id else "failed"
    return "in progress"
