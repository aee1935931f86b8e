"""``/static/<file>``: the pages' CSS and scripts, public so the login page can use them.

Each file is declared public by its exact path (``api.auth.PUBLIC_PATHS``
holds exact paths only), so nothing outside ``api/static`` is ever served
without a session.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from api.auth import public

__all__ = ["STATIC", "routes"]

STATIC = Path(__file__).resolve().parent.parent / "static"
_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
routes = web.RouteTableDef()


def _serve(path: Path):
    async def handler(request: web.Request) -> web.FileResponse:
        return web.FileResponse(path, headers={"Content-Type": _TYPES[path.suffix], "Cache-Control": "no-cache",
                                               "X-Content-Type-Options": "nosniff"})

    return handler


for _file in sorted(STATIC.iterdir()):
    if _file.suffix in _TYPES:
        routes.get(public(f"/static/{_file.name}"))(_serve(_file))
