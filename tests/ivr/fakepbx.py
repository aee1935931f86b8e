"""A scripted PBX and caller for driving call scripts in tests, with no socket and no clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ivr.check import load_menus
from ivr.commands import (
    Collect, Command, Digits, Done, GetVariable, HungUp, Play, Result, Route, RouteDecision, RouteKind, Timeout,
    Variable,
)
from ivr.engine import CallScript
from ivr.model import Menu
from ivr.trajectory import CallRecord

HANGUP = "<hang up>"
"""Caller action: hang up while the next command runs, whatever it is."""


@dataclass(frozen=True)
class Barge:
    """Caller action: press ``key`` while the next interruptible ``Play`` runs."""

    key: str


@dataclass
class FakePbx:
    """Answers commands as a PBX would for a caller who does ``actions`` in order.

    Actions: a string is what the caller keys at the next ``Collect`` (without
    the terminator), ``None`` lets it time out, ``Barge(key)`` interrupts the next
    interruptible ``Play``, ``HANGUP`` hangs up on the next command. Each command
    takes ``step_ms`` of call time.
    """

    actions: list[object]
    variables: dict[str, str] = field(default_factory=dict)
    route: RouteKind = RouteKind.TRUNK
    step_ms: int = 1000
    commands: list[Command] = field(default_factory=list)
    now_ms: int = 0

    def answer(self, command: Command) -> Result:
        self.commands.append(command)
        self.now_ms += self.step_ms
        t = self.now_ms
        action = self.actions[0] if self.actions else "<nothing left>"
        if action == HANGUP:
            self.actions.pop(0)
            return HungUp(elapsed_ms=t)
        if isinstance(command, Play):
            if isinstance(action, Barge) and command.escape_digits:
                self.actions.pop(0)
                return Digits(action.key, elapsed_ms=t)
            return Done(elapsed_ms=t)
        if isinstance(command, Collect):
            assert not isinstance(action, Barge), f"caller wanted to barge in but got {command}"
            assert self.actions, f"the script asked {command} but the caller has nothing left to do"
            self.actions.pop(0)
            return Timeout(elapsed_ms=t) if action is None else Digits(action, elapsed_ms=t)
        if isinstance(command, GetVariable):
            return Variable(self.variables.get(command.name), elapsed_ms=t)
        if isinstance(command, Route):
            dial = None if self.route is RouteKind.DIVERSION else f"PJSIP/{command.queue}@trunk-a"
            target = "+861088888888" if self.route is RouteKind.DIVERSION else None
            return RouteDecision(self.route, "trunk-a", dial=dial, target=target, elapsed_ms=t)
        return Done(elapsed_ms=t)

    def run(self, script: CallScript) -> CallRecord:
        """Drive ``script`` to its end, following the driver contract of ``ivr.engine``."""
        command = next(script)
        try:
            while True:
                command = script.send(self.answer(command))
        except StopIteration as stop:
            return stop.value


def write_conf(root: Path, files: dict[str, str]) -> Path:
    """Write ``{relative path: YAML text}`` under ``root``; returns ``root`` (a conf dir)."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def menus_from(root: Path, files: dict[str, str]) -> dict[tuple[str, str], Menu]:
    return load_menus(write_conf(root, files))
