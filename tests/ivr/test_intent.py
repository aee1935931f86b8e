"""Intent resolution: the last set step, fields carried by the rule, repeats within the window."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ivr.intent import HistoryEntry, IntentRule, IntentRules, Priority, Resolution, intent_of, resolve
from ivr.trajectory import CallRecord, StepKind

DAY = 86400.0
NOW = 1_800_000_000.0
RULES = IntentRules(window="24h", intents={
    "fee_reduction": IntentRule(template="fee_reduction", priority=Priority.HIGH, fields=["amount"]),
    "complaint": IntentRule(template="complaint"),
})


def record_with(*sets: tuple[str, dict]) -> CallRecord:
    record = CallRecord("t", "main", "en")
    for intent, fields in sets:
        record.add(1000, StepKind.SET, "main", "n", intent, fields)
    return record


def test_last_set_naming_an_intent_wins_and_fields_merge():
    record = record_with(("complaint", {"account": "77"}), ("fee_reduction", {"amount": 5}), ("", {"amount": 6}))
    assert intent_of(record) == ("fee_reduction", {"account": "77", "amount": 6})


def test_call_without_intent_resolves_to_nothing():
    assert resolve(CallRecord("t", "main", "en"), "c1", [], RULES, NOW) == Resolution(None)


def test_rule_gives_template_priority_and_only_carried_fields():
    resolution = resolve(record_with(("fee_reduction", {"amount": 500, "noise": "x"})), "c2", [], RULES, NOW)
    assert resolution == Resolution("fee_reduction", "fee_reduction", Priority.HIGH, {"amount": 500})


def test_rule_without_field_list_carries_all_fields():
    resolution = resolve(record_with(("complaint", {"a": "1", "b": "2"})), "c2", [], RULES, NOW)
    assert resolution.fields == {"a": "1", "b": "2"} and resolution.priority is Priority.NORMAL


def test_same_intent_within_window_is_a_repeat_with_earlier_ids_oldest_first():
    history = [
        HistoryEntry("c-late", "fee_reduction", NOW - 60),
        HistoryEntry("c-early", "fee_reduction", NOW - 23 * 3600),
        HistoryEntry("c-other", "complaint", NOW - 120),
        HistoryEntry("c-old", "fee_reduction", NOW - DAY),  # exactly at the edge: outside
        HistoryEntry("c-self", "fee_reduction", NOW),  # this call, already recorded by a retried hand-off
    ]
    resolution = resolve(record_with(("fee_reduction", {})), "c-self", history, RULES, NOW)
    assert resolution.repeat and resolution.earlier_call_ids == ("c-early", "c-late")


def test_same_intent_after_window_is_not_a_repeat():
    history = [HistoryEntry("c1", "fee_reduction", NOW - 25 * 3600)]
    resolution = resolve(record_with(("fee_reduction", {})), "c2", history, RULES, NOW)
    assert not resolution.repeat and resolution.earlier_call_ids == ()


@pytest.mark.parametrize(("text", "seconds"), [("24h", DAY), ("90m", 5400), ("2d", 2 * DAY), ("3600s", 3600),
                                               (600, 600)])
def test_window_accepts_durations(text, seconds):
    assert IntentRules(window=text).window == seconds


def test_window_rejects_nonsense():
    with pytest.raises(ValidationError, match="window must look like 24h"):
        IntentRules(window="a day")


def test_history_member_round_trips_without_the_time():
    entry = HistoryEntry("c1", "fee_reduction", NOW)
    assert HistoryEntry.from_member(entry.member().encode(), NOW) == entry
