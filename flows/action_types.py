"""What a request to act on a task looks like, and how its body is checked before anything changes.

Kept apart from ``flows.actions`` (which applies them) because the API and
bulk callers build requests without needing the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flows.errors import BadAction
from flows.models import TaskState, TicketState
from hotline.tokens import Role

__all__ = ["Action", "ActionRequest", "ActionResult", "Actor", "Body", "Comment", "Handle", "Reason", "Transfer",
           "parse_body"]


class Action(StrEnum):
    CLAIM = "claim"
    APPROVE = "approve"
    REJECT = "reject"
    HANDLE = "handle"
    TRANSFER = "transfer"
    COMMENT = "comment"
    CANCEL = "cancel"
    REOPEN = "reopen"


@dataclass(frozen=True)
class Actor:
    """Who acts: the person their token maps to (if any), their API role, and their name in the timeline."""

    person: str | None
    role: Role
    label: str


@dataclass(frozen=True)
class ActionRequest:
    task_id: int
    action: Action
    body: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionResult:
    task_id: int
    ticket_id: int
    action: Action
    task_state: TaskState
    task_version: int
    ticket_state: TicketState
    current_node: str
    result: str | None


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = None
    comment: str | None = Field(None, max_length=4000)


class Handle(Body):
    fields: dict[str, Any] = Field(default_factory=dict)
    outcome: str | None = None


class Transfer(Body):
    to: str = Field(min_length=1, max_length=64)


class Comment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4000)


class Reason(Body):
    reason: str | None = Field(None, max_length=1000)


_BODIES: dict[Action, type[BaseModel]] = {
    Action.CLAIM: Body,
    Action.APPROVE: Body,
    Action.REJECT: Body,
    Action.HANDLE: Handle,
    Action.TRANSFER: Transfer,
    Action.COMMENT: Comment,
    Action.CANCEL: Reason,
    Action.REOPEN: Reason,
}


def parse_body(request: ActionRequest) -> Any:
    """The request's body as its action's model; ``BadAction`` lists every problem at once."""
    try:
        return _BODIES[request.action].model_validate(dict(request.body))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise BadAction(f"{request.action} body: {problems}") from exc
