"""conf/asterisk/extensions_hotline.conf agrees with the code: variable names, outcomes, script paths."""

from __future__ import annotations

import re
from pathlib import Path

from agi import variables
from agi.scripts import parse_script_path
from ivr.trajectory import Outcome

DIALPLAN_ONLY = {"HOTLINE_AGI", "HOTLINE_TENANT", "HOTLINE_PBX", "HOTLINE_HARDPHONES", "HOTLINE_DIAL_TIMEOUT",
                 "HOTLINE_DIALSTATUS"}


def _dialplan(conf_dir: Path) -> str:
    return (conf_dir / "asterisk" / "extensions_hotline.conf").read_text()


def test_every_hotline_variable_in_the_dialplan_is_one_the_code_sets(conf_dir: Path) -> None:
    text = _dialplan(conf_dir)
    code = "\n".join(line.split(";")[0] for line in text.splitlines())
    known = {getattr(variables, name) for name in variables.__all__ if name.startswith("HOTLINE_")}
    assert set(re.findall(r"HOTLINE_[A-Z_]+", code)) - DIALPLAN_ONLY <= known
    assert known <= set(re.findall(r"HOTLINE_[A-Z_]+", text))  # every one the code sets is used or documented


def test_every_outcome_has_an_extension(conf_dir: Path) -> None:
    text = _dialplan(conf_dir)
    section = text.split("[hotline-outcome]")[1].split("\n[")[0]
    handled = set(re.findall(r"^exten => (\w+),1", section, re.MULTILINE))
    assert {str(o) for o in Outcome} | {variables.OUTCOME_ERROR, "none", "i"} == handled


def test_agi_urls_name_scripts_that_exist(conf_dir: Path) -> None:
    text = _dialplan(conf_dir).replace("${HOTLINE_TENANT}", "demo").replace("${HOTLINE_TARGET}", "selfservice")
    paths = re.findall(r"AGI\(\$\{HOTLINE_AGI\}/([^?)]+)", text)
    assert len(paths) == 3
    for path in paths:
        parse_script_path(path)


def test_hangup_query_carries_what_the_hangup_script_reads(conf_dir: Path) -> None:
    query = re.search(r"/hangup\?([^)]+)\)", _dialplan(conf_dir)).group(1)
    assert [pair.split("=")[0] for pair in query.split("&")] == ["dialstatus", "cause", "route", "outcome", "probe",
                                                                   "pbx"]
