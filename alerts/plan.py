"""The warning plan a task hands to the SLA clock, frozen when escalation starts.

Strategy: the flow engine resolves its People rules (assignee, supervisor,
department head) into concrete ``Contact``s when a task is created and passes a
``Plan``; the plan is stored as JSON on the escalation row, so editing a flow or
the people file later never changes an escalation that is already running
(Grafana OnCall's escalation snapshot).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Channel", "Contact", "Level", "Plan"]


class Channel(StrEnum):
    """How a notification reaches a person; each has one provider."""

    WECOM = "wecom"
    EMAIL = "email"
    SMS = "sms"
    VOICE = "voice"
    PBX_VOICE = "pbx_voice"
    LOG = "log"


class Contact(BaseModel):
    """One person as the alert sees them; ``key`` is stable (it is part of the dedup key)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1, max_length=128)
    name: str = ""
    phone: str | None = None
    email: str | None = None
    wecom: str | None = Field(None, description="WeCom user id to @mention in the group robot message")

    def address(self, channel: Channel) -> str | None:
        """Where this person is reached on ``channel``; None when they have no such address."""
        if channel in (Channel.SMS, Channel.VOICE, Channel.PBX_VOICE):
            return self.phone
        if channel is Channel.EMAIL:
            return self.email
        if channel is Channel.WECOM:
            return self.wecom or self.key
        return self.key

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Contact:
        """From the flow engine's ``Person.contact()`` shape (``person`` is the key) or this model's own."""
        values = dict(data)
        if "person" in values:
            values.setdefault("key", values.pop("person"))
        return cls.model_validate({k: v for k, v in values.items() if k in cls.model_fields})


class Level(BaseModel):
    """One warning level: when it fires, over which channels (in failover order), to whom.

    A level fires either at ``at_pct`` of the time allowed (a pre-warning,
    e.g. 0.8) or ``offset`` after the deadline (0 = at the deadline).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    level: int = Field(ge=0, le=99)
    offset: timedelta = timedelta(0)
    at_pct: float | None = Field(None, gt=0, lt=1)
    channels: tuple[Channel, ...] = Field(min_length=1)
    recipients: tuple[Contact, ...] = ()

    @model_validator(mode="after")
    def _when(self) -> Level:
        if self.offset < timedelta(0):
            raise ValueError("offset must not be negative; use at_pct for a warning before the deadline")
        if self.at_pct is not None and self.offset:
            raise ValueError("give either at_pct or offset, not both")
        return self


class Plan(BaseModel):
    """What to say and to whom, level by level."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    text: str = ""
    link: str | None = Field(None, description="Where the task can be acted on (shown in e-mail and WeCom)")
    levels: tuple[Level, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_levels(self) -> Plan:
        numbers = [lv.level for lv in self.levels]
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"level numbers must be unique, got {numbers}")
        return self

    def level(self, number: int) -> Level | None:
        return next((lv for lv in self.levels if lv.level == number), None)

    def stored(self) -> dict[str, Any]:
        """``model_dump(mode="json")``, what the escalation row keeps; the levels' part is cached, since
        every task of a node has the same levels and dumping them was a fifth of the flow engine's intake."""
        return {"title": self.title, "text": self.text, "link": self.link, "levels": _dumped(self.levels)}

    @classmethod
    def from_warning_plan(cls, levels: Iterable[Mapping[str, Any]], *, title: str, text: str = "",
                          link: str | None = None, contacts: bool = False) -> Plan:
        """From a task's frozen ``warning_plan``: ``[{level, after_s | at_pct, channels, recipients}]``.

        By default ``recipients`` are people rules, left for the clock's
        resolver at fire time; with ``contacts=True`` they are contact
        mappings, frozen now. Raises pydantic's ValidationError on a bad level.
        """
        key = orjson.dumps(list(levels), option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
        return cls(title=title, text=text, link=link, levels=_built(key, contacts))


@lru_cache(maxsize=1024)
def _built(warning_plan: bytes, contacts: bool) -> tuple[Level, ...]:
    """Levels from a frozen warning plan (as JSON bytes, to be a cache key): every task of a node shares them,
    and validating them anew per task cost more than planning the task."""
    built = []
    for lv in orjson.loads(warning_plan):
        people = tuple(Contact.from_mapping(c) for c in lv.get("recipients", ())) if contacts else ()
        built.append(Level(level=lv["level"], offset=timedelta(seconds=float(lv.get("after_s") or 0)),
                           at_pct=lv.get("at_pct"), channels=tuple(lv["channels"]), recipients=people))
    return tuple(built)


@lru_cache(maxsize=1024)
def _dumped(levels: tuple[Level, ...]) -> tuple[dict[str, Any], ...]:
    """The levels as JSON values; shared between plans, so callers store them and never change them."""
    return tuple(lv.model_dump(mode="json") for lv in levels)
