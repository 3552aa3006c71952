"""The FastAPI application: Torznab, qBittorrent WebUI API, health, status page and admin."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .. import __version__
from ..runtime import Runtime

log = logging.getLogger("anibridge.http")


def create_app(runtime: Runtime) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            runtime.stop()

    app = FastAPI(title="AniBridge", version=__version__, lifespan=lifespan)
    app.state.runtime = runtime

    from . import admin, health

    app.include_router(health.router)
    app.include_router(admin.router)
    for optional in ("torznab", "qbittorrent", "status_page"):
        try:
            module = __import__(f"anibridge.http.{optional}", fromlist=["router"])
        except ModuleNotFoundError as exc:
            if exc.name != f"anibridge.http.{optional}":
                raise
            continue
        app.include_router(module.router)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse({"error": "internal error", "detail": type(exc).__name__}, status_code=500)

    return app
