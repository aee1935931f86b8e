"""Hotline alerts room: SLA clock, escalating alerts, providers, acknowledgement (see ARCHITECTURE.md).

What other rooms use (the flow engine through these names only):

- ``Plan``, ``Level``, ``Contact``, ``Channel``: the warning plan a task freezes.
- ``compute_due(started_at, limit, calendar)``: a task's deadline, in working time with a calendar.
- ``escalate_tasks`` / ``settle_tasks`` (``alerts.hooks``): the two calls the flow engine makes, once per
  flush for all its tasks; ``escalate_task`` / ``settle_task`` are the batch of one.
- ``start_escalation(s)`` / ``stop_escalation(s)`` (alias ``cancel_escalation``) / ``pause_escalation`` /
  ``resume_escalation`` / ``reschedule_escalation`` / ``acknowledge``: only flush; the caller commits.
- ``load_calendars(conf_dir).for_tenant(tenant)``: the tenant's business calendar.

The workers (``alerts.workers.alert_workers``), the CLI (``alerts.cli.alerts``) and
the API (``api/alerts.py``) are wired by ``hotline/`` and ``api/``.
"""

from alerts.calendar import BusinessCalendar, CalendarError, shift_after_pause
from alerts.config import AlertsConf, Calendars, load_alerts_conf, load_calendars
from alerts.escalation import (
    NewEscalation,
    acknowledge,
    cancel_escalation,
    find_escalation,
    pause_escalation,
    reschedule_escalation,
    resume_escalation,
    start_escalation,
    start_escalations,
    stop_escalation,
    stop_escalations,
)
from alerts.hooks import EscalationRequest, escalate_task, escalate_tasks, settle_task, settle_tasks
from alerts.models import AlertState, Deadline, Escalation, EscalationState, OutboxAlert
from alerts.plan import Channel, Contact, Level, Plan
from alerts.schedule import compute_due, fire_times

__all__ = [
    "AlertState",
    "AlertsConf",
    "BusinessCalendar",
    "CalendarError",
    "Calendars",
    "Channel",
    "Contact",
    "Deadline",
    "Escalation",
    "EscalationRequest",
    "EscalationState",
    "Level",
    "NewEscalation",
    "OutboxAlert",
    "Plan",
    "acknowledge",
    "cancel_escalation",
    "compute_due",
    "escalate_task",
    "escalate_tasks",
    "find_escalation",
    "fire_times",
    "load_alerts_conf",
    "load_calendars",
    "pause_escalation",
    "reschedule_escalation",
    "resume_escalation",
    "settle_task",
    "settle_tasks",
    "shift_after_pause",
    "start_escalation",
    "start_escalations",
    "stop_escalation",
    "stop_escalations",
]
