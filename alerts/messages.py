"""The words of an alert: composed once when a level fires, rendered per channel when sent.

The subject and text are stored on the outbox row when the level fires, so a
retry or a failover says exactly what the first attempt said.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta, tzinfo

from alerts.plan import Level, Plan
from alerts.providers.base import Notification

__all__ = ["compose", "email_html", "email_text", "sms_text", "spoken", "voice_text", "wecom_markdown"]

SMS_MAX = 480


def _minutes(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def compose(plan: Plan, level: Level, due_at: datetime, now: datetime, tz: tzinfo | None) -> tuple[str, str]:
    """(subject, text) for one level; ``tz`` is the calendar's zone for showing the deadline."""
    local_due = due_at.astimezone(tz) if tz else due_at
    when = local_due.strftime("%Y-%m-%d %H:%M %Z")
    if now < due_at:
        subject = f"[L{level.level}] Due soon: {plan.title}"
        status = f"Due {when}, in {_minutes(due_at - now)}."
    else:
        subject = f"[L{level.level}] Overdue: {plan.title}"
        status = f"Was due {when}; overdue by {_minutes(now - due_at)}."
    text = f"{plan.text} {status}".strip()
    return subject[:256], text


def sms_text(note: Notification) -> str:
    """An alert's subject, text and how to acknowledge; a notice (no subject, no code) is its text alone."""
    tail = f" Reply ACK {note.ack_code} to acknowledge." if note.ack_code else ""
    head = f"{note.subject}. {note.text}" if note.subject else note.text
    return head[: SMS_MAX - len(tail)] + tail


def voice_text(note: Notification) -> str:
    return spoken(note.subject, note.text)


def spoken(subject: str, text: str) -> str:
    """What a call says; also what the keypress webhook repeats on key 2."""
    return f"Hotline alert. {subject}. {text}"


def email_text(note: Notification) -> str:
    lines = [f"Hello {note.recipient_name or note.recipient},", "", note.subject, "", note.text, ""]
    if note.link:
        lines += [f"Open the task: {note.link}"]
    if note.ack_url:
        lines += [f"Acknowledge: {note.ack_url}"]
    if note.ack_code:
        lines += [f"Acknowledgement code: {note.ack_code}"]
    return "\n".join(lines) + "\n"


def email_html(note: Notification) -> str:
    e = html.escape
    parts = [f"<p>Hello {e(note.recipient_name or note.recipient)},</p>", f"<h3>{e(note.subject)}</h3>",
             f"<p>{e(note.text)}</p>"]
    if note.link:
        parts.append(f'<p><a href="{e(note.link, quote=True)}">Open the task</a></p>')
    if note.ack_url:
        parts.append(f'<p><a href="{e(note.ack_url, quote=True)}"><b>Acknowledge</b></a></p>')
    if note.ack_code:
        parts.append(f"<p>Acknowledgement code: <code>{e(note.ack_code)}</code></p>")
    return "<html><body>" + "".join(parts) + "</body></html>"


def wecom_markdown(note: Notification) -> str:
    """WeCom group-robot markdown; ``<@userid>`` mentions the recipient in the group."""
    lines = [f"**{note.subject}**", f"> {note.text}", f"<@{note.address}>"]
    links = []
    if note.link:
        links.append(f"[Open the task]({note.link})")
    if note.ack_url:
        links.append(f"[Acknowledge]({note.ack_url})")
    if links:
        lines.append("  ".join(links))
    return "\n".join(lines)[:4096]
