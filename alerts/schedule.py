"""When a task is due and when each warning level fires: pure functions of their inputs.

The flow engine may call ``compute_due`` to set a task's ``due_at``;
``start_escalation`` calls ``fire_times`` to lay out the deadlines. With a
calendar, limits, percentages and offsets are working time; without one,
wall-clock time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from alerts.calendar import BusinessCalendar
from alerts.plan import Level, Plan

__all__ = ["compute_due", "fire_time", "fire_times"]


def compute_due(started_at: datetime, limit: timedelta, calendar: BusinessCalendar | None = None) -> datetime:
    """The deadline of a task started at ``started_at`` with ``limit`` to act."""
    return calendar.add(started_at, limit) if calendar else started_at + limit


def fire_time(level: Level, started_at: datetime, due_at: datetime, calendar: BusinessCalendar | None) -> datetime:
    """When one level fires: at ``at_pct`` of the allowed time, or ``offset`` after the deadline."""
    if level.at_pct is not None:
        span = calendar.between(started_at, due_at) if calendar else due_at - started_at
        return compute_due(started_at, span * level.at_pct, calendar)
    return compute_due(due_at, level.offset, calendar)


def fire_times(plan: Plan, started_at: datetime, due_at: datetime,
               calendar: BusinessCalendar | None = None) -> dict[int, datetime]:
    """Level number → fire time, for every level of the plan."""
    return {lv.level: fire_time(lv, started_at, due_at, calendar) for lv in plan.levels}
