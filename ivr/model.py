"""IVR menus as data: the YAML schema (pydantic) and the runtime ``Menu``.

Strategy: a menu file is validated in two steps so every error keeps its line.
``MenuFile`` checks the head (language, prompts, start) and leaves each node as
a raw mapping; each node is then validated against the model its ``type``
names (``NODE_MODELS``). Cross-references (unknown nodes, prompts, loops) are
not schema matters and live in ``ivr.check``. The engine only ever sees a
``Menu``: node models plus prompts already turned into ``ivr.commands.Prompt``.

Every node model lists the nodes it can lead to through ``refs()``, as
``(field path, target)`` pairs, so the checker, the graph and the docs agree on
one definition of "where can this node go".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ivr.commands import Collect, Prompt

__all__ = [
    "DTMF_KEYS",
    "LEAVING_NODES",
    "NODE_MODELS",
    "PLACEHOLDER",
    "WAITING_NODES",
    "BackNode",
    "BotNode",
    "ChatLinkNode",
    "CollectNode",
    "FieldSpec",
    "GotoNode",
    "HangupNode",
    "Menu",
    "MenuFile",
    "MenuNode",
    "Node",
    "PlayNode",
    "PromptTable",
    "PromptVariant",
    "Ref",
    "RouteNode",
    "SetNode",
    "TenantPrompts",
    "TransferNode",
]

DTMF_KEYS = "0123456789*#ABCD"
"""Keys a phone can send as DTMF (A-D exist on the signalling level, rarely on handsets)."""

Ref = tuple[tuple[str | int, ...], str]
"""A reference to another node: the field path inside the node (for the line) and the target id."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _NodeModel(_Model):
    """Common shape of nodes: where they lead and which prompts they play, for checks and graphs."""

    def refs(self) -> list[Ref]:
        """Nodes of the same menu this node can lead to, with the field path that names each."""
        return []

    def prompt_refs(self) -> list[Ref]:
        """Prompts this node plays, with the field path that names each."""
        return []


def _named(field_name: str, names: list[str]) -> list[Ref]:
    return [((field_name, i), name) for i, name in enumerate(names)]


class PromptVariant(_Model):
    """One language of a prompt: the PBX sound name (no extension) and the same words for TTS."""

    sound: str = Field(min_length=1)
    text: str = Field(min_length=1)


PromptTable = dict[str, dict[str, PromptVariant]]


class PlayNode(_NodeModel):
    """Play prompts (not interruptible), then go on."""

    type: Literal["play"]
    prompts: list[str] = Field(min_length=1)
    next: str

    def refs(self) -> list[Ref]:
        return [(("next",), self.next)]

    def prompt_refs(self) -> list[Ref]:
        return _named("prompts", self.prompts)


class CollectNode(_NodeModel):
    """Read a number; after ``retries`` more failed tries go to ``fallback``.

    The digits are available to later ``set`` nodes as ``{digits}`` (the last
    collect) and ``{input.<this node id>}``.
    """

    type: Literal["collect"]
    prompt: str
    max_digits: int = Field(ge=1, le=64)
    min_digits: int = Field(default=1, ge=1, le=64)
    terminator: Literal["#", ""] = "#"
    first_timeout_ms: int = Field(default=5000, gt=0, le=120_000)
    inter_digit_timeout_ms: int = Field(default=3000, gt=0, le=120_000)
    retries: int = Field(default=2, ge=0, le=10)
    retry_prompt: str | None = None
    next: str
    fallback: str

    def refs(self) -> list[Ref]:
        return [(("next",), self.next), (("fallback",), self.fallback)]

    def prompt_refs(self) -> list[Ref]:
        retry = [(("retry_prompt",), self.retry_prompt)] if self.retry_prompt else []
        return [(("prompt",), self.prompt), *retry]


class MenuNode(_NodeModel):
    """Offer choices by key; after ``max_failures`` invalid or missing keys go to ``on_failure``.

    The prompts can be interrupted by any key (barge-in), so a caller who knows
    the menu need not listen to it.
    """

    type: Literal["menu"]
    prompts: list[str] = Field(min_length=1)
    keys: dict[str, str] = Field(min_length=1)
    timeout_ms: int = Field(default=5000, gt=0, le=120_000)
    invalid_prompt: str | None = None
    timeout_prompt: str | None = None
    max_failures: int = Field(default=3, ge=1, le=10)
    on_failure: str

    @field_validator("keys", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        """YAML reads ``1: bill`` with an integer key; a key is what the caller presses, so text."""
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    def refs(self) -> list[Ref]:
        return [(("keys", key), target) for key, target in self.keys.items()] + [
            (("on_failure",), self.on_failure)
        ]

    @cached_property
    def wait(self) -> Collect:
        """The one-key read after the prompts, built once and shared by every call in this menu."""
        return Collect(None, 1, "", self.timeout_ms, self.timeout_ms, 1)

    def prompt_refs(self) -> list[Ref]:
        extra = [((name,), prompt) for name, prompt in
                 (("invalid_prompt", self.invalid_prompt), ("timeout_prompt", self.timeout_prompt)) if prompt]
        return _named("prompts", self.prompts) + extra


PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
"""``{name}`` in a set template; ``ivr.check`` allows ``digits``, ``input.<collect node>``, ``slot.<name>``."""

_INT = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(?:[.*][0-9]+)?")


class FieldSpec(_Model):
    """A ticket field taken from the call: a template, its type and bounds.

    Bounds are on the value for ``int``/``decimal`` and on the length for ``str``.
    A ``decimal`` keyed on a phone may use ``*`` as the decimal point (``12*50``).
    """

    value: str
    type: Literal["int", "str", "decimal"] = "str"
    min: Decimal | None = None
    max: Decimal | None = None

    def convert(self, text: str) -> int | str | Decimal | None:
        """The typed value, or ``None`` when ``text`` does not convert or is out of bounds."""
        value: int | str | Decimal
        if self.type == "int":
            if not _INT.fullmatch(text):
                return None
            value = int(text)
        elif self.type == "decimal":
            if not _DECIMAL.fullmatch(text):
                return None
            value = Decimal(text.replace("*", "."))
        else:
            value = text
        measure = len(value) if isinstance(value, str) else value
        if (self.min is not None and measure < self.min) or (self.max is not None and measure > self.max):
            return None
        return value


class SetNode(_NodeModel):
    """Record the caller's intent and fields (and optionally channel variables).

    Templates may use ``{digits}``, ``{input.<collect node>}`` and
    ``{slot.<name>}`` (from a ``bot`` node). A value that does not convert or is
    out of bounds sends the call to ``on_invalid`` (or on to ``next`` without
    that field when there is none).
    """

    type: Literal["set"]
    intent: str | None = None
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    variables: dict[str, str] = Field(default_factory=dict)
    next: str
    on_invalid: str | None = None

    @field_validator("fields", mode="before")
    @classmethod
    def _plain_value_is_str(cls, value: Any) -> Any:
        """``name: "{digits}"`` is short for ``name: {value: "{digits}", type: str}``."""
        if not isinstance(value, dict):
            return value
        return {k: {"value": v} if isinstance(v, str) else v for k, v in value.items()}

    def refs(self) -> list[Ref]:
        refs: list[Ref] = [(("next",), self.next)]
        if self.on_invalid is not None:
            refs.append((("on_invalid",), self.on_invalid))
        return refs


class BotNode(_NodeModel):
    """Branch on what a speech bot left in channel variables (intent, JSON slots)."""

    type: Literal["bot"]
    intent_variable: str = "BOT_INTENT"
    slots_variable: str = "BOT_SLOTS"
    intents: dict[str, str] = Field(default_factory=dict)
    default: str

    def refs(self) -> list[Ref]:
        return [(("intents", name), target) for name, target in self.intents.items()] + [
            (("default",), self.default)
        ]


class ChatLinkNode(_NodeModel):
    """Ask for the link of ``diversion`` (a ``chat`` diversion of conf/routing.yaml) by SMS, then go on.

    The engine only records the request (``chat_link`` in the call's summary):
    ``hotline serve`` sends it after the call exactly as for a call the router
    diverted to that chat, so a caller who asks gets the same SMS, once. Why a
    name and not a link: the link, its message and how often a number may get
    one stay in routing.yaml; ``hotline check`` makes sure the name is there.
    """

    type: Literal["chat_link"]
    diversion: str = Field(min_length=1)
    next: str

    def refs(self) -> list[Ref]:
        return [(("next",), self.next)]


class RouteNode(_NodeModel):
    """Hand the call to the router for ``queue``; the call leaves the IVR."""

    type: Literal["route"]
    queue: str = Field(min_length=1)


class TransferNode(_NodeModel):
    """Transfer to a fixed destination; the call leaves the IVR."""

    type: Literal["transfer"]
    destination: str = Field(min_length=1)


class BackNode(_NodeModel):
    """Return to the menu the caller was in before the current one.

    A call that has not been through any menu node yet (it entered this menu
    file straight from the dialplan) goes to ``otherwise``, by default this
    menu's start; ``ivr.check`` makes sure that cannot go round for ever.
    """

    type: Literal["back"]
    otherwise: str | None = None

    def refs(self) -> list[Ref]:
        return [(("otherwise",), self.otherwise)] if self.otherwise is not None else []


class GotoNode(_NodeModel):
    """Jump to a node of this menu, or to another menu file of the same tenant."""

    type: Literal["goto"]
    menu: str | None = None
    node: str | None = None

    def refs(self) -> list[Ref]:
        """Only same-menu targets; a jump to another menu is resolved by ``ivr.check``."""
        return [(("node",), self.node)] if self.menu is None and self.node is not None else []


class HangupNode(_NodeModel):
    """Optionally say goodbye, then hang up."""

    type: Literal["hangup"]
    prompts: list[str] = Field(default_factory=list)

    def prompt_refs(self) -> list[Ref]:
        return _named("prompts", self.prompts)


Node = (
    PlayNode | CollectNode | MenuNode | SetNode | BotNode | ChatLinkNode | RouteNode | TransferNode | BackNode
    | GotoNode | HangupNode
)

NODE_MODELS: dict[str, type[Node]] = {
    "play": PlayNode,
    "collect": CollectNode,
    "menu": MenuNode,
    "set": SetNode,
    "bot": BotNode,
    "chat_link": ChatLinkNode,
    "route": RouteNode,
    "transfer": TransferNode,
    "back": BackNode,
    "goto": GotoNode,
    "hangup": HangupNode,
}

WAITING_NODES = (MenuNode, CollectNode)
"""Nodes that wait for the caller: a loop through one of them is the caller's choice, not a hang."""

LEAVING_NODES = (RouteNode, TransferNode, HangupNode)
"""Nodes after which the call has left the IVR."""


class MenuFile(_Model):
    """Schema of ``conf/ivr/<tenant>/<menu>.yaml``; nodes stay raw until ``NODE_MODELS`` checks them."""

    language: str = "en"
    languages: list[str] | None = None
    answer: bool = True
    start: str
    prompts: PromptTable = Field(default_factory=dict)
    nodes: dict[str, Any] = Field(min_length=1)

    def required_languages(self) -> list[str]:
        """Every prompt must exist in these; by default only in the menu's own language."""
        return self.languages if self.languages is not None else [self.language]


class TenantPrompts(_Model):
    """Schema of ``conf/ivr/<tenant>/_prompts.yaml``: prompts shared by the tenant's menus."""

    prompts: PromptTable


@dataclass(frozen=True, slots=True, eq=False)
class Menu:
    """A validated menu, ready for the engine.

    ``prompts`` maps language → prompt name → ``Prompt`` and already includes
    the tenant's shared prompts (the menu's own win on a name clash).
    """

    tenant: str
    name: str
    language: str
    start: str
    answer: bool
    prompts: dict[str, dict[str, Prompt]]
    nodes: dict[str, Node] = field(repr=False)

    def pick_language(self, requested: str | None) -> str:
        """The call's language if the menu has it (``zh_CN`` falls back to ``zh``), else the default."""
        if requested:
            for candidate in (requested, requested.replace("-", "_").split("_")[0]):
                if candidate in self.prompts:
                    return candidate
        return self.language
