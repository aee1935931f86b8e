"""The stored form of a plan: built from cached levels, it must equal pydantic's own dump."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from alerts.plan import Plan

WARNINGS = [
    {"level": 0, "at_pct": 0.8, "channels": ["wecom"], "recipients": [{"role": "supervisor"}]},
    {"level": 1, "after_s": 0, "channels": ["wecom", "email"], "recipients": [{"assignee": True}]},
    {"level": 2, "after_s": 900, "channels": ["sms"], "recipients": []},
]


@pytest.mark.parametrize("contacts", [False, True])
def test_stored_plan_is_pydantics_json_dump(contacts: bool) -> None:
    levels = (
        [{**w, "recipients": [{"person": "p1", "name": "Ann", "phone": "+1555"}]} for w in WARNINGS]
        if contacts
        else WARNINGS
    )
    plan = Plan.from_warning_plan(levels, title="Ticket #1 is overdue", text="Caller 1", contacts=contacts)
    assert orjson.dumps(plan.stored()) == orjson.dumps(plan.model_dump(mode="json"))
    other = Plan.from_warning_plan(levels, title="Ticket #2 is overdue", contacts=contacts)
    assert all(a is b for a, b in zip(other.levels, plan.levels, strict=True)), "tasks of one node share their validated levels"
    assert other.stored()["title"] == "Ticket #2 is overdue" and other.stored()["text"] == ""


def test_a_bad_level_is_still_refused_every_time() -> None:
    bad = [{"level": 1, "after_s": -5, "channels": ["sms"]}]
    for _ in range(2):
        with pytest.raises(ValidationError, match="offset must not be negative"):
            Plan.from_warning_plan(bad, title="t")
