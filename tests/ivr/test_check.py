"""``check_ivr``: every error kind is reported with its file and line, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.yamlconf import ConfigErrors
from ivr.check import check_ivr, load_intents, load_menus
from tests.ivr.fakepbx import write_conf

PROMPTS = """\
prompts:
  hi: {en: {sound: t/hi, text: Hi}, zh: {sound: t/hi, text: 你好}}
"""


def check(tmp_path: Path, menu: str, *, extra: dict[str, str] | None = None,
          intents: str = "intents:\n  known: {template: known}\n") -> list[tuple[str, int, str]]:
    """Errors for one menu file ``ivr/t/m.yaml`` (plus ``extra`` files), as (file name, line, message)."""
    write_conf(tmp_path, {"ivr/t/m.yaml": menu, "intents.yaml": intents, **(extra or {})})
    return [(Path(e.file).name, e.line, e.message) for e in check_ivr(tmp_path)]


def test_shipped_conf_has_no_errors(conf_dir):
    assert check_ivr(conf_dir) == []
    assert ("demo", "main") in load_menus(conf_dir)
    assert "fee_reduction" in load_intents(conf_dir).intents


def test_yaml_syntax_error_names_the_line(tmp_path):
    menu = "start: a\nnodes:\n  a: {type: hangup\n  b: [\n"
    [(file, line, message)] = check(tmp_path, menu)
    assert file == "m.yaml" and line == 4 and message.startswith("invalid YAML")


def test_duplicate_yaml_key_is_a_syntax_error(tmp_path):
    menu = "start: a\nnodes:\n  a: {type: hangup}\n  a: {type: hangup}\n"
    assert check(tmp_path, menu) == [("m.yaml", 4, "invalid YAML: duplicate key 'a'")]


def test_schema_errors_of_head_and_nodes_all_at_once(tmp_path):
    menu = """\
start: a
answer: maybe
nodes:
  a:
    type: collect
    prompt: hi
    max_digits: 0
    next: b
    fallback: b
    colour: red
  b: {type: teleport}
  c: [1, 2]
"""
    assert check(tmp_path, menu) == [
        ("m.yaml", 2, "answer: Input should be a valid boolean, unable to interpret input"),
        ("m.yaml", 7, "node 'a': max_digits: Input should be greater than or equal to 1"),
        ("m.yaml", 10, "node 'a': colour: Extra inputs are not permitted"),
        ("m.yaml", 11, "node 'b': unknown or missing type 'teleport'"),
        ("m.yaml", 12, "node 'c' must be a mapping with a 'type'"),
    ]


def test_missing_required_field_is_reported_on_the_node(tmp_path):
    menu = "start: a\nnodes:\n  a:\n    type: play\n    prompts: [hi]\n" + PROMPTS
    assert check(tmp_path, menu) == [("m.yaml", 4, "node 'a': next: Field required")]


def test_unknown_start_node_and_unknown_next(tmp_path):
    menu = "start: nowhere\nnodes:\n  a:\n    type: play\n    prompts: [hi]\n    next: elsewhere\n" + PROMPTS
    assert check(tmp_path, menu) == [
        ("m.yaml", 1, "start node 'nowhere' does not exist"),
        ("m.yaml", 6, "node 'a': next leads to unknown node 'elsewhere'"),
    ]


def test_unknown_target_in_a_digit_map_points_at_the_key(tmp_path):
    menu = """\
start: m
nodes:
  m:
    type: menu
    prompts: [hi]
    keys:
      1: bye
      2: byee
    on_failure: bye
  bye: {type: hangup}
""" + PROMPTS
    errors = check(tmp_path, menu)
    assert errors == [("m.yaml", 8, "node 'm': keys leads to unknown node 'byee'")]
    [error] = check_ivr(tmp_path)
    assert error.hint == "did you mean 'bye'?"


def test_unknown_prompt_reference(tmp_path):
    menu = "start: a\nnodes:\n  a:\n    type: hangup\n    prompts: [hi, hello]\n" + PROMPTS
    assert check(tmp_path, menu) == [("m.yaml", 5, "node 'a': unknown prompt 'hello'")]


def test_missing_language_variant_in_menu_and_tenant_prompts(tmp_path):
    menu = """\
languages: [en, zh]
start: a
nodes:
  a: {type: hangup, prompts: [own, shared]}
prompts:
  own:
    en: {sound: t/own, text: Own}
"""
    shared = "prompts:\n  unused: {en: {sound: u, text: U}}\n  shared:\n    zh: {sound: s, text: S}\n"
    errors = check(tmp_path, menu, extra={"ivr/t/_prompts.yaml": shared})
    assert errors == [
        ("_prompts.yaml", 4, "prompt 'shared' has no 'en' variant (menu 'm' needs it)"),
        ("m.yaml", 7, "prompt 'own' has no 'zh' variant"),
    ]


def test_default_language_must_be_one_of_the_languages(tmp_path):
    menu = "language: fr\nlanguages: [en, zh]\nstart: a\nnodes:\n  a: {type: hangup}\n"
    assert check(tmp_path, menu) == [("m.yaml", 1, "default language 'fr' is not among languages ['en', 'zh']")]


def test_bad_digit_maps(tmp_path):
    menu = """\
start: m
nodes:
  m:
    type: menu
    prompts: [hi]
    keys:
      1: bye
      "1": bye
      12: bye
      E: bye
      "*": bye
      "#": bye
      D: bye
    on_failure: bye
  bye: {type: hangup}
""" + PROMPTS
    errors = check(tmp_path, menu)
    assert errors == [
        ("m.yaml", 8, "node 'm': key '1' is mapped twice"),
        ("m.yaml", 9, "node 'm': '12' is not a DTMF key"),
        ("m.yaml", 10, "node 'm': 'E' is not a DTMF key"),
    ]
    assert check_ivr(tmp_path)[0].hint == "also on line 7 (1 and '1' are the same key)"


def test_bad_bounds(tmp_path):
    menu = """\
start: a
nodes:
  a:
    type: collect
    prompt: hi
    min_digits: 7
    max_digits: 6
    next: s
    fallback: s
  s:
    type: set
    fields:
      amount: {value: "{digits}", type: int, min: 10, max: 1}
      rate: {value: "{digits}", type: int, max: 1.5}
      name: {value: "x", min: -1}
    next: bye
  bye: {type: hangup}
""" + PROMPTS
    assert check(tmp_path, menu) == [
        ("m.yaml", 6, "node 'a': min_digits 7 is more than max_digits 6"),
        ("m.yaml", 13, "node 's': field 'amount' min 10 is more than max 1"),
        ("m.yaml", 14, "node 's': field 'rate' is int but max is 1.5"),
        ("m.yaml", 15, "node 's': field 'name' min length is negative"),
    ]


def test_unknown_placeholders(tmp_path):
    menu = """\
start: s
nodes:
  s:
    type: set
    fields:
      a: "{digits} {slot.x}"
      b: "{input.nope}"
    variables:
      V: "{caller}"
    next: bye
  bye: {type: hangup}
"""
    assert check(tmp_path, menu) == [
        ("m.yaml", 7, "node 's': unknown placeholder {input.nope}"),
        ("m.yaml", 9, "node 's': unknown placeholder {caller}"),
    ]


def test_intent_without_rule(tmp_path):
    menu = "start: s\nnodes:\n  s:\n    type: set\n    intent: mystery\n    next: bye\n  bye: {type: hangup}\n"
    assert check(tmp_path, menu) == [("m.yaml", 5, "node 's': intent 'mystery' has no rule")]


def test_broken_intents_file_is_reported_once(tmp_path):
    menu = "start: s\nnodes:\n  s: {type: set, intent: known, next: bye}\n  bye: {type: hangup}\n"
    errors = check(tmp_path, menu, intents="window: soon\nintents:\n  known: {template: known, priority: top}\n")
    assert [(f, line) for f, line, _ in errors] == [("intents.yaml", 1), ("intents.yaml", 3)]
    assert "window must look like 24h" in errors[0][2] and "priority" in errors[1][2]
    with pytest.raises(ConfigErrors):
        load_intents(tmp_path)


def test_unreachable_node(tmp_path):
    menu = "start: a\nnodes:\n  a: {type: hangup}\n  lonely: {type: hangup}\n"
    assert check(tmp_path, menu) == [("m.yaml", 4, "node 'lonely' is never reached from 'a'")]


def test_loop_with_no_exit(tmp_path):
    menu = """\
start: a
nodes:
  a: {type: play, prompts: [hi], next: b}
  b: {type: set, next: c}
  c: {type: goto, node: a}
  waits: {type: menu, prompts: [hi], keys: {1: waits}, on_failure: waits}
""" + PROMPTS
    errors = check(tmp_path, menu)
    assert errors[0] == ("m.yaml", 3, "loop with no exit: a, b, c go round without waiting for the caller")
    assert errors[1:] == [("m.yaml", 6, "node 'waits' is never reached from 'a'")]


def test_loop_across_menu_files(tmp_path):
    menu = "start: a\nnodes:\n  a: {type: goto, menu: other}\n"
    other = "start: x\nnodes:\n  x: {type: goto, menu: m, node: a}\n"
    errors = check(tmp_path, menu, extra={"ivr/t/other.yaml": other})
    assert errors == [("m.yaml", 3, "loop with no exit: a, other/x go round without waiting for the caller")]


def test_goto_unknown_menu_or_node(tmp_path):
    menu = """\
start: a
nodes:
  a: {type: menu, prompts: [hi], keys: {1: b, 2: c, 3: d}, on_failure: b}
  b: {type: goto, menu: othre}
  c: {type: goto, menu: other, node: nope}
  d: {type: goto}
""" + PROMPTS
    other = "start: x\nnodes:\n  x: {type: hangup}\n"
    errors = check(tmp_path, menu, extra={"ivr/t/other.yaml": other})
    assert errors == [
        ("m.yaml", 4, "node 'b': goto to unknown menu 'othre'"),
        ("m.yaml", 5, "node 'c': menu 'other' has no node 'nope'"),
        ("m.yaml", 6, "node 'd': goto needs a node, a menu or both"),
    ]


def test_bad_tenant_and_menu_names(tmp_path):
    write_conf(tmp_path, {"ivr/t{x}/m.yaml": "start: a\nnodes:\n  a: {type: hangup}\n",
                          "ivr/t/m.n.yaml": "start: a\nnodes:\n  a: {type: hangup}\n"})
    messages = [e.message for e in check_ivr(tmp_path)]
    assert messages == ["menu name 'm.n' is not allowed", "tenant name 't{x}' is not allowed"]


def test_load_menus_refuses_a_broken_conf_with_every_error(tmp_path):
    write_conf(tmp_path, {"ivr/t/m.yaml": "start: a\nnodes:\n  a: {type: play, prompts: [x], next: y}\n"})
    with pytest.raises(ConfigErrors) as caught:
        load_menus(tmp_path)
    assert [e.line for e in caught.value.errors] == [3, 3]
    assert str(caught.value).count("m.yaml:3:") == 2


def test_back_before_any_menu_that_would_loop_to_start_needs_otherwise(tmp_path):
    looping = "start: info\nnodes:\n  info: {type: play, prompts: [hi], next: up}\n  up: {type: back}\n" + PROMPTS
    errors = check(tmp_path, looping)
    assert errors == [("m.yaml", 3, "loop with no exit: info, up go round without waiting for the caller")]

    fixed = looping.replace("{type: back}", "{type: back, otherwise: bye}\n  bye: {type: hangup}")
    assert check(tmp_path, fixed) == []
