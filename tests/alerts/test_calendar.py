"""Business-hours arithmetic: pure functions of their inputs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerts.calendar import BusinessCalendar, CalendarError, shift_after_pause
from alerts.config import check_alerts, load_calendars
from alerts.plan import Channel, Contact, Level, Plan
from alerts.schedule import compute_due, fire_times

SH = ZoneInfo("Asia/Shanghai")
WEEKDAYS = {d: ["09:00-12:00", "13:30-18:00"] for d in range(5)}


def cn() -> BusinessCalendar:
    return BusinessCalendar.build("cn", "Asia/Shanghai", WEEKDAYS, country="CN", workdays=[date(2026, 2, 14)])


def at(y: int, mo: int, d: int, h: int, mi: int = 0, tz: ZoneInfo = SH) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz)


def test_an_hour_inside_the_morning_stays_in_the_morning() -> None:
    assert cn().add(at(2026, 11, 30, 10), timedelta(hours=1)) == at(2026, 11, 30, 11)


def test_lunch_break_does_not_count() -> None:
    assert cn().add(at(2026, 11, 30, 11, 30), timedelta(hours=1)) == at(2026, 11, 30, 14)


def test_friday_evening_runs_into_monday_morning() -> None:
    # Friday 2026-12-04 17:30 + 1 h working time = Monday 09:30
    assert cn().add(at(2026, 12, 4, 17, 30), timedelta(hours=1)) == at(2026, 12, 7, 9, 30)


def test_start_outside_hours_counts_from_the_next_opening() -> None:
    assert cn().add(at(2026, 11, 30, 7), timedelta(minutes=30)) == at(2026, 11, 30, 9, 30)


def test_country_holidays_are_skipped() -> None:
    # 2026-10-01..07 is China's National Day week (the holidays package knows it); 10-08 is a working Thursday.
    assert cn().add(at(2026, 9, 30, 17, 30), timedelta(hours=1)) == at(2026, 10, 8, 9, 30)


def test_explicit_holiday_and_swapped_working_saturday() -> None:
    cal = BusinessCalendar.build("x", "Asia/Shanghai", WEEKDAYS, holidays=[date(2026, 12, 1)],
                                 workdays=[date(2026, 12, 5)])
    assert cal.add(at(2026, 11, 30, 17, 30), timedelta(hours=1)) == at(2026, 12, 2, 9, 30)
    assert cal.add(at(2026, 12, 4, 17, 30), timedelta(hours=1)) == at(2026, 12, 5, 9, 30)
    assert cn().hours_on(date(2026, 2, 14)), "a swapped Saturday is worked with the weekday hours"


def test_between_is_the_inverse_of_add() -> None:
    cal = cn()
    start = at(2026, 11, 30, 16)
    for hours in (0.5, 1, 3, 7.5, 20):
        end = cal.add(start, timedelta(hours=hours))
        assert cal.between(start, end) == timedelta(hours=hours)


def test_daylight_saving_change_is_real_time() -> None:
    ny = BusinessCalendar.build("ny", "America/New_York", {6: ["00:00-06:00"]})
    # Sunday 2026-03-08 02:00 local does not exist: 00:00-06:00 that night is 5 real hours.
    start = datetime(2026, 3, 8, 0, 0, tzinfo=ZoneInfo("America/New_York"))
    assert ny.between(start, start + timedelta(hours=10)) == timedelta(hours=5)
    assert ny.add(start, timedelta(hours=4)).astimezone(UTC) == datetime(2026, 3, 8, 9, 0, tzinfo=UTC)


def test_calendar_without_working_time_is_refused() -> None:
    with pytest.raises(CalendarError, match="no working hours"):
        BusinessCalendar.build("none", "UTC", {})
    with pytest.raises(CalendarError, match="unknown time zone"):
        BusinessCalendar.build("bad", "Mars/Olympus", WEEKDAYS)
    with pytest.raises(CalendarError, match="overlap"):
        BusinessCalendar.build("bad", "UTC", {0: ["09:00-12:00", "11:00-13:00"]})


def test_pause_keeps_the_working_time_that_was_left() -> None:
    cal = cn()
    fire_at = at(2026, 11, 30, 11)          # due Monday 11:00
    paused, resumed = at(2026, 11, 30, 10), at(2026, 12, 1, 15)
    assert shift_after_pause(fire_at, paused, resumed, cal) == at(2026, 12, 1, 16)
    assert shift_after_pause(fire_at, paused, resumed, None) == resumed + timedelta(hours=1)
    assert shift_after_pause(fire_at, at(2026, 11, 30, 12), resumed, cal) == resumed, "already overdue: fire on resume"


def test_levels_and_pre_warning_in_business_time() -> None:
    who = (Contact(key="a"),)
    plan = Plan(title="t", levels=(
        Level(level=0, at_pct=0.8, channels=(Channel.WECOM,), recipients=who),
        Level(level=1, channels=(Channel.WECOM,), recipients=who),
        Level(level=2, offset=timedelta(minutes=15), channels=(Channel.SMS,), recipients=who),
    ))
    cal = cn()
    start = at(2026, 12, 4, 17)                      # Friday 17:00, limit 2 working hours
    due = compute_due(start, timedelta(hours=2), cal)
    assert due == at(2026, 12, 7, 10)                # Monday 10:00
    times = fire_times(plan, start, due, cal)
    assert times == {0: at(2026, 12, 7, 9, 36), 1: due, 2: at(2026, 12, 7, 10, 15)}
    wall = fire_times(plan, start, start + timedelta(hours=2), None)
    assert wall[0] == start + timedelta(minutes=96) and wall[2] == start + timedelta(hours=2, minutes=15)


def test_shipped_calendars_load_and_check_clean(conf_dir: Path) -> None:
    assert check_alerts(conf_dir) == []
    cal = load_calendars(conf_dir).for_tenant("demo")
    assert cal is not None and cal.name == "cn-office"


def test_bad_calendar_file_is_reported_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "calendars.yaml").write_text(
        "calendars:\n  x:\n    timezone: Nowhere/Land\n    hours: {mon: ['09:00-17:00']}\ntenants:\n  demo: y\n")
    (tmp_path / "alerts.yaml").write_text("retry:\n  base: soon\n")
    errors = [str(e) for e in check_alerts(tmp_path)]
    assert any("alerts.yaml:2:" in e and "duration" in e for e in errors), errors
    assert any("calendars.yaml:3:" in e and "unknown time zone" in e for e in errors), errors
    assert any("calendars.yaml:6:" in e and "no calendar 'y'" in e for e in errors), errors
