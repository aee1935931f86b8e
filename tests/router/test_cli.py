"""``hotline route``: status shows what is in force; set applies to the next call, no restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import hotline.cli  # noqa: F401 - the `hotline` CLI first, as in production (it attaches `route`)
from router.cli import route
from router.model import RoutingConfig
from router.sync import Router
from tests.router.conftest import write_conf


@pytest.fixture
def env(tmp_path: Path, config: RoutingConfig, redis_url: str) -> dict[str, str]:
    conf = write_conf(tmp_path / "conf", config)
    return {
        "HOTLINE_CONF_DIR": str(conf),
        "HOTLINE_REDIS_URL": redis_url,
        "HOTLINE_DATA_DIR": str(tmp_path / "data"),
        "HOTLINE_NODE_NAME": "cli",
    }


def test_status_shows_capacity_use_state_and_source(router: Router, tenant: str, env: dict[str, str]) -> None:
    router.decide(tenant, "billing", "c1", pbx="ast-1")
    result = CliRunner().invoke(route, ["status", "--tenant", tenant], env=env)
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()[4:] if line.strip()}
    assert rows["primary"] == ["primary", "trunk", "100", "1", "up", "config", "closed"]
    assert rows["chat"] == ["chat", "diversion", "no", "limit", "0", "up", "config", "closed"]


def test_a_limit_set_from_the_cli_applies_to_the_next_call(
    router: Router, tenant: str, env: dict[str, str]
) -> None:
    assert router.decide(tenant, "billing", "c1", pbx="ast-1").name == "primary"
    result = CliRunner().invoke(route, ["set", "primary", "--limit", "1"], env=env)
    assert result.exit_code == 0, result.output
    assert "live capacity" in result.output
    assert router.decide(tenant, "billing", "c2", pbx="ast-1").name == "backup"
    drained = CliRunner().invoke(route, ["set", "backup", "--state", "drain", "--tenant", tenant], env=env)
    assert drained.exit_code == 0, drained.output
    assert router.decide(tenant, "billing", "c3", pbx="ast-1").name == "keypad"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["set", "primary"], "give --limit N and/or --state up|down|drain"),
        (["set", "nowhere", "--limit", "3"], "no trunk or diversion 'nowhere'"),
        (["set", "desk", "--state", "down"], "no trunk or diversion 'desk'"),
        (["status", "--tenant", "other"], "no tenant 'other'"),
    ],
)
def test_operator_mistakes_end_with_one_line_and_status_2(
    env: dict[str, str], args: list[str], message: str
) -> None:
    result = CliRunner().invoke(route, args, env=env)
    assert result.exit_code == 2 and message in result.output, result.output


def test_a_bad_limit_is_refused_by_the_parser(env: dict[str, str]) -> None:
    result = CliRunner().invoke(route, ["set", "primary", "--limit", "-4"], env=env)
    assert result.exit_code == 2 and "-4 is not in the range x>=0" in result.output
