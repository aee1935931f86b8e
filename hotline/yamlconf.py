"""YAML config files that remember where each value came from.

Strategy: PyYAML's safe loader is extended so every mapping becomes a
``LineDict`` and every sequence a ``LineList`` that know the 1-based line of
each of their items. Validation (pydantic or hand-written checks) then reports
``file:line: message`` instead of a path through nested dicts, which is what an
operator editing the file needs. Every config kind (settings, IVR menus,
routing, flows, people) loads through here, so the error shape is the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

__all__ = [
    "ConfigError",
    "ConfigErrors",
    "LineDict",
    "LineList",
    "errors_from_validation",
    "line_of",
    "load_yaml",
    "parse_yaml",
    "validate_model",
]


@dataclass(frozen=True)
class ConfigError:
    """One problem found in a config file, located for the person who edits it."""

    file: str
    line: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


@dataclass
class ConfigErrors(Exception):
    """Raised when a config file cannot be used; carries every error found, not just the first."""

    errors: list[ConfigError] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class LineDict(dict):
    """A mapping from YAML that knows its own line and the line of each key."""

    line: int = 0
    lines: dict[Any, int]


class LineList(list):
    """A sequence from YAML that knows its own line and the line of each item."""

    line: int = 0
    lines: list[int]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose containers record line numbers (1-based)."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def parse_yaml(text: str, file: str) -> Any:
    """Parse YAML text; a syntax error becomes ``ConfigErrors`` naming file and line.

    An empty document is returned as an empty ``LineDict`` so callers can
    validate it like any other (and report the missing keys).
    """
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or str(exc)
        raise ConfigErrors([ConfigError(file, line, f"invalid YAML: {problem}")]) from exc
    except yaml.YAMLError as exc:
        raise ConfigErrors([ConfigError(file, 1, f"invalid YAML: {exc}")]) from exc
    if data is None:
        data = LineDict()
        data.line, data.lines = 1, {}
    return data


def load_yaml(path: Path) -> Any:
    """Read and parse one YAML file; unreadable files are reported like syntax errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigErrors([ConfigError(str(path), 0, f"cannot read file: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigErrors([ConfigError(str(path), 1, "file is not UTF-8 text")]) from exc
    return parse_yaml(text, str(path))


def line_of(data: Any, loc: Sequence[Any]) -> int:
    """The line of the deepest value along ``loc`` that the YAML still had.

    A missing key is reported at the line of the mapping that should hold it.
    """
    line = getattr(data, "line", 1) or 1
    node = data
    for part in loc:
        if isinstance(node, LineDict) and part in node:
            line = node.lines.get(part, line)
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lines[part]
            node = node[part]
        else:
            break
        line = getattr(node, "line", line) if isinstance(node, (LineDict, LineList)) else line
    return line


def _loc_text(loc: Iterable[Any]) -> str:
    return ".".join(str(p) for p in loc)


def errors_from_validation(exc: ValidationError, data: Any, file: str) -> list[ConfigError]:
    """Turn a pydantic ``ValidationError`` on ``data`` into located ``ConfigError``s."""
    out = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = _loc_text(loc)
        message = f"{where}: {err['msg']}" if where else err["msg"]
        out.append(ConfigError(file, line_of(data, loc), message))
    return out


M = TypeVar("M", bound=BaseModel)


def validate_model(model: type[M], data: Any, file: str) -> M:
    """Validate YAML data against a pydantic model, raising located ``ConfigErrors``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigErrors(errors_from_validation(exc, data, file)) from exc
