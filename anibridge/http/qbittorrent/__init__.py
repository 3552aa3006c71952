"""qBittorrent WebUI API v2 (the subset Sonarr, Radarr and the qbittorrent-api package use).

Reads come from the task projection, overlaid with the worker's live figures; commands append
events and answer only once the projection shows them. Text answers (``Ok.``, ``Fails.``,
``Forbidden``) and status codes follow qBittorrent.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import PlainTextResponse, Response

from . import app, queue, sync, torrents  # noqa: F401  (each registers its endpoints on the router)
from .plumbing import KNOWN, authorized, router

__all__ = ["KNOWN", "router"]


@router.api_route("/api/v2/{rest:path}", methods=["GET", "POST", "HEAD", "PUT", "DELETE"])
async def unknown(rest: str, request: Request) -> Response:
    # Like qBittorrent: without a session nothing under the API is revealed, not even what exists.
    if not authorized(request, request.app.state.runtime) and rest not in ("auth/login", "auth/logout"):
        return PlainTextResponse("Forbidden", status_code=403)
    if f"/api/v2/{rest}" in KNOWN:
        return PlainTextResponse("Method Not Allowed", status_code=405)
    return PlainTextResponse("Not Found", status_code=404)
