"""Request inputs every route reads the same way: a JSON object or a YAML config file as the body, a time
in the query.

One place, so a wrong request gets the same precise 400/413 from every
route (what was wrong and what to send), and no route forgets a check.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from api.errors import ApiError

__all__ = ["MAX_CONFIG_BYTES", "json_object", "parse_time", "yaml_text"]

#: Largest IVR menu or flow definition accepted: far above any real one, small enough to parse at once.
MAX_CONFIG_BYTES = 256 * 1024


async def json_object(request: web.Request, example: str = "", *, optional: bool = False) -> dict[str, Any]:
    """The body as a JSON object; ``optional`` allows no body at all (an empty object)."""
    if optional and not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except json.JSONDecodeError as exc:
        raise ApiError(400, "bad_request", f"body is not JSON: {exc.msg} at character {exc.pos}") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "body must be a JSON object" + (f" such as {example}" if example else ""))
    return body


async def yaml_text(request: web.Request, what: str) -> str:
    """The body as the UTF-8 text of a YAML file (``what`` names it in the errors: "a flow definition")."""
    if request.content_length is not None and request.content_length > MAX_CONFIG_BYTES:
        raise ApiError(413, "too_large", f"{what} is at most {MAX_CONFIG_BYTES} bytes")
    try:
        text = await request.text()
    except UnicodeDecodeError as exc:
        raise ApiError(400, "bad_request", "the body must be UTF-8 YAML text") from exc
    if not text.strip():
        raise ApiError(400, "bad_request", f"send {what} as YAML in the body")
    return text


def parse_time(raw: str, name: str, *, assume_utc: bool = False) -> datetime:
    """An ISO 8601 time from the query parameter ``name``; 400 naming it otherwise.

    The API insists on a zone; pages pass ``assume_utc`` because a browser's
    ``datetime-local`` input has none (the pages say their times are UTC).
    """
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ApiError(400, "bad_request", f"{name}: not an ISO 8601 time: {raw!r}") from exc
    if value.tzinfo is None:
        if not assume_utc:
            raise ApiError(400, "bad_request", f"{name}: give a time zone, e.g. 2026-11-28T10:00:00Z")
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
