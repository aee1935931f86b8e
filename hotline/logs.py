"""Structured logging: one line per event, with tenant and call id on every line of a call.

Strategy: structlog renders key=value (or JSON, by setting) and merges the
context variables bound with ``bind_call``, so ``grep call_id=...`` gives the
whole story of one call even with thousands interleaved. Standard-library
loggers (aiohttp, alembic, panoramisk) go through the same renderer.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog

__all__ = ["bind_call", "configure_logging", "get_logger"]


def configure_logging(level: str = "INFO", fmt: str = "kv") -> None:
    """Set up structlog and the stdlib root logger once, at process start (CLI only)."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.processors.KeyValueRenderer(key_order=["ts", "level", "logger", "event", "tenant", "call_id"], drop_missing=True)
    )
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))


def get_logger(name: str) -> Any:
    """A structlog logger for a module; works before and after ``configure_logging``."""
    return structlog.stdlib.get_logger(name)


@contextmanager
def bind_call(tenant: str, call_id: str, **extra: Any) -> Iterator[None]:
    """Attach tenant and call id to every log line emitted inside the block (per task/thread)."""
    tokens = structlog.contextvars.bind_contextvars(tenant=tenant, call_id=call_id, **extra)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
