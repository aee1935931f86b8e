"""Ticket field values checked and converted against a flow's field schema.

Values arrive as JSON from the API or from the intent event (where a decimal
travels as a string), so numbers given as text are accepted and stored as
JSON numbers; conditions then compare numbers with numbers.
"""

from __future__ import annotations

import math
from collections.abc import Container, Mapping
from typing import Any

from flows.definition import FieldDef, FieldType

__all__ = ["coerce_fields"]

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, (int, float)):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(f"expected a number, got {value!r}") from None
    else:
        raise ValueError(f"expected a number, got {type(value).__name__}")
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError("expected a finite number")
    return int(number) if isinstance(number, float) and number.is_integer() else number


def _convert(value: Any, spec: FieldDef, people: Container[str] | None) -> Any:
    if spec.type is FieldType.STRING:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ValueError(f"expected text, got {type(value).__name__}")
        return str(value)
    if spec.type in (FieldType.NUMBER, FieldType.INTEGER):
        number = _number(value)
        if spec.type is FieldType.INTEGER and not isinstance(number, int):
            raise ValueError(f"expected a whole number, got {value!r}")
        return number
    if spec.type is FieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(f"expected true or false, got {value!r}")
    if not isinstance(value, str):
        raise ValueError("expected a person id")
    if people is not None and value not in people:
        raise ValueError(f"unknown person {value!r}")
    return value


def _bounds(value: Any, spec: FieldDef) -> None:
    if spec.choices is not None and value not in spec.choices:
        raise ValueError(f"must be one of {spec.choices}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if spec.min is not None and value < spec.min:
            raise ValueError(f"must be at least {spec.min:g}")
        if spec.max is not None and value > spec.max:
            raise ValueError(f"must be at most {spec.max:g}")


def coerce_fields(
    values: Mapping[str, Any], schema: Mapping[str, FieldDef], people: Container[str] | None = None
) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """Converted values, problems (field → message) and names the schema does not know.

    ``None`` clears a field. ``people`` (when given) are the person ids a
    person field may hold.
    """
    clean: dict[str, Any] = {}
    problems: dict[str, str] = {}
    unknown: list[str] = []
    for name, value in values.items():
        spec = schema.get(name)
        if spec is None:
            unknown.append(name)
            continue
        if value is None:
            clean[name] = None
            continue
        try:
            converted = _convert(value, spec, people)
            _bounds(converted, spec)
        except ValueError as exc:
            problems[name] = str(exc)
            continue
        clean[name] = converted
    return clean, problems, unknown
