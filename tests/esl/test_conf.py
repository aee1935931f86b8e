"""conf/freeswitch: the shipped dialplan and event socket snippets say what the edge relies on."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

from esl.handover import DIVERT_CONTEXT
from esl.inbound import SUBSCRIPTION

CONF = Path(__file__).resolve().parents[2] / "conf" / "freeswitch"


def _actions(extension: ElementTree.Element) -> list[tuple[str, str]]:
    return [(a.get("application", ""), a.get("data", "")) for a in extension.iter("action")]


def test_hotline_extension_sets_tenant_and_menu_then_falls_back_after_the_socket():
    context = ElementTree.parse(CONF / "hotline.xml").getroot().find("context")
    assert context is not None and context.get("name") == DIVERT_CONTEXT
    extensions = {e.get("name"): e for e in context.iter("extension")}
    actions = _actions(extensions["hotline"])
    apps = [app for app, _ in actions]
    assert ("set", "hotline_tenant=demo") in actions and ("set", "hotline_menu=main") in actions
    socket = apps.index("socket")
    assert actions[socket][1].endswith(" async full")
    assert actions[socket + 1] == ("transfer", "hotline-fallback XML hotline")  # Hotline down or let go
    assert {"divert-menu", "divert-bot", "divert-chat", "hotline-fallback"} <= set(extensions)


def test_event_socket_snippet_takes_its_password_from_the_environment():
    text = (CONF / "event_socket.conf.xml").read_text()
    root = ElementTree.fromstring(text)
    params = {p.get("name"): p.get("value") for p in root.iter("param") if p.get("name") != "apply-inbound-acl"}
    assert params["listen-port"] == "8021" and params["password"] == "$${hotline_fs_password}"
    assert 'cmd="env-set" data="hotline_fs_password=$HOTLINE_FS_PASSWORD"' in text
    assert "CUSTOM callcenter::info" in SUBSCRIPTION and SUBSCRIPTION.endswith("callcenter::info")
