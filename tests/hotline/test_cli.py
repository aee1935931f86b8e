"""The CLI as an operator meets it: check, tokens, version."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from hotline import __version__
from hotline.cli import cli


def run(tmp_path: Path, *args: str, stdin: str = "", **extra: str) -> subprocess.CompletedProcess[str]:
    """``hotline ARGS`` in a fresh process: data and conf under tmp_path, no other HOTLINE_* but ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(HOTLINE_DATA_DIR=str(tmp_path / "data"), HOTLINE_CONF_DIR=str(tmp_path / "conf"), **extra)
    return subprocess.run([sys.executable, "-m", "hotline", *args], env=env, cwd=tmp_path, input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_check_passes_on_shipped_conf(conf_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["check", str(conf_dir)])
    assert result.exit_code == 0, result.output
    assert "settings   ok" in result.output


def test_check_reports_broken_file_with_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "hotline.yaml").write_text("http_port: 8080\nhttp_port_typo: 1\n")
    result = CliRunner().invoke(cli, ["check", str(tmp_path)])
    assert result.exit_code == 2
    assert f"{tmp_path}/hotline.yaml:2: unknown setting 'http_port_typo'" in result.output


def test_check_of_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    result = run(tmp_path, "check", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'nope'}: no such directory"


def test_tokens_create_list_revoke(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    created = run(tmp_path, "tokens", "create", "--tenant", "demo", "--role", "agent", "--name", "alice")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("hl_") and len(token) > 30
    listed = run(tmp_path, "tokens", "list", "--tenant", "demo")
    assert "alice" in listed.stdout and "active" in listed.stdout
    assert token not in listed.stdout, "the token itself must never be shown again"
    assert run(tmp_path, "tokens", "revoke", "1").returncode == 0
    assert "revoked" in run(tmp_path, "tokens", "list").stdout
    again = run(tmp_path, "tokens", "revoke", "1")
    assert again.returncode == 2 and "no active token #1" in again.stderr


def test_bad_role_is_refused_by_the_parser(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["tokens", "create", "--tenant", "demo", "--role", "god"])
    assert result.exit_code == 2 and "'god' is not one of" in result.output


def test_version() -> None:
    assert CliRunner().invoke(cli, ["version"]).output.strip() == f"hotline {__version__}"
