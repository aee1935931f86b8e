"""JSON errors with one stable shape: ``{"error": {"code": ..., "message": ...}}``.

Handlers raise ``ApiError``; the middleware renders it, and also turns
aiohttp's own HTTP errors and unexpected exceptions into the same shape, so a
client never has to parse HTML or a traceback.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from hotline.logs import get_logger

__all__ = ["ApiError", "error_middleware", "json_error"]

log = get_logger(__name__)


class ApiError(Exception):
    """A request the API refuses; ``code`` is a stable machine word, ``message`` is for people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def json_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid", 429: "rate_limited"}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return json_error(exc.status, exc.code, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return json_error(exc.status, _CODES.get(exc.status, "http_error"), exc.reason)
    except Exception:
        log.exception("unhandled error in API handler", path=request.path, method=request.method)
        return json_error(500, "internal", "internal error; the server log has the details")
