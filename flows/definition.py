"""The schema of a flow definition (``conf/flows/<tenant>/<flow>.yaml``).

Strategy: pydantic models that only check shape and types; cross-references
(unknown nodes, people, reachability, conditions) are checked in
``flows.analysis`` so every problem can be reported at once with its line.
A validated ``FlowDef`` is stored as JSON in its ``FlowVersion`` row and read
back with ``FlowDef.model_validate``; ``compiled`` then holds the transitions
by source node with their conditions compiled once.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from flows.conditions import Condition, compile_condition
from hotline.tokens import Role

__all__ = [
    "CHANNELS",
    "RESERVED_NAMES",
    "Channel",
    "FieldDef",
    "FieldType",
    "FlowDef",
    "FlowHead",
    "NodeDef",
    "PeopleRef",
    "Permissions",
    "SlaDef",
    "Strategy",
    "TransitionDef",
    "WarningLevel",
    "parse_duration",
]

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])")
_UNIT = {"d": 86400, "h": 3600, "m": 60, "s": 1}
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
#: Names a condition sees besides fields and node keys.
RESERVED_NAMES = frozenset({"repeat", "outcome"})


def parse_duration(value: Any) -> float:
    """Seconds from ``90``, ``"90s"``, ``"15m"``, ``"1h30m"`` or ``"2d"``; raises ``ValueError``."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like 15m, 1h, 1h30m, 2d")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (text := value.strip().lower()) and _PART.sub("", text).strip() == "":
        seconds = sum(float(n) * _UNIT[u] for n, u in _PART.findall(text))
    else:
        raise ValueError("a duration is a number of seconds or text like 15m, 1h, 1h30m, 2d")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
Key = Annotated[str, Field(pattern=KEY_PATTERN)]


class Channel(StrEnum):
    """How a warning reaches people (the alerts room has one provider per channel)."""

    WECOM = "wecom"
    SMS = "sms"
    VOICE = "voice"
    EMAIL = "email"
    PBX_VOICE = "pbx_voice"


CHANNELS = frozenset(Channel)


class Strategy(StrEnum):
    """How a node's candidates become assignees."""

    DIRECT = "direct"  # every candidate gets a task
    ROUND_ROBIN = "round_robin"  # one candidate, taking turns per node
    LEAST_LOADED = "least_loaded"  # the candidate with the fewest open tasks


class FieldType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    PERSON = "person"  # a person id of the tenant (usable as a dynamic assignee)


class FieldDef(BaseModel):
    """One ticket field: its type and bounds; ``required`` fields must be set before the ticket closes."""

    model_config = ConfigDict(extra="forbid")

    type: FieldType = FieldType.STRING
    label: str = ""
    required: bool = False
    choices: list[str | int | float] | None = None
    min: float | None = None
    max: float | None = None


class PeopleRef(BaseModel):
    """Who: exactly one source (users, role [in unit], unit, field, actor, assignee), then modifiers.

    ``manager: n`` replaces each person by their n-th manager (for a ``unit``
    source, 1 is the unit's own manager); ``chain: n`` expands each person
    into their n nearest managers in order (supervisor → manager → head), the
    multi-level approval of a ``sequence`` node.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    users: list[str] | None = None
    role: str | None = None
    unit: str | None = None
    field_: str | None = Field(None, alias="field")
    actor: str | None = None
    assignee: bool = False
    manager: int = Field(0, ge=0, le=10)
    chain: int = Field(0, ge=0, le=10)

    @model_validator(mode="after")
    def _one_source(self) -> PeopleRef:
        sources = [
            self.users is not None,
            self.role is not None,
            self.unit is not None and self.role is None,
            self.field_ is not None,
            self.actor is not None,
            self.assignee,
        ]
        if sum(sources) != 1:
            raise ValueError(
                "give exactly one of: users, role (optionally with unit), unit, field, actor, assignee"
            )
        return self


class SlaDef(BaseModel):
    """How long a task of the node may take before its warnings start."""

    model_config = ConfigDict(extra="forbid")

    duration: Duration = Field(gt=0)
    business_hours: bool = False


class WarningLevel(BaseModel):
    """One escalation step: ``after`` the task's deadline, tell ``recipients`` through ``channels``."""

    model_config = ConfigDict(extra="forbid")

    level: int = Field(ge=1, le=9)
    after: Duration = 0.0
    channels: list[Channel] = Field(min_length=1)
    recipients: list[PeopleRef] = Field(min_length=1)


class NodeDef(BaseModel):
    """One step of the flow; which keys apply depends on its type (checked in ``flows.analysis``)."""

    model_config = ConfigDict(extra="forbid")

    type: str
    name: str = ""
    mode: Literal["any", "all", "sequence"] = "any"
    assignees: list[PeopleRef] = Field(default_factory=list)
    strategy: Strategy = Strategy.DIRECT
    online_only: bool = False
    cc: list[PeopleRef] = Field(default_factory=list)
    outcomes: list[Key] | None = None
    callback: bool = False
    result: str | None = None
    sla: SlaDef | None = None
    warnings: list[WarningLevel] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)


class TransitionDef(BaseModel):
    """An edge; the first transition out of a node whose ``when`` holds is taken."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    when: str | None = None


class Permissions(BaseModel):
    """Which API roles may see tickets of this flow, act on their tasks, cancel and reopen them."""

    model_config = ConfigDict(extra="forbid")

    view: list[Role] = Field(default_factory=lambda: list(Role))
    act: list[Role] = Field(default_factory=lambda: [Role.AGENT, Role.DESIGNER, Role.ADMIN])
    cancel: list[Role] = Field(default_factory=lambda: [Role.ADMIN])
    reopen: list[Role] = Field(default_factory=lambda: [Role.ADMIN])


class FlowHead(BaseModel):
    """Everything in a flow definition but its graph (validated on its own to report more at once)."""

    model_config = ConfigDict(extra="forbid")

    key: Key
    name: str = ""
    description: str = ""
    templates: list[str] = Field(default_factory=list)
    repeat_window: Duration = 86400.0
    fields: dict[Key, FieldDef] = Field(default_factory=dict)
    permissions: Permissions = Field(default_factory=Permissions)


class FlowDef(FlowHead):
    """A whole flow definition; ``templates`` are the intent templates that open tickets on it."""

    nodes: dict[Key, NodeDef] = Field(min_length=1)
    transitions: list[TransitionDef] = Field(default_factory=list)

    @property
    def template_names(self) -> list[str]:
        """Templates that open tickets on this flow (the flow's own key when none are listed)."""
        return self.templates or [self.key]

    @cached_property
    def start(self) -> str:
        """The ``create`` node every ticket starts at (``flows.analysis`` guarantees exactly one)."""
        return next(key for key, node in self.nodes.items() if node.type == "create")

    @cached_property
    def warning_plans(self) -> dict[str, list[dict[str, Any]]]:
        """Node → its warning levels as frozen on each task (people rules, not people: see ``recipients_for``).

        Built once per definition: every task of a node shares its list, and
        nothing changes it after (it is written to the task row as JSON)."""
        return {
            key: [
                {
                    "level": w.level,
                    "after_s": w.after,
                    "channels": [str(c) for c in w.channels],
                    "recipients": [r.model_dump(by_alias=True, exclude_defaults=True) for r in w.recipients],
                }
                for w in node.warnings
            ]
            for key, node in self.nodes.items()
        }

    def names(self) -> frozenset[str]:
        """Every name a condition of this flow may use."""
        return frozenset(self.fields) | frozenset(self.nodes) | RESERVED_NAMES

    @cached_property
    def compiled(self) -> dict[str, list[tuple[str, Condition | None]]]:
        """Source node → [(target, condition or None)] in file order; conditions compiled once."""
        names = self.names()
        out: dict[str, list[tuple[str, Condition | None]]] = {key: [] for key in self.nodes}
        for t in self.transitions:
            out.setdefault(t.from_, []).append((t.to, compile_condition(t.when, names) if t.when else None))
        return out

    def dump(self) -> dict[str, Any]:
        """The JSON stored in a flow version (aliases as written in YAML)."""
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
