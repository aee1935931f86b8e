"""Errors of the flow engine, typed by who is at fault.

``ActionRefused`` and its subclasses mean the caller asked for something the
ticket's state or the flow's permissions do not allow; the API turns each
into one HTTP status (``status``) with a stable ``code``. ``FlowRuntimeError``
means a deployed definition could not be run (a bug or a corrupted row), never
the caller's fault. Config problems are ``hotline.yamlconf.ConfigErrors``.
"""

from __future__ import annotations

__all__ = [
    "ActionRefused",
    "BadAction",
    "Conflict",
    "FlowRuntimeError",
    "Forbidden",
    "InvalidFields",
    "NotFound",
]


class ActionRefused(Exception):
    """A request on a ticket or task that is refused; nothing was changed."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadAction(ActionRefused):
    """The request itself is malformed: unknown action, missing body key, wrong node type."""


class Forbidden(ActionRefused):
    """The caller's role or person may not do this to this task."""

    status = 403
    code = "forbidden"


class NotFound(ActionRefused):
    """No such object in the caller's tenant (another tenant's objects are not found either)."""

    status = 404
    code = "not_found"


class Conflict(ActionRefused):
    """The object moved on since the caller looked: already decided, closed, or a stale version."""

    status = 409
    code = "conflict"


class InvalidFields(ActionRefused):
    """Ticket field values that break the flow's field schema; ``errors`` maps field → problem."""

    status = 422
    code = "invalid"

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {problem}" for name, problem in errors.items()))
        self.errors = errors


class FlowRuntimeError(Exception):
    """A deployed flow could not be run as stored (a Hotline bug, not the caller's fault)."""
