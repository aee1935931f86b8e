"""``hotline flows deploy`` as an operator reads it: what went in, what was refused, what to look at."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from flows.cli import flows
from hotline.cli_support import console, err_console

CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.fixture
def conf_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped demo flow under a second tenant, ``acme``, that people.yaml does not list."""
    shutil.copy(CONF / "people.yaml", tmp_path / "people.yaml")
    for tenant in ("demo", "acme"):
        (tmp_path / "flows" / tenant).mkdir(parents=True)
        shutil.copy(CONF / "flows" / "demo" / "fee_reduction.yaml", tmp_path / "flows" / tenant)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("HOTLINE_CONF_DIR", str(tmp_path))
    for out in (console, err_console):
        monkeypatch.setattr(out, "width", 300)
    return tmp_path


def test_deploy_lists_the_unchecked_people_of_a_tenant_without_people(conf_dir: Path) -> None:
    result = CliRunner().invoke(flows, ["deploy"])
    assert result.exit_code == 0, result.output
    acme = str(conf_dir / "flows" / "acme" / "fee_reduction.yaml")
    assert f"deployed  v1 {acme}" in result.output and "people    loaded for tenant demo" in result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning: ")]
    assert warnings and all(line.startswith(f"warning: {acme}:") for line in warnings), warnings
    assert any("role 'supervisor'" in line for line in warnings), warnings

    again = CliRunner().invoke(flows, ["deploy"])
    assert again.exit_code == 0 and f"unchanged {acme}" in again.output
