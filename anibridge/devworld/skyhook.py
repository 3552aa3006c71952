"""SkyHook-shaped JSON API (mounted at /skyhook)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from anibridge.devworld.web import int_param, world_of


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False, separators=(",", ":")), status_code=status,
                    media_type="application/json; charset=utf-8")


async def search(request: Request) -> Response:
    term = request.query_params.get("term", "")
    return _json(world_of(request).canonical.search(term))


async def show(request: Request) -> Response:
    value = int_param(request.path_params["tvdb_id"])
    doc = None if value is None else world_of(request).canonical.show(value)
    if doc is None:
        return _json({"message": "NotFound"}, status=404)
    return _json(doc)


routes = [
    Route("/v1/tvdb/search/{lang}/", search),
    Route("/v1/tvdb/search/{lang}", search),
    Route("/v1/tvdb/shows/{lang}/{tvdb_id}", show),
]
