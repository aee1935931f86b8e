"""conf/routing.yaml is checked up front: every problem at once, each with file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from hotline.cli import cli
from router.check import check_routing, load_routing_config

BROKEN = """\
tenants:
  demo:
    trunks:
      - name: primary
        pbx: asterisk
        dial: PJSIP/4001@carrier-a
        capacity: -1
      - name: primary
        pbx: freeswitch
        dial: sofia/gateway/b/${number}
        capacity: 50
    queues:
      - name: billing
        number: "4001"
        trunks: [primary, nowhere]
    diversions:
      - {name: keypad, kind: menu, target: selfservice, level: 1}
      - {name: chat, kind: chat, target: https://x, level: 1}
    hardphones: {name: desk, pbx: asterisk, dial: PJSIP/6001}
"""


def test_shipped_config_is_valid(conf_dir: Path) -> None:
    assert check_routing(conf_dir) == []


def test_every_error_is_reported_at_once_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "routing.yaml").write_text(BROKEN)
    found = {(e.line, e.message.split(": ", 1)[-1]) for e in check_routing(tmp_path)}
    assert {e.file for e in check_routing(tmp_path)} == {str(tmp_path / "routing.yaml")}
    assert found == {
        (6, "Value error, dial template must contain ${number}, e.g. PJSIP/${number}@carrier"),
        (7, "Input should be greater than or equal to 0"),
        (8, "route target name 'primary' is used more than once"),
        (15, "queue 'billing' uses unknown trunk 'nowhere'"),
        (17, "diversion 'keypad' goes to IVR menu 'selfservice', which does not exist"),
        (18, "diversion level '1' is used more than once"),
    }


def test_unknown_trunk_error_hints_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / "routing.yaml").write_text(BROKEN)
    unknown = next(e for e in check_routing(tmp_path) if "nowhere" in e.message)
    assert str(unknown) == (
        f"{tmp_path}/routing.yaml:15: tenants.demo: queue 'billing' uses unknown trunk 'nowhere' "
        "(hint: known trunks: primary)"
    )


def test_a_typo_in_a_key_is_an_error_not_a_default(tmp_path: Path) -> None:
    text = BROKEN.replace("capacity: 50", "capacity: 50\n        priorty: 2").replace(
        "capacity: -1", "capacity: 1"
    )
    (tmp_path / "routing.yaml").write_text(text.replace("PJSIP/4001", "PJSIP/${number}"))
    assert [(e.line, e.message) for e in check_routing(tmp_path) if "priorty" in e.message] == [
        (12, "tenants.demo.trunks.1.priorty: Extra inputs are not permitted")
    ]


def test_missing_file_and_bad_yaml_are_located(tmp_path: Path) -> None:
    [missing] = check_routing(tmp_path)
    assert missing.file == str(tmp_path / "routing.yaml") and "cannot read file" in missing.message
    (tmp_path / "routing.yaml").write_text("tenants:\n  demo: [\n")
    [bad] = check_routing(tmp_path)
    assert bad.line == 3 and bad.message.startswith("invalid YAML")


def test_hotline_check_reports_a_menu_diversion_whose_menu_is_missing(conf_dir: Path, tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    shutil.copytree(conf_dir, conf)
    (conf / "ivr" / "demo" / "selfservice.yaml").unlink()
    routing = conf / "routing.yaml"
    line = next(n for n, text in enumerate(routing.read_text().splitlines(), 1) if "target: selfservice" in text)

    result = CliRunner().invoke(cli, ["check", str(conf)])

    assert result.exit_code == 2
    assert (f"{routing}:{line}: tenants.demo: diversion 'keypad' goes to IVR menu 'selfservice', which does not "
            f"exist (hint: menus in {conf / 'ivr' / 'demo'}: main)") in result.output
    assert "ivr        ok" in result.output  # the menus that are there are fine: only routing names a missing one


CHAT = """\
tenants:
  demo:
    trunks: [{name: primary, pbx: asterisk, dial: "PJSIP/${number}@a", capacity: 1}]
    queues: [{name: general, number: "4000", trunks: [primary]}]
    diversions:
      - name: chat
        kind: chat
        target: https://chat.example.com/demo
        level: 1
        message: "Chat with us online"
      - name: chat2
        kind: chat
        level: 2
      - name: keypad
        kind: menu
        target: main
        level: 3
        message: "Press {link}"
    hardphones: {name: desk, pbx: asterisk, dial: PJSIP/6001}
"""


def test_hotline_check_locates_chat_sms_mistakes(tmp_path: Path) -> None:
    """A message the link cannot go into, a chat without its link, an SMS on a menu: each at its own line."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "routing.yaml").write_text(CHAT)
    (conf / "ivr" / "demo").mkdir(parents=True)
    (conf / "ivr" / "demo" / "main.yaml").write_text("")  # exists; the ivr check's own report is not this test's

    result = CliRunner().invoke(cli, ["check", str(conf)])

    assert result.exit_code == 2
    routing = conf / "routing.yaml"
    assert (f"{routing}:10: tenants.demo.diversions.0.message: Value error, message must contain {{link}}, where the "
            "chat link goes, e.g. 'Chat with us online: {link}'") in result.output
    assert f"{routing}:11: tenants.demo.diversions.1.target: Field required" in result.output
    assert (f"{routing}:18: tenants.demo.diversions.2.message: Value error, only a chat diversion sends an SMS; "
            "remove message from this menu diversion") in result.output


def test_a_chat_target_must_be_a_web_link(tmp_path: Path) -> None:
    (tmp_path / "routing.yaml").write_text(CHAT.replace("https://chat.example.com/demo", "selfservice"))
    assert [(e.line, e.message.split(": ", 1)[1]) for e in check_routing(tmp_path) if "target" in e.message][0] == (
        8, "Value error, a chat diversion's target is the link sent by SMS: an http(s) URL of at most 200 characters")


def test_hotline_check_locates_a_region_no_phone_numbers_are_known_for(conf_dir: Path, tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    shutil.copytree(conf_dir, conf)
    routing = conf / "routing.yaml"
    text = routing.read_text()
    routing.write_text(text.replace("region: CN ", "region: XX "))
    line = next(n for n, text in enumerate(routing.read_text().splitlines(), 1) if "region: XX" in text)

    result = CliRunner().invoke(cli, ["check", str(conf)])

    assert result.exit_code == 2
    assert (f"{routing}:{line}: tenants.demo.region: Value error, 'XX' is not a region phone numbers are known "
            "for: use an ISO 3166 country code such as CN, US or GB") in result.output


def test_a_region_may_be_written_in_lower_case(conf_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "routing.yaml").write_text((conf_dir / "routing.yaml").read_text().replace("region: CN ", "region: gb "))
    assert load_routing_config(tmp_path).tenants["demo"].region == "GB"
