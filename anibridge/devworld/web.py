"""Small helpers shared by the site apps."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

if TYPE_CHECKING:
    from anibridge.devworld.world import World


def world_of(request: Request) -> World:
    world: World = request.app.state.world
    return world


def origin(request: Request) -> str:
    """scheme://host:port of this server as the client reached it."""
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    return f"{request.url.scheme}://{host}"


def esc(text: str) -> str:
    return escape(text, quote=True)


def page(title: str, body: str, lang: str = "de") -> HTMLResponse:
    return HTMLResponse(
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"></head>\n<body>\n{body}\n</body></html>\n'
    )


def not_found() -> Response:
    return HTMLResponse("<!DOCTYPE html><html><head><title>404</title></head><body>Seite nicht gefunden</body></html>",
                        status_code=404)


def int_param(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 19 else None
