"""``hotline check`` for flows: the shipped files pass, a broken one reports every error with its line."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from flows.check import check_flows
from flows.nodes import node_kinds
from tests.flows.helpers import CONF

BROKEN = """\
key: broken
fields:
  amount: {type: number}
nodes:
  create: {type: create}
  supervisor:
    type: approve
    assignees: [{role: nobody}, {users: [zed]}, {unit: atlantis}]
    sla: {duration: 1h}
    warnings:
      - {level: 1, after: 0m, channels: [wecom], recipients: [{assignee: true}]}
  manager:
    type: approve
    assignees: [{role: manager}]
    sla: {duration: soon}
  orphan:
    type: handle
    assignees: [{role: agent}]
  loop:
    type: handle
    assignees: [{role: agent}]
  closed: {type: close}
transitions:
  - {from: create, to: supervisor}
  - {from: supervisor, to: nowhere, when: "amount > 1"}
  - {from: supervisor, to: closed, when: "amount.__class__ == 1"}
  - {from: supervisor, to: loop}
  - {from: loop, to: loop}
  - {from: orphan, to: closed}
"""


def _conf(tmp_path: Path, flow: str, name: str = "broken") -> Path:
    conf = tmp_path / "conf"
    (conf / "flows" / "demo").mkdir(parents=True)
    shutil.copy(CONF / "people.yaml", conf / "people.yaml")
    (conf / "flows" / "demo" / f"{name}.yaml").write_text(flow)
    return conf


def _line(needle: str) -> int:
    return next(i for i, line in enumerate(BROKEN.splitlines(), 1) if needle in line)


def test_the_shipped_flows_and_people_pass(conf_dir: Path) -> None:
    assert check_flows(conf_dir) == []


def test_every_error_is_reported_at_once_with_its_line(tmp_path: Path) -> None:
    errors = check_flows(_conf(tmp_path, BROKEN))
    found = {(e.line, e.message) for e in errors}
    file = str(tmp_path / "conf" / "flows" / "demo" / "broken.yaml")
    assert all(e.file == file for e in errors)
    expected = [
        (_line("role: nobody"), "unknown role 'nobody'"),
        (_line("role: nobody"), "unknown person 'zed'"),
        (_line("role: nobody"), "unknown org unit 'atlantis'"),
        (_line("duration: soon"), "nodes.manager.sla.duration"),
        (_line("to: nowhere"), "transition 2: unknown node 'nowhere'"),
        (
            _line("amount.__class__"),
            "transition 3: bad condition (column 1): not allowed in a condition: attribute",
        ),
        (_line("orphan:"), "node 'orphan' cannot be reached from 'create'"),
        (_line("loop:"), "node 'loop': no close node can be reached from it"),
    ]
    for line, start in expected:
        assert any(ln == line and message.startswith(start) for ln, message in found), (
            line,
            start,
            sorted(found),
        )


def test_a_node_without_a_default_transition_and_a_missing_close_are_errors(tmp_path: Path) -> None:
    flow = """\
key: stall
nodes:
  create: {type: create}
  ask: {type: handle, assignees: [{users: [alice]}]}
transitions:
  - {from: create, to: ask, when: "repeat > 0"}
  - {from: ask, to: create}
"""
    messages = [e.message for e in check_flows(_conf(tmp_path, flow, "stall"))]
    assert any("its last transition has a condition" in m for m in messages)
    assert "the flow has no close node" in messages


def test_the_key_must_match_the_file_name(tmp_path: Path) -> None:
    text = (CONF / "flows" / "demo" / "fee_reduction.yaml").read_text()
    [error] = check_flows(_conf(tmp_path, text, "renamed"))
    assert error.line == 7 and "does not match 'renamed'" in error.message


@pytest.fixture
def scoring_plugin(tmp_path: Path):
    """A real installed distribution declaring a ``hotline.nodes`` entry point."""
    package = tmp_path / "plugin"
    (package / "scoring_nodes").mkdir(parents=True)
    (package / "scoring_nodes" / "__init__.py").write_text(
        "from flows.nodes import Behaviour, NodeKind\n"
        "def _decide(fields, options):\n"
        "    return 'high' if (fields.get('amount') or 0) >= options.get('limit', 1000) else 'low'\n"
        "SCORE = NodeKind('score', Behaviour.AUTO, ('high', 'low'), _decide)\n"
    )
    info = package / "scoring_nodes-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: scoring-nodes\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[hotline.nodes]\nscore = scoring_nodes:SCORE\n")
    sys.path.insert(0, str(package))
    node_kinds.cache_clear()
    yield
    sys.path.remove(str(package))
    sys.modules.pop("scoring_nodes", None)
    node_kinds.cache_clear()


def test_a_custom_node_type_from_an_entry_point_is_known_and_decides(scoring_plugin, tmp_path: Path) -> None:
    kinds, problems = node_kinds()
    assert problems == () and kinds["score"].decide({"amount": 5000}, {}) == "high"
    flow = """\
key: scored
fields: {amount: {type: number}}
nodes:
  create: {type: create}
  score: {type: score}
  big: {type: close, result: big}
  small: {type: close, result: small}
transitions:
  - {from: create, to: score}
  - {from: score, to: big, when: "score == 'high'"}
  - {from: score, to: small}
"""
    assert check_flows(_conf(tmp_path, flow, "scored")) == []
