"""``conf/alerts.yaml`` (retries, failover, pacing) and ``conf/calendars.yaml`` (business hours).

Strategy: both files are optional; a missing file means the defaults below,
so ``hotline serve`` works out of the box. Both load through
``hotline.yamlconf`` and report ``file:line`` errors; ``check_alerts`` is the
validator ``hotline check`` runs.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from alerts.calendar import BusinessCalendar, CalendarError
from alerts.plan import Channel
from hotline.yamlconf import ConfigError, ConfigErrors, line_of, load_yaml, validate_model

__all__ = ["AlertsConf", "Calendars", "channel_chain", "check_alerts", "load_alerts_conf", "load_calendars"]

ALERTS_FILE = "alerts.yaml"
CALENDARS_FILE = "calendars.yaml"
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _duration(value: Any) -> Any:
    """'90s', '15m', '1h', '250ms' or a number of seconds → timedelta."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*", value)
        if not m:
            raise ValueError(f"{value!r} is not a duration such as 30s, 15m, 1h")
        return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class _Conf(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryConf(_Conf):
    max_attempts: int = Field(4, ge=1, le=50, description="Attempts per channel before failing over")
    base: Duration = timedelta(seconds=10)
    cap: Duration = timedelta(minutes=10)
    send_timeout: Duration = timedelta(seconds=15)


class RateLimitConf(_Conf):
    per_recipient: int = Field(6, ge=1)
    window: Duration = timedelta(minutes=10)


class AlertsConf(_Conf):
    retry: RetryConf = RetryConf()
    rate_limit: RateLimitConf = RateLimitConf()
    lease: Duration = Field(timedelta(seconds=60), description="How long a claimed alert is kept from other workers")
    poll: Duration = Field(timedelta(milliseconds=250), description="How often idle workers look for due rows")
    failover: dict[Channel, list[Channel]] = Field(default_factory=lambda: {
        Channel.WECOM: [Channel.EMAIL], Channel.SMS: [Channel.VOICE], Channel.VOICE: [Channel.SMS],
        Channel.PBX_VOICE: [Channel.SMS], Channel.EMAIL: []})
    unconfigured: Literal["log", "fail"] = "log"
    ack_link_ttl: Duration = timedelta(hours=24)

    @model_validator(mode="after")
    def _lease_covers_send(self) -> AlertsConf:
        if self.lease <= self.retry.send_timeout:
            raise ValueError("lease must be longer than retry.send_timeout, or a slow send is sent twice")
        return self


def channel_chain(channels: tuple[Channel, ...] | list[Channel],
                  failover: dict[Channel, list[Channel]]) -> list[Channel]:
    """A level's channels in order, then the configured failover of each, without repeats."""
    chain: list[Channel] = []
    todo = list(channels)
    while todo:
        ch = todo.pop(0)
        if ch not in chain:
            chain.append(ch)
            todo.extend(failover.get(ch, []))
    return chain


class CalendarConf(_Conf):
    timezone: str
    country: str | None = None
    subdiv: str | None = None
    hours: dict[str, list[str]]
    holidays: list[date] = []
    workdays: list[date] = []

    def weekday_hours(self) -> dict[int, list[str]]:
        """Keys 'mon', 'sat', 'mon-fri' → weekday numbers (a later key overrides an earlier one)."""
        out: dict[int, list[str]] = {}
        for key, spans in self.hours.items():
            a, _, b = key.lower().partition("-")
            if a not in _DAYS or (b and b not in _DAYS):
                raise ValueError(f"hours: {key!r} is not a weekday or range such as mon-fri")
            first, last = _DAYS.index(a), _DAYS.index(b or a)
            for d in range(first, last + 1):
                out[d] = list(spans)
        return out


class CalendarsConf(_Conf):
    calendars: dict[str, CalendarConf] = {}
    tenants: dict[str, str] = Field({}, description="tenant → calendar name; 'default' for any other tenant")


class Calendars:
    """Built calendars by name, and which one each tenant uses."""

    def __init__(self, by_name: dict[str, BusinessCalendar], tenants: dict[str, str]) -> None:
        self.by_name = by_name
        self.tenants = tenants

    def get(self, name: str | None) -> BusinessCalendar | None:
        return self.by_name.get(name) if name else None

    def for_tenant(self, tenant: str) -> BusinessCalendar | None:
        """The tenant's calendar, else the 'default' mapping's, else None (wall-clock time)."""
        return self.get(self.tenants.get(tenant) or self.tenants.get("default"))


def load_alerts_conf(conf_dir: Path) -> AlertsConf:
    """Raises ConfigErrors with file:line for a bad file; defaults when there is none."""
    path = conf_dir / ALERTS_FILE
    if not path.is_file():
        return AlertsConf()
    return validate_model(AlertsConf, load_yaml(path), str(path))


def load_calendars(conf_dir: Path) -> Calendars:
    """Raises ConfigErrors with file:line; no file means no calendars (wall-clock SLAs only)."""
    path = conf_dir / CALENDARS_FILE
    if not path.is_file():
        return Calendars({}, {})
    data = load_yaml(path)
    conf = validate_model(CalendarsConf, data, str(path))
    built: dict[str, BusinessCalendar] = {}
    errors: list[ConfigError] = []
    for name, cal in conf.calendars.items():
        try:
            built[name] = BusinessCalendar.build(name, cal.timezone, cal.weekday_hours(), country=cal.country,
                                                 subdiv=cal.subdiv, holidays=cal.holidays, workdays=cal.workdays)
        except (CalendarError, ValueError) as exc:
            errors.append(ConfigError(str(path), line_of(data, ("calendars", name)), str(exc)))
    for tenant, name in conf.tenants.items():
        if name not in conf.calendars:
            errors.append(ConfigError(str(path), line_of(data, ("tenants", tenant)),
                                      f"tenant {tenant}: no calendar {name!r}",
                                      hint=f"define it under calendars: or use one of {sorted(conf.calendars)}"))
    if errors:
        raise ConfigErrors(errors)
    return Calendars(built, dict(conf.tenants))


def check_alerts(conf_dir: Path) -> list[ConfigError]:
    """Every problem in alerts.yaml and calendars.yaml (never raises for a bad file)."""
    out: list[ConfigError] = []
    for load in (load_alerts_conf, load_calendars):
        try:
            load(conf_dir)
        except ConfigErrors as exc:
            out.extend(exc.errors)
    return out

