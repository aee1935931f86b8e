"""Business-hours calendars: when a task's time limit counts, and when it runs out.

Strategy: a calendar is data (time zone, working intervals per weekday,
holidays from the ``holidays`` package for a country plus explicit dates, and
explicit extra working days such as China's swapped weekends). Every function
is pure: ``now`` and the instants to work on are parameters, nothing reads the
clock. Arithmetic walks the calendar one local day at a time and measures each
working interval in UTC, so a daylight-saving change inside an interval is
counted as the hour it really is. A calendar with no working time at all is
refused when built, so the walks always end.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib

from alerts.errors import AlertsError

__all__ = ["BusinessCalendar", "CalendarError", "Interval", "shift_after_pause"]

#: How far a walk may go before the calendar is declared unusable (about ten years of days).
_MAX_DAYS = 3660


class CalendarError(AlertsError, ValueError):
    """A calendar definition cannot be used (unknown zone or country, no working time, bad interval)."""


@dataclass(frozen=True, slots=True)
class Interval:
    """Working time within one local day, ``start`` < ``end``."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> Interval:
        """'09:00-12:00' → Interval; raises CalendarError on any other shape."""
        try:
            a, b = (time.fromisoformat(part.strip()) for part in text.split("-"))
        except ValueError as exc:
            raise CalendarError(f"working hours {text!r}: expected 'HH:MM-HH:MM'") from exc
        if not a < b:
            raise CalendarError(f"working hours {text!r}: the end must be after the start")
        return cls(a, b)


@lru_cache(maxsize=256)
def _country_days(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    try:
        return frozenset(holidays_lib.country_holidays(country, subdiv=subdiv, years=year).keys())
    except NotImplementedError as exc:
        raise CalendarError(f"holidays: unknown country {country!r}") from exc


@dataclass(frozen=True)
class BusinessCalendar:
    """Working intervals per weekday (0 = Monday) in ``tz``, minus holidays, plus extra working days.

    ``extra_workdays`` are worked with the hours of ``workday_hours`` (by
    default Monday's), even on a weekend or a country holiday.
    """

    name: str
    tz: ZoneInfo
    week: tuple[tuple[Interval, ...], ...]
    country: str | None = None
    subdiv: str | None = None
    holidays: frozenset[date] = field(default_factory=frozenset)
    extra_workdays: frozenset[date] = field(default_factory=frozenset)
    workday_hours: tuple[Interval, ...] = ()

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise CalendarError(f"calendar {self.name}: need working hours for 7 weekdays, got {len(self.week)}")
        if not any(self.week) and not self.extra_workdays:
            raise CalendarError(f"calendar {self.name}: no working hours on any day")
        if self.country:
            _country_days(self.country, self.subdiv, 2026)  # fail now on an unknown country, not mid-escalation

    @classmethod
    def build(cls, name: str, timezone: str, hours: dict[int, list[str]], *, country: str | None = None,
              subdiv: str | None = None, holidays: list[date] | None = None,
              workdays: list[date] | None = None) -> BusinessCalendar:
        """From config values; raises CalendarError naming what is wrong."""
        try:
            tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CalendarError(f"calendar {name}: unknown time zone {timezone!r}") from exc
        week = tuple(tuple(sorted((Interval.parse(t) for t in hours.get(d, [])), key=lambda i: i.start))
                     for d in range(7))
        for day in week:
            for a, b in pairwise(day):
                if b.start < a.end:
                    raise CalendarError(f"calendar {name}: working hours overlap "
                                        f"({a.start}-{a.end}, {b.start}-{b.end})")
        default_hours = next((day for day in week if day), ())
        return cls(name, tz, week, country, subdiv, frozenset(holidays or ()), frozenset(workdays or ()),
                   default_hours)

    # -- what a day is ---------------------------------------------------------------------------

    def is_holiday(self, day: date) -> bool:
        if day in self.holidays:
            return True
        return bool(self.country) and day in _country_days(self.country, self.subdiv, day.year)

    def hours_on(self, day: date) -> tuple[Interval, ...]:
        """The working intervals of one local date (empty on a holiday or a free weekday)."""
        if day in self.extra_workdays:
            return self.week[day.weekday()] or self.workday_hours
        if self.is_holiday(day):
            return ()
        return self.week[day.weekday()]

    def _spans(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working spans (aware, UTC) from ``start`` on, in order; clipped at ``start``."""
        start = start.astimezone(UTC)
        day = start.astimezone(self.tz).date()
        for _ in range(_MAX_DAYS):
            for iv in self.hours_on(day):
                a = datetime.combine(day, iv.start, tzinfo=self.tz).astimezone(UTC)
                b = datetime.combine(day, iv.end, tzinfo=self.tz).astimezone(UTC)
                if b > start:
                    yield max(a, start), b
            day += timedelta(days=1)
        raise CalendarError(f"calendar {self.name}: no working time in {_MAX_DAYS} days after {start.isoformat()}")

    # -- arithmetic ------------------------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.tz)
        return any(datetime.combine(local.date(), iv.start, tzinfo=self.tz) <= at
                   < datetime.combine(local.date(), iv.end, tzinfo=self.tz) for iv in self.hours_on(local.date()))

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when ``duration`` of working time has passed after ``start``.

        A zero duration returns ``start`` unchanged; a start outside working
        hours counts from the next opening.
        """
        if duration <= timedelta(0):
            return start
        left = duration
        for a, b in self._spans(start):
            if b - a >= left:
                return a + left
            left -= b - a
        raise AssertionError("unreachable: _spans raises when it runs out")  # pragma: no cover

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time in [start, end); zero when end <= start."""
        total = timedelta(0)
        if end <= start:
            return total
        for a, b in self._spans(start):
            if a >= end:
                break
            total += min(b, end) - a
        return total


def shift_after_pause(fire_at: datetime, paused_at: datetime, resumed_at: datetime,
                      calendar: BusinessCalendar | None) -> datetime:
    """Where a deadline moves to when the clock was stopped from ``paused_at`` to ``resumed_at``.

    The time that was left at the pause (working time with a calendar) is
    left again at the resume; a deadline already past at the pause fires on resume.
    """
    if fire_at <= paused_at:
        return resumed_at
    if calendar is None:
        return resumed_at + (fire_at - paused_at)
    return calendar.add(resumed_at, calendar.between(paused_at, fire_at))
