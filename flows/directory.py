"""People and org units of one tenant: the schema of ``conf/people.yaml`` and the lookups on it.

Strategy: ``conf/people.yaml`` maps tenant → ``{units, people}``. The same
shape is stored in SQL (``flows.models.people``) and accepted by
``PUT /api/v1/people``; whichever way it arrives it is validated here and
becomes a ``Directory``, a plain in-memory value the assignment rules read.
Phones are made E.164 here (``hotline.phones``, national ones read in the
tenant's region, which validation is given), so what is stored and what an
escalation SMS or call goes to is a number Twilio takes; one that cannot be
is an error at its line.
A person's manager is the manager of their unit, or of the nearest ancestor
unit whose manager is someone else, so "the caller's manager's manager" is two
steps up that chain. No I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from hotline.phones import e164
from hotline.yamlconf import ConfigError, errors_from_validation, line_of

__all__ = [
    "Directory",
    "PeopleFile",
    "Person",
    "PersonConf",
    "TenantPeople",
    "Unit",
    "UnitConf",
    "directory_errors",
    "parse_people_file",
]

KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MAX_CHAIN = 32
#: Validation context key: the tenant's phone region (None: phones must be in +<country code> form).
REGION = "region"


def _key(value: str) -> str:
    if not KEY.match(value):
        raise ValueError(
            "use letters, digits, '_', '.', '@' or '-' (at most 64, starting with a letter or digit)"
        )
    return value


class UnitConf(BaseModel):
    """An org unit: a team, a department; ``manager`` is the person who leads it."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    parent: str | None = None
    manager: str | None = None


class PersonConf(BaseModel):
    """Someone who can be assigned tasks or be notified; contacts feed the alert channels."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    unit: str | None = None
    roles: list[str] = Field(default_factory=list)
    phone: str | None = None
    email: str | None = None
    wecom: str | None = None
    active: bool = True

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        return [_key(r) for r in value]

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else e164(value, (info.context or {}).get(REGION))


class TenantPeople(BaseModel):
    """One tenant's org: units and people, keyed by their ids."""

    model_config = ConfigDict(extra="forbid")

    units: dict[str, UnitConf] = Field(default_factory=dict)
    people: dict[str, PersonConf] = Field(default_factory=dict)

    @field_validator("units", "people")
    @classmethod
    def _keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            _key(str(key))
        return value


class PeopleFile(BaseModel):
    """``conf/people.yaml``: tenant → org."""

    model_config = ConfigDict(extra="forbid")

    tenants: dict[str, TenantPeople] = Field(default_factory=dict)


def _semantic(org: TenantPeople) -> list[tuple[tuple[Any, ...], str]]:
    """Cross-references the schema cannot see: (location, message) pairs."""
    out: list[tuple[tuple[Any, ...], str]] = []
    for key, unit in org.units.items():
        if unit.parent is not None and unit.parent not in org.units:
            out.append((("units", key, "parent"), f"unit {key!r}: unknown parent unit {unit.parent!r}"))
        if unit.manager is not None and unit.manager not in org.people:
            out.append((("units", key, "manager"), f"unit {key!r}: unknown manager {unit.manager!r}"))
        seen, walk = {key}, unit.parent
        while walk is not None and walk in org.units:
            if walk in seen:
                out.append((("units", key, "parent"), f"unit {key!r}: parent units form a cycle"))
                break
            seen.add(walk)
            walk = org.units[walk].parent
    for key, person in org.people.items():
        if person.unit is not None and person.unit not in org.units:
            out.append((("people", key, "unit"), f"person {key!r}: unknown unit {person.unit!r}"))
    return out


def directory_errors(
    data: Any, file: str, region: str | None, prefix: tuple[Any, ...] = ()
) -> tuple[TenantPeople | None, list[ConfigError]]:
    """Validate one tenant's org (``data`` at ``prefix`` inside the file's YAML), national phones read in
    ``region``; all errors at once."""
    node = data
    for part in prefix:
        node = node[part]
    try:
        org = TenantPeople.model_validate(node, context={REGION: region})
    except ValidationError as exc:
        return None, errors_from_validation(exc, node, file)
    problems = [ConfigError(file, line_of(data, prefix + loc), message) for loc, message in _semantic(org)]
    return (None, problems) if problems else (org, [])


def parse_people_file(
    data: Any, file: str, regions: Mapping[str, str]
) -> tuple[dict[str, TenantPeople], list[ConfigError]]:
    """Every tenant's org in a parsed ``people.yaml`` (``regions``: tenant → its phone region), and every
    error found in it."""
    if not isinstance(data, dict) or set(data) - {"tenants"}:
        return {}, [ConfigError(file, getattr(data, "line", 1), "expected a mapping with one key: tenants")]
    tenants = data.get("tenants") or {}
    if not isinstance(tenants, dict):
        return {}, [
            ConfigError(
                file, line_of(data, ("tenants",)), "tenants: expected a mapping of tenant → {units, people}"
            )
        ]
    orgs: dict[str, TenantPeople] = {}
    errors: list[ConfigError] = []
    for tenant in tenants:
        org, found = directory_errors(data, file, regions.get(str(tenant)), ("tenants", tenant))
        errors += found
        if org is not None:
            orgs[str(tenant)] = org
    return orgs, errors


@dataclass(frozen=True, slots=True)
class Person:
    key: str
    name: str
    unit: str | None
    roles: tuple[str, ...]
    phone: str | None = None
    email: str | None = None
    wecom: str | None = None
    active: bool = True

    def contact(self) -> dict[str, Any]:
        """What an alert provider needs to reach this person."""
        return {
            "person": self.key,
            "name": self.name,
            "phone": self.phone,
            "email": self.email,
            "wecom": self.wecom,
        }


@dataclass(frozen=True, slots=True)
class Unit:
    key: str
    name: str
    parent: str | None
    manager: str | None


@dataclass(frozen=True)
class Directory:
    """One tenant's people and units, read-only; built from config or from SQL rows."""

    people: dict[str, Person] = field(default_factory=dict)
    units: dict[str, Unit] = field(default_factory=dict)

    @classmethod
    def from_conf(cls, org: TenantPeople) -> Directory:
        people = {
            k: Person(k, p.name or k, p.unit, tuple(p.roles), p.phone, p.email, p.wecom, p.active)
            for k, p in org.people.items()
        }
        units = {k: Unit(k, u.name or k, u.parent, u.manager) for k, u in org.units.items()}
        return cls(people, units)

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(r for p in self.people.values() for r in p.roles)

    def _ancestors(self, unit: str | None) -> list[Unit]:
        out: list[Unit] = []
        while unit is not None and unit in self.units and len(out) < MAX_CHAIN:
            out.append(self.units[unit])
            unit = self.units[unit].parent
        return out

    def manager_of(self, person: str) -> str | None:
        """The person's manager: their unit's manager, or the nearest ancestor's when they lead it."""
        who = self.people.get(person)
        if who is None:
            return None
        for unit in self._ancestors(who.unit):
            if unit.manager is not None and unit.manager != person:
                return unit.manager
        return None

    def managers(self, person: str, levels: int) -> list[str]:
        """Up to ``levels`` managers above ``person``, nearest first (supervisor → manager → head)."""
        out: list[str] = []
        current: str | None = person
        while len(out) < levels and current is not None:
            current = self.manager_of(current)
            if current is not None and current not in out:
                out.append(current)
        return out

    def in_unit(self, unit: str) -> set[str]:
        """``unit`` and every unit below it."""
        return {u for u in self.units if any(a.key == unit for a in self._ancestors(u))}

    def members(self, unit: str) -> list[str]:
        """People of ``unit`` and its sub-units, in id order."""
        units = self.in_unit(unit)
        return sorted(k for k, p in self.people.items() if p.unit in units)

    def with_role(self, role: str, unit: str | None = None) -> list[str]:
        """People holding ``role`` (inside ``unit``'s subtree when given), in id order."""
        units = self.in_unit(unit) if unit is not None else None
        return sorted(
            k for k, p in self.people.items() if role in p.roles and (units is None or p.unit in units)
        )
