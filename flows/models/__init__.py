"""SQL rows of the flow engine; importing this package registers them on ``Base.metadata``."""

from flows.models.people import AssignCursor, OrgUnit, PeopleDirectory, Person
from flows.models.tickets import (
    OPEN_TASK_STATES,
    EventKind,
    Task,
    TaskState,
    Ticket,
    TicketCall,
    TicketEvent,
    TicketState,
)
from flows.models.versions import FlowVersion

__all__ = [
    "OPEN_TASK_STATES",
    "AssignCursor",
    "EventKind",
    "FlowVersion",
    "OrgUnit",
    "PeopleDirectory",
    "Person",
    "Task",
    "TaskState",
    "Ticket",
    "TicketCall",
    "TicketEvent",
    "TicketState",
]
