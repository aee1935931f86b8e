"""Hotline ivr room (see ARCHITECTURE.md): menus as data and a sans-IO call script.

Drivers (``agi/``, ``esl/``) use ``load_menus`` at start (``ivr.reload`` swaps in a
checked redeploy while they run), then per call
``call_script`` → yield/send the commands and results below → ``CallRecord``;
``hotline.handoff`` turns the record into an ``IntentEvent`` on the tenant's stream.
"""

from ivr.check import check_ivr, load_intents, load_menus
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
    Prompt,
    Result,
    Route,
    RouteDecision,
    RouteKind,
    SetVariable,
    Timeout,
    Transfer,
    Variable,
)
from ivr.engine import RESULTS_FOR, CallScript, IvrError, UnexpectedResult, UnknownMenu, call_script
from ivr.events import IntentEvent
from ivr.intent import IntentRules, Priority, Resolution, resolve
from ivr.model import Menu
from ivr.trajectory import CallRecord, Outcome, Step, StepKind

__all__ = [
    "RESULTS_FOR",
    "Answer",
    "CallRecord",
    "CallScript",
    "Collect",
    "Command",
    "Digits",
    "Done",
    "GetVariable",
    "Hangup",
    "HungUp",
    "IntentEvent",
    "IntentRules",
    "IvrError",
    "Menu",
    "Outcome",
    "Play",
    "Priority",
    "Prompt",
    "Resolution",
    "Result",
    "Route",
    "RouteDecision",
    "RouteKind",
    "SetVariable",
    "Step",
    "StepKind",
    "Timeout",
    "Transfer",
    "UnexpectedResult",
    "UnknownMenu",
    "Variable",
    "call_script",
    "check_ivr",
    "load_intents",
    "load_menus",
    "resolve",
]
