import pytest
from pydantic import BaseModel

from hotline.yamlconf import ConfigErrors, line_of, parse_yaml, validate_model


class Item(BaseModel):
    name: str
    size: int


class Doc(BaseModel):
    items: list[Item]


def test_line_of_follows_nested_mappings_and_lists() -> None:
    data = parse_yaml("items:\n  - name: a\n    size: 1\n  - name: b\n    size: 2\n", "d.yaml")
    assert line_of(data, ("items", 1, "size")) == 5
    assert line_of(data, ("items", 0)) == 2


def test_missing_key_is_reported_at_its_mapping() -> None:
    data = parse_yaml("items:\n  - name: a\n  - name: b\n    size: x\n", "d.yaml")
    with pytest.raises(ConfigErrors) as info:
        validate_model(Doc, data, "d.yaml")
    assert [str(e) for e in info.value.errors] == [
        "d.yaml:2: items.0.size: Field required",
        "d.yaml:4: items.1.size: Input should be a valid integer, unable to parse string as an integer",
    ]


def test_duplicate_key_is_an_error_with_line() -> None:
    with pytest.raises(ConfigErrors) as info:
        parse_yaml("a: 1\nb: 2\na: 3\n", "d.yaml")
    assert str(info.value) == "d.yaml:3: invalid YAML: duplicate key 'a'"


def test_empty_document_is_an_empty_mapping() -> None:
    assert parse_yaml("# nothing\n", "d.yaml") == {}
