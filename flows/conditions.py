"""Transition conditions: a small expression language that cannot reach Python.

Strategy: a condition is parsed once with ``ast`` (expression mode) and walked
against an allow-list: literals, names, arithmetic, comparisons, ``and`` /
``or`` / ``not``, ``x if c else y``, tuples/lists for ``in``, and calls of a
few named functions. Attribute access, subscripts, lambdas, comprehensions,
f-strings and any name starting with ``_`` are refused at compile time, with
the column, so ``hotline check`` can point at the mistake. Evaluation goes
through simpleeval with its node table cut down to the same allow-list and its
size-guarded operators, as a second fence. No I/O, no clock: the caller hands
in every name (ticket fields, node outcomes, ``repeat``, ``outcome``).
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import simpleeval

__all__ = ["FUNCTIONS", "Condition", "ConditionError", "compile_condition"]

MAX_LENGTH = 500
MAX_NODES = 200


def _lower(value: Any) -> str:
    return str(value).lower()


def _upper(value: Any) -> str:
    return str(value).upper()


def _number(value: Any) -> float:
    return float(value)


#: The only callables a condition may name.
FUNCTIONS: dict[str, Any] = {
    "abs": abs,
    "len": len,
    "lower": _lower,
    "max": max,
    "min": min,
    "number": _number,
    "round": round,
    "upper": _upper,
}

_OPERATORS: dict[type, Any] = {
    ast.Add: simpleeval.safe_add,
    ast.Sub: simpleeval.op.sub,
    ast.Mult: simpleeval.safe_mult,
    ast.Div: simpleeval.op.truediv,
    ast.FloorDiv: simpleeval.op.floordiv,
    ast.Mod: simpleeval.op.mod,
    ast.Eq: simpleeval.op.eq,
    ast.NotEq: simpleeval.op.ne,
    ast.Gt: simpleeval.op.gt,
    ast.Lt: simpleeval.op.lt,
    ast.GtE: simpleeval.op.ge,
    ast.LtE: simpleeval.op.le,
    ast.Not: simpleeval.op.not_,
    ast.USub: simpleeval.op.neg,
    ast.UAdd: simpleeval.op.pos,
    ast.In: lambda x, y: simpleeval.op.contains(y, x),
    ast.NotIn: lambda x, y: not simpleeval.op.contains(y, x),
    ast.Is: lambda x, y: x is y,
    ast.IsNot: lambda x, y: x is not y,
}

_STRUCTURE = (
    ast.Expression,
    ast.Load,
    ast.And,
    ast.Or,
    ast.BoolOp,
    ast.UnaryOp,
    ast.BinOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.Name,
    ast.Constant,
    ast.Tuple,
    ast.List,
)
_ALLOWED = _STRUCTURE + tuple(_OPERATORS)
_LITERALS = (str, int, float, bool, type(None))

_WHAT = {
    ast.Attribute: "attribute access (a.b)",
    ast.Subscript: "subscripts (a[b])",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.JoinedStr: "f-strings",
    ast.NamedExpr: "assignment (:=)",
    ast.Pow: "the ** operator",
    ast.Dict: "dict literals",
    ast.Starred: "*unpacking",
}


class ConditionError(ValueError):
    """A condition that may not be used; ``column`` is 1-based within the expression (0 if unknown)."""

    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


class _Evaluator(simpleeval.SimpleEval):
    """simpleeval restricted to the nodes ``compile_condition`` lets through."""

    def __init__(self) -> None:
        super().__init__(operators=dict(_OPERATORS), functions=dict(FUNCTIONS), names={})
        keep = {ast.Name, ast.UnaryOp, ast.BinOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call, ast.Constant}
        self.nodes = {kind: handler for kind, handler in self.nodes.items() if kind in keep}
        self.nodes[ast.Tuple] = lambda node: tuple(self._eval(x) for x in node.elts)
        self.nodes[ast.List] = lambda node: [self._eval(x) for x in node.elts]

    def _eval_call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name) or node.keywords:
            raise ConditionError("only plain calls of the named functions are allowed")
        return super()._eval_call(node)


_per_thread = threading.local()


def _evaluator() -> _Evaluator:
    """This thread's evaluator: building one costs ~25 µs, as much as the rest of a flow step's planning.

    Sharing is safe because ``Condition.evaluate`` never yields between
    setting ``names`` and reading the result."""
    evaluator: _Evaluator | None = getattr(_per_thread, "evaluator", None)
    if evaluator is None:
        evaluator = _per_thread.evaluator = _Evaluator()
    return evaluator


def _check(tree: ast.Expression, names: Collection[str] | None) -> None:
    count = 0
    for node in ast.walk(tree):
        count += 1
        column = getattr(node, "col_offset", -1) + 1
        if not isinstance(node, _ALLOWED):
            what = _WHAT.get(type(node), type(node).__name__)
            raise ConditionError(f"not allowed in a condition: {what}", column)
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise ConditionError(f"name {node.id!r} is not allowed (names may not start with '_')", column)
        if (
            isinstance(node, ast.Name)
            and names is not None
            and node.id not in names
            and node.id not in FUNCTIONS
        ):
            raise ConditionError(f"unknown name {node.id!r}", column)
        if isinstance(node, ast.Constant) and not isinstance(node.value, _LITERALS):
            raise ConditionError(f"literal {node.value!r} is not allowed", column)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                allowed = ", ".join(sorted(FUNCTIONS))
                raise ConditionError(f"only these functions may be called: {allowed}", column)
            if node.keywords:
                raise ConditionError("keyword arguments are not allowed", column)
        if isinstance(node, ast.Name) and node.id in FUNCTIONS and not _is_called(tree, node):
            raise ConditionError(f"function {node.id!r} must be called, not used as a value", column)
    if count > MAX_NODES:
        raise ConditionError(f"condition is too complex ({count} parts, at most {MAX_NODES})")


def _is_called(tree: ast.Expression, name: ast.Name) -> bool:
    return any(isinstance(n, ast.Call) and n.func is name for n in ast.walk(tree))


@dataclass(frozen=True)
class Condition:
    """A compiled condition; ``evaluate`` may be called any number of times."""

    text: str
    tree: ast.Expression = field(repr=False, compare=False)

    def evaluate(self, names: Mapping[str, Any]) -> bool:
        """Truth of the condition for these names; an unknown name counts as ``None``.

        Raises ``ConditionError`` when the values make it fail (``amount < 200``
        with no amount, a division by zero): the caller records that and moves
        on to the next transition.
        """
        evaluator = _evaluator()
        evaluator.names = _Names(names)
        try:
            return bool(evaluator.eval(self.text, previously_parsed=self.tree.body))
        except ConditionError:
            raise
        except (simpleeval.InvalidExpression, TypeError, ValueError, ArithmeticError) as exc:
            raise ConditionError(f"condition {self.text!r} failed: {exc}") from exc


class _Names(dict):
    """Missing names read as ``None`` (a field the ticket has not got yet)."""

    def __missing__(self, key: str) -> None:
        return None


def compile_condition(text: str, names: Collection[str] | None = None) -> Condition:
    """Parse and vet ``text``; ``names`` (when given) are the only names it may use.

    Raises ``ConditionError`` with a 1-based column for anything outside the
    language, so the checker can report file, line and column.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConditionError("a condition must be a non-empty string")
    if len(text) > MAX_LENGTH:
        raise ConditionError(f"condition is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ConditionError(f"not a valid expression: {exc.msg}", exc.offset or 0) from exc
    _check(tree, names)
    return Condition(text.strip(), tree)
