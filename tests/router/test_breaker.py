"""Level 1: dial failures open a trunk's breaker; after the cool-down one probe call goes through."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from router.decision import Reason, UnknownName
from router.model import Breaker, Level
from router.sync import Router
from tests.router.conftest import demo_config, trunk

COOLDOWN_S = 0.3


@pytest.fixture
def router(conf_dir: Path, tenant: str, redis_url: str) -> Router:
    def quick(routing: dict[str, Any]) -> None:
        trunk(routing, "primary")["breaker"] = {"failures": 3, "window_s": 10, "cooldown_s": COOLDOWN_S}

    return Router.from_url(redis_url, demo_config(conf_dir, tenant, quick), node="n")


def open_breaker(router: Router, tenant: str) -> None:
    states = [router.report_failure(tenant, "primary") for _ in range(3)]
    assert states == [Breaker.CLOSED, Breaker.CLOSED, Breaker.OPEN]


def test_failures_open_the_breaker_and_calls_go_to_the_backup(router: Router, tenant: str) -> None:
    open_breaker(router, tenant)
    decision = router.decide(tenant, "billing", "c1", pbx="ast-1")
    assert (decision.name, decision.level, decision.reason) == ("backup", Level.RECOVERY, Reason.BREAKER_OPEN)
    assert router.status(tenant)[0].breaker is Breaker.OPEN


def test_after_the_cooldown_one_probe_is_let_through(router: Router, tenant: str) -> None:
    open_breaker(router, tenant)
    time.sleep(COOLDOWN_S + 0.05)
    probe = router.decide(tenant, "billing", "probe", pbx="ast-1")
    assert (probe.name, probe.probe) == ("primary", True)
    assert router.status(tenant)[0].breaker is Breaker.HALF_OPEN
    assert router.decide(tenant, "billing", "meanwhile", pbx="ast-1").name == "backup", "one probe at a time"
    assert router.report_success(tenant, "primary", "probe") is Breaker.CLOSED
    assert router.decide(tenant, "billing", "after", pbx="ast-1").name == "primary"


def test_a_failed_probe_reopens_and_late_reports_of_other_calls_are_ignored(
    router: Router, tenant: str
) -> None:
    open_breaker(router, tenant)
    time.sleep(COOLDOWN_S + 0.05)
    router.decide(tenant, "billing", "probe", pbx="ast-1")
    assert router.report_failure(tenant, "primary", "placed-before-it-opened") is Breaker.HALF_OPEN
    assert router.report_failure(tenant, "primary", "probe") is Breaker.OPEN
    assert router.decide(tenant, "billing", "c2", pbx="ast-1").name == "backup"


def test_a_probe_that_ends_without_a_failure_closes_the_breaker(router: Router, tenant: str) -> None:
    open_breaker(router, tenant)
    time.sleep(COOLDOWN_S + 0.05)
    router.decide(tenant, "billing", "probe", pbx="ast-1")
    router.release(tenant, "probe")
    assert router.status(tenant)[0].breaker is Breaker.CLOSED


def test_a_lost_probe_is_replaced_after_another_cooldown(router: Router, tenant: str) -> None:
    open_breaker(router, tenant)
    time.sleep(COOLDOWN_S + 0.05)
    router.decide(tenant, "billing", "probe-lost", pbx="ast-1")
    time.sleep(COOLDOWN_S + 0.05)
    assert router.decide(tenant, "billing", "probe-2", pbx="ast-1").probe is True


def test_only_trunks_have_breakers(router: Router, tenant: str) -> None:
    with pytest.raises(UnknownName):
        router.report_failure(tenant, "keypad")
