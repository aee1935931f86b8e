"""The call script: a generator that walks a menu, yielding commands and taking results.

Driver contract (FastAGI, spawned AGI and ESL drive this the same way)::

    script = call_script(menus, tenant, "main", language=env["agi_language"])
    command = next(script)                      # first command (usually Answer)
    try:
        while True:
            result = perform(command)           # PBX I/O, timeouts: the driver's job
            command = script.send(result)       # every result carries elapsed_ms
    except StopIteration as stop:
        record = stop.value                     # the finished CallRecord

* Send exactly one result per command, of a type ``RESULTS_FOR`` allows for it,
  or ``HungUp`` for any command. Anything else raises ``UnexpectedResult``
  (the driver's bug); the script is then finished and yields no record.
* After ``HungUp`` the script returns at once (outcome ``abandoned`` at the
  current node, unless the IVR itself was hanging up); send nothing more.
* After ``Route`` the script returns with outcome ``routed``/``diverted``/
  ``hardphone`` and ``record.route`` set: the driver then dials
  ``route.dial`` or diverts to ``route.target``. After ``Transfer``/``Hangup``
  it returns too. The call script never blocks, reads a clock or touches I/O.

Strategy: one handler per node type (``NODE_HANDLERS``) is a sub-generator
returning the next node id, or ``None`` once the call has left the IVR; ``goto``,
``back`` and ``chat_link`` ask the PBX nothing (``JUMPS``): the first two only
move, ``chat_link`` only records what ``hotline serve`` sends after the call. A
caller hang-up is an exception raised where the result arrives, so no handler
has to check for it. Live state is one slotted ``_Call`` and the trajectory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from ivr.commands import (
    Answer,
    Collect,
    Command,
    Digits,
    Done,
    GetVariable,
    Hangup,
    HungUp,
    Play,
    Result,
    Route,
    RouteDecision,
    RouteKind,
    SetVariable,
    Timeout,
    Transfer,
    Variable,
)
from ivr.model import (
    DTMF_KEYS,
    PLACEHOLDER,
    BackNode,
    BotNode,
    ChatLinkNode,
    CollectNode,
    GotoNode,
    HangupNode,
    Menu,
    MenuNode,
    Node,
    PlayNode,
    RouteNode,
    SetNode,
    TransferNode,
)
from ivr.trajectory import CallRecord, Outcome, StepKind

__all__ = [
    "JUMPS",
    "NODE_HANDLERS",
    "RESULTS_FOR",
    "ROUTE_OUTCOMES",
    "CallScript",
    "IvrError",
    "UnexpectedResult",
    "UnknownMenu",
    "call_script",
]

CallScript = Generator[Command, Result, CallRecord]
Menus = Mapping[tuple[str, str], Menu]
_Step = Generator[Command, Result, str | None]

RESULTS_FOR: dict[type, tuple[type, ...]] = {
    Answer: (Done,),
    Play: (Done, Digits),
    Collect: (Digits, Timeout),
    GetVariable: (Variable,),
    SetVariable: (Done,),
    Route: (RouteDecision,),
    Transfer: (Done,),
    Hangup: (Done,),
}
"""The transition table: which results the script accepts while waiting on each command (plus ``HungUp``)."""

ROUTE_OUTCOMES: dict[RouteKind, Outcome] = {
    RouteKind.TRUNK: Outcome.ROUTED,
    RouteKind.DIVERSION: Outcome.DIVERTED,
    RouteKind.HARDPHONE: Outcome.HARDPHONE,
}


class IvrError(Exception):
    """Base of the IVR room's errors; all are misuse by the caller of the engine (a bug, not the PBX)."""


class UnexpectedResult(IvrError):
    """The driver answered a command with a result that cannot answer it (see ``RESULTS_FOR``)."""

    def __init__(self, command: Command, result: Result) -> None:
        allowed = ", ".join(t.__name__ for t in RESULTS_FOR[type(command)])
        super().__init__(f"{type(result).__name__} cannot answer {command!r}; expected {allowed} or HungUp")


class UnknownMenu(IvrError, LookupError):
    """The dialplan asked for a tenant/menu that ``load_menus`` did not load."""


class _CallerHungUp(Exception):
    """Unwinds the script from wherever the ``HungUp`` result arrived."""


class _Call:
    """Live state of one call script; kept small because thousands run at once."""

    __slots__ = ("menus", "menu", "requested", "lang", "record", "now_ms", "node_id", "digits", "inputs",
                 "slots", "stack")

    def __init__(self, menus: Menus, menu: Menu, language: str | None) -> None:
        self.menus = menus
        self.requested = language
        self.record = CallRecord(menu.tenant, menu.name, menu.pick_language(language))
        self.now_ms = 0
        self.digits = ""
        self.inputs: dict[str, str] | None = None
        self.slots: dict[str, str] | None = None
        self.stack: list[tuple[str, str]] = []  # (menu, node) of the menus entered, for ``back``
        self.switch(menu, menu.start)

    def switch(self, menu: Menu, node_id: str) -> str:
        self.menu, self.lang, self.node_id = menu, menu.pick_language(self.requested), node_id
        return node_id

    def note(self, kind: StepKind, value: str = "", data: dict[str, Any] | None = None) -> None:
        self.record.add(self.now_ms, kind, self.menu.name, self.node_id, value, data)

    def finish(self, outcome: Outcome) -> None:
        self.record.finish(outcome, self.now_ms, self.menu.name, self.node_id)

    def accept(self, command: Command, result: Result) -> None:
        """Take the time from ``result``; unwind on hang-up; reject results that cannot answer ``command``."""
        if type(result) is not HungUp and type(result) not in RESULTS_FOR[type(command)]:
            raise UnexpectedResult(command, result)
        self.now_ms = result.elapsed_ms
        if type(result) is HungUp:
            raise _CallerHungUp

    def play(self, names: Sequence[str], escape: str = "") -> Play:
        for name in names:
            self.note(StepKind.PROMPT, name)
        table = self.menu.prompts[self.lang]
        return Play(tuple(table[name] for name in names), escape)

    def lookup(self, name: str) -> str | None:
        """Value of a template placeholder, ``None`` when the call has not got it."""
        if name == "digits":
            return self.digits or None
        source, _, key = name.partition(".")
        table = self.inputs if source == "input" else self.slots
        return table.get(key) if table else None

    def render(self, template: str) -> str | None:
        missing = False

        def value(match: Any) -> str:
            nonlocal missing
            found = self.lookup(match.group(1))
            missing = missing or found is None
            return found or ""

        text = PLACEHOLDER.sub(value, template)
        return None if missing else text


def call_script(menus: Menus, tenant: str, menu: str, language: str | None = None) -> CallScript:
    """Start a call script for ``tenant``'s ``menu`` (raises ``UnknownMenu`` now, not at the first ``next``).

    ``language`` is the channel's (Asterisk ``agi_language``, FreeSWITCH
    ``${language}``); a menu without it uses its default.
    """
    try:
        start = menus[(tenant, menu)]
    except KeyError:
        raise UnknownMenu(f"no IVR menu {menu!r} for tenant {tenant!r}") from None
    return _script(_Call(menus, start, language))


def _script(call: _Call) -> CallScript:
    node_id: str | None = call.node_id
    try:
        if call.menu.answer:
            command: Command = Answer()
            call.accept(command, (yield command))
        while node_id is not None:
            node = call.menu.nodes[node_id]
            call.node_id = node_id
            call.note(StepKind.ENTER, node.type)
            jump = JUMPS.get(type(node))
            node_id = jump(call, node) if jump else (yield from NODE_HANDLERS[type(node)](call, node))
    except _CallerHungUp:
        if call.record.outcome is None:
            call.note(StepKind.ABANDON)
            call.finish(Outcome.ABANDONED)
    return call.record


def _say(call: _Call, names: Sequence[str], escape: str = "") -> Generator[Command, Result, str]:
    """Play prompts; returns the barge-in key, or ``""``."""
    if not names:
        return ""
    command = call.play(names, escape)
    result = yield command
    call.accept(command, result)
    return result.value if type(result) is Digits else ""


def _play(call: _Call, node: PlayNode) -> _Step:
    yield from _say(call, node.prompts)
    return node.next


def _menu(call: _Call, node: MenuNode) -> _Step:
    here = (call.menu.name, call.node_id)
    if not call.stack or call.stack[-1] != here:
        call.stack.append(here)
    failures = 0
    while True:
        key = yield from _say(call, node.prompts, DTMF_KEYS)
        if not key:
            result = yield node.wait
            call.accept(node.wait, result)
            key = result.value if type(result) is Digits else ""
        if key:
            call.note(StepKind.KEYS, key)
            if key in node.keys:
                return node.keys[key]
            call.note(StepKind.INVALID, key)
            complaint = node.invalid_prompt
        else:
            call.note(StepKind.TIMEOUT)
            complaint = node.timeout_prompt or node.invalid_prompt
        failures += 1
        yield from _say(call, [complaint] if complaint else [])
        if failures >= node.max_failures:
            call.note(StepKind.FALLBACK, node.on_failure)
            return node.on_failure
        call.note(StepKind.RETRY, str(failures))


def _collect(call: _Call, node: CollectNode) -> _Step:
    ask = Collect(call.menu.prompts[call.lang][node.prompt], node.max_digits, node.terminator,
                  node.first_timeout_ms, node.inter_digit_timeout_ms, node.min_digits)
    for attempt in range(node.retries + 1):
        if attempt:
            call.note(StepKind.RETRY, str(attempt))
            yield from _say(call, [node.retry_prompt] if node.retry_prompt else [])
        call.note(StepKind.PROMPT, node.prompt)
        result = yield ask
        call.accept(ask, result)
        if type(result) is Timeout or not result.value:
            call.note(StepKind.TIMEOUT)
            continue
        call.note(StepKind.KEYS, result.value)
        if not node.min_digits <= len(result.value) <= node.max_digits:
            call.note(StepKind.INVALID, result.value)
            continue
        call.digits = result.value
        if call.inputs is None:
            call.inputs = {}
        call.inputs[call.node_id] = result.value
        return node.next
    call.note(StepKind.FALLBACK, node.fallback)
    return node.fallback


def _set(call: _Call, node: SetNode) -> _Step:
    fields: dict[str, int | str | Decimal] = {}
    for name, spec in node.fields.items():
        text = call.render(spec.value)
        value = None if text is None else spec.convert(text)
        if value is None:
            call.note(StepKind.INVALID, name)
            if node.on_invalid is not None:
                return node.on_invalid
            continue
        fields[name] = value
    variables = [(name, call.render(template)) for name, template in node.variables.items()]
    missing = [name for name, text in variables if text is None]
    if missing:
        call.note(StepKind.INVALID, missing[0])
        if node.on_invalid is not None:
            return node.on_invalid
    call.note(StepKind.SET, node.intent or "", fields)
    for name, text in variables:
        if text is not None:
            command = SetVariable(name, text)
            call.accept(command, (yield command))
    return node.next


def _bot(call: _Call, node: BotNode) -> _Step:
    ask_intent = GetVariable(node.intent_variable)
    intent = yield ask_intent
    call.accept(ask_intent, intent)
    ask_slots = GetVariable(node.slots_variable)
    slots = yield ask_slots
    call.accept(ask_slots, slots)
    call.slots = _parse_slots(slots.value)
    name = (intent.value or "").strip()
    call.note(StepKind.BOT, name, dict(call.slots) if call.slots else None)
    return node.intents.get(name, node.default)


def _parse_slots(raw: str | None) -> dict[str, str]:
    """A bot's slots as a flat ``{name: text}``; anything but a JSON object means no slots."""
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}


def _route(call: _Call, node: RouteNode) -> _Step:
    command = Route(node.queue)
    call.note(StepKind.ROUTE, node.queue)
    decision = yield command
    call.accept(command, decision)
    call.record.route = decision
    call.finish(ROUTE_OUTCOMES[RouteKind(decision.kind)])
    return None


def _transfer(call: _Call, node: TransferNode) -> _Step:
    command = Transfer(node.destination)
    call.note(StepKind.TRANSFER, node.destination)
    call.accept(command, (yield command))
    call.finish(Outcome.TRANSFERRED)
    return None


def _hangup(call: _Call, node: HangupNode) -> _Step:
    yield from _say(call, node.prompts)
    call.note(StepKind.HANGUP)
    call.finish(Outcome.HUNG_UP)  # before yielding: a HungUp answer to Hangup is not an abandon
    command = Hangup()
    call.accept(command, (yield command))
    return None


def _back(call: _Call, node: BackNode) -> str:
    if not call.stack:
        return node.otherwise or call.menu.start
    if len(call.stack) > 1:
        call.stack.pop()
    menu, node_id = call.stack[-1]
    return call.switch(call.menus[(call.menu.tenant, menu)], node_id)


def _goto(call: _Call, node: GotoNode) -> str:
    menu = call.menus[(call.menu.tenant, node.menu)] if node.menu else call.menu
    return call.switch(menu, node.node or menu.start)


def _chat_link(call: _Call, node: ChatLinkNode) -> str:
    call.note(StepKind.CHAT_LINK, node.diversion)
    return node.next


NODE_HANDLERS: dict[type[Node], Callable[[_Call, Any], _Step]] = {
    PlayNode: _play,
    MenuNode: _menu,
    CollectNode: _collect,
    SetNode: _set,
    BotNode: _bot,
    RouteNode: _route,
    TransferNode: _transfer,
    HangupNode: _hangup,
}
"""Node type → handler; each handler yields commands and returns the next node id, or ``None`` when done."""

JUMPS: dict[type[Node], Callable[[_Call, Any], str]] = {
    BackNode: _back,
    GotoNode: _goto,
    ChatLinkNode: _chat_link,
}
"""Nodes that ask the PBX nothing: they move the call (possibly to another menu) or only note a step."""
