"""Alembic environment: always run on the connection handed over by ``hotline.db``."""

from typing import Any

from alembic import context

import alerts.models  # noqa: F401
import api.stats.tables  # noqa: F401
import flows.models  # noqa: F401
import hotline.models  # noqa: F401 - registers the models on Base.metadata
from hotline.models.base import Base, UtcDateTime


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Migrations spell plain SQL types, so they never import application code."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    render_item=_render_item,
)
with context.begin_transaction():
    context.run_migrations()
