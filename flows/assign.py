"""Who gets a node's tasks: people rules resolved against the directory, then a strategy.

Strategy: ``resolve`` turns ``PeopleRef`` rules into an ordered list of
person ids using only the directory and what the ticket knows (its fields and
the actors of earlier nodes), so it is pure. ``Assigner`` adds what changes
under load: presence (for ``online_only``), round-robin cursors and open-task
counts, which it reads lazily through a ``Lookups`` object (SQL and Redis in
production) and updates in memory, so a batch of a thousand tickets assigns
fairly with one read of each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from flows.definition import NodeDef, PeopleRef, Strategy
from flows.directory import Directory

__all__ = ["Assigner", "Lookups", "Pick", "resolve"]


def _nth_manager(directory: Directory, person: str, n: int) -> list[str]:
    chain = directory.managers(person, n)
    return chain[-1:] if len(chain) == n else []


def _unit_manager(directory: Directory, unit_key: str, n: int) -> list[str]:
    """The unit's own manager for ``n == 1``, that manager's (n-1)-th manager above."""
    unit = directory.units.get(unit_key)
    if unit is None or unit.manager is None:
        return []
    return [unit.manager] if n == 1 else _nth_manager(directory, unit.manager, n - 1)


def _base(
    ref: PeopleRef,
    directory: Directory,
    fields: Mapping[str, object],
    actors: Mapping[str, str],
    assignee: str | None,
) -> list[str]:
    """The people a rule's source names, with ``manager`` applied (``chain`` is left to the caller)."""
    if ref.users is not None:
        base = list(ref.users)
    elif ref.role is not None:
        base = directory.with_role(ref.role, ref.unit)
    elif ref.unit is not None:
        return _unit_manager(directory, ref.unit, ref.manager) if ref.manager else directory.members(ref.unit)
    elif ref.field_ is not None:
        value = fields.get(ref.field_)
        base = [value] if isinstance(value, str) else []
    elif ref.actor is not None:
        base = [actors[ref.actor]] if ref.actor in actors else []
    else:
        base = [assignee] if assignee else []
    return [m for p in base for m in _nth_manager(directory, p, ref.manager)] if ref.manager else base


def resolve(
    refs: Iterable[PeopleRef],
    directory: Directory,
    fields: Mapping[str, object],
    actors: Mapping[str, str],
    assignee: str | None = None,
) -> list[str]:
    """Active people the rules name, in rule order, each once.

    A rule that names nobody (an unknown person, an empty field, a node not
    yet acted on) contributes nothing; the caller decides what an empty
    result means.
    """
    out: list[str] = []
    for ref in refs:
        base = _base(ref, directory, fields, actors, assignee)
        if ref.chain:
            base = [m for p in base for m in directory.managers(p, ref.chain)]
        for person in base:
            who = directory.people.get(person)
            if who is not None and who.active and person not in out:
                out.append(person)
    return out


class Lookups(Protocol):
    """Live inputs of assignment; each is read at most once per ``Assigner``."""

    async def online(self) -> frozenset[str] | None:
        """People online now, or ``None`` when presence is unknown (no Redis)."""

    async def open_tasks(self, people: Sequence[str]) -> dict[str, int]:
        """Open task count of each of ``people``."""

    async def cursor(self, scope: str) -> int:
        """The round-robin position of ``scope``."""


@dataclass(frozen=True)
class Pick:
    """The people a node's tasks go to, and why it is not the plain candidate list (for the timeline)."""

    people: list[str]
    note: str = ""


@dataclass
class Assigner:
    """Applies ``online_only`` and the strategy; remembers what it handed out within one transaction."""

    directory: Directory
    lookups: Lookups
    load: dict[str, int] = field(default_factory=dict)
    cursors: dict[str, int] = field(default_factory=dict)
    cursor_moves: dict[str, int] = field(default_factory=dict)
    _online: frozenset[str] | None = None
    _online_read: bool = False

    async def _online_people(self) -> frozenset[str] | None:
        if not self._online_read:
            self._online, self._online_read = await self.lookups.online(), True
        return self._online

    async def pick(self, node: NodeDef, scope: str, candidates: list[str]) -> Pick:
        """Assignees among ``candidates`` for ``node``; ``scope`` names its round-robin cursor."""
        note = ""
        if node.online_only and candidates:
            online = await self._online_people()
            present = [p for p in candidates if online is not None and p in online]
            if present:
                candidates = present
            else:
                note = "presence unknown" if online is None else "nobody online"
                note += "; assigned regardless"
        if not candidates:
            return Pick([], "nobody matched the node's people rules; an admin must transfer the task")
        if node.strategy is Strategy.ROUND_ROBIN:
            if scope not in self.cursors:
                self.cursors[scope] = await self.lookups.cursor(scope)
            position = self.cursors[scope]
            self.cursors[scope] = position + 1
            self.cursor_moves[scope] = self.cursor_moves.get(scope, 0) + 1
            candidates = [candidates[position % len(candidates)]]
        elif node.strategy is Strategy.LEAST_LOADED:
            missing = [p for p in candidates if p not in self.load]
            if missing:
                self.load.update(await self.lookups.open_tasks(missing))
            candidates = [min(candidates, key=lambda p: (self.load.get(p, 0), candidates.index(p)))]
        return Pick(candidates, note)

    def moved(self, person: str | None, delta: int) -> None:
        """Keep the in-memory load in step with tasks opened or closed in this transaction."""
        if person is not None and person in self.load:
            self.load[person] += delta
