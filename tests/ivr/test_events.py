"""The intent event's stream fields: text only, and back again unchanged."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from ivr.commands import RouteDecision, RouteKind
from ivr.events import IntentEvent
from ivr.intent import Priority, Resolution
from ivr.trajectory import CallRecord, Outcome, StepKind


def finished_record() -> CallRecord:
    record = CallRecord("demo", "main", "zh")
    record.add(0, StepKind.ENTER, "main", "main", "menu")
    record.add(900, StepKind.KEYS, "main", "main", "2")
    record.add(4000, StepKind.SET, "main", "reduction", "fee_reduction", {"amount": 500, "rate": Decimal("1.5")})
    record.add(4100, StepKind.ENTER, "sub", "leaf", "route")
    record.route = RouteDecision(RouteKind.DIVERSION, "backup", target="+8610", elapsed_ms=4200)
    record.finish(Outcome.DIVERTED, 4200, "sub", "leaf")
    return record


def event() -> IntentEvent:
    resolution = Resolution("fee_reduction", "fee_reduction", Priority.HIGH, {"amount": 500, "rate": Decimal("1.5")},
                            True, ("c0",))
    return IntentEvent.from_call(finished_record(), resolution, call_id="c1", caller="13800138000",
                                 started_at=1732790000.25, ended_at=1732790004.45)


def test_fields_are_text_and_parse_back():
    fields = event().to_fields()
    assert all(isinstance(v, str) for v in fields.values())
    assert fields["fields"] == '{"amount":500,"rate":"1.5"}' and fields["repeat"] == "1"
    assert fields["outcome"] == "diverted" and fields["outcome_node"] == "sub/leaf"
    back = IntentEvent.from_fields(fields)
    assert back.fields == {"amount": 500, "rate": "1.5"}
    assert back == replace(event(), fields={"amount": 500, "rate": "1.5"},
                           steps=IntentEvent.from_fields(fields).steps)
    assert [s.as_list()[:5] for s in back.steps] == [s.as_list()[:5] for s in event().steps]


def test_bytes_from_redis_parse_too():
    raw = {k.encode(): v.encode() for k, v in event().to_fields().items()}
    parsed = IntentEvent.from_fields(raw)
    assert parsed.summary["route"] == {"kind": "diversion", "name": "backup", "dial": None, "target": "+8610"}
    assert parsed.steps[2].data == {"amount": 500, "rate": "1.5"}
    assert parsed.priority is Priority.HIGH and parsed.earlier_call_ids == ("c0",)


def test_no_intent_travels_as_empty_text():
    plain = IntentEvent.from_call(finished_record(), Resolution(None), call_id="c2", caller="",
                                  started_at=1.0, ended_at=2.0)
    fields = plain.to_fields()
    assert (fields["intent"], fields["template"], fields["priority"], fields["repeat"]) == ("", "", "", "0")
    back = IntentEvent.from_fields(fields)
    assert (back.intent, back.template, back.priority) == (None, None, None)


def test_unknown_version_and_missing_field_are_refused():
    fields = event().to_fields()
    with pytest.raises(ValueError, match="version '2'"):
        IntentEvent.from_fields({**fields, "v": "2"})
    del fields["outcome"]
    with pytest.raises(ValueError, match="lacks field 'outcome'"):
        IntentEvent.from_fields(fields)


def test_unfinished_record_cannot_become_an_event():
    with pytest.raises(ValueError, match="has not finished"):
        IntentEvent.from_call(CallRecord("t", "m", "en"), Resolution(None), call_id="c", caller="",
                              started_at=0.0, ended_at=0.0)
