"""The FastAPI application: Torznab, qBittorrent WebUI API, health, status page and admin."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import apsw
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from .. import __version__
from ..config import Settings
from ..runtime import Runtime

log = logging.getLogger("anibridge.http")


def create_app(runtime: Runtime) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        # Everything alive after start-up lives as long as the server: keep it out of the
        # collector's full passes (shorter GC pauses in request tails).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await strm.close_client(app)
            runtime.stop()
            # What was frozen may be garbage now (this runtime, if it is not started again): a stopped
            # server's objects in reference cycles, and the files and pipes they hold, must be collectable.
            gc.unfreeze()

    # The API description is served by api_docs (behind the API key or a login once a secret is set).
    app = FastAPI(title="AniBridge", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.runtime = runtime

    from . import admin, api_docs, health, qbittorrent, status_page, strm, torznab
    from .body_limit import BodyLimit
    from .browser_guard import BrowserGuard
    from .forwarded import ForwardedClient, TrustedProxies

    for module in (health, admin, torznab, qbittorrent, status_page, api_docs, strm):
        app.include_router(module.router)
    # The last added runs first: refuse foreign hosts and cross-site writes, then cap the body.
    app.add_middleware(torznab.TorznabFastPath, runtime=runtime)
    app.add_middleware(BodyLimit, max_bytes=runtime.settings.anibridge_max_body_bytes)
    app.add_middleware(BrowserGuard, settings=runtime.settings)
    add_cors(app, runtime.settings)  # preflights of allowed origins are answered
    # Outermost: behind a trusted reverse proxy everything below sees the forwarded client's address.
    trusted = TrustedProxies(runtime.settings.trusted_proxies)
    if trusted:
        app.add_middleware(ForwardedClient, trusted=trusted)

    @app.exception_handler(apsw.FullError)
    @app.exception_handler(apsw.ReadOnlyError)
    async def storage(request: Request, exc: apsw.Error) -> PlainTextResponse:
        # Disk full or read-only data folder: the journal rolled back, or the task table could not show
        # what it holds; either way nothing is acknowledged. Say so plainly - 507 like WebDAV - rather
        # than an internal error, and keep the connection open.
        what = "full" if isinstance(exc, apsw.FullError) else "read-only"
        log.error("%s %s: not stored, the data folder %s is %s", request.method, request.url.path,
                  runtime.settings.data_dir, what)
        return PlainTextResponse(f"AniBridge cannot store this: its data folder is {what}", status_code=507)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse({"error": "internal error", "detail": type(exc).__name__}, status_code=500)

    return app


def add_cors(app: FastAPI, settings: Settings) -> None:
    """ANIBRIDGE_CORS_ORIGINS: browsers on these origins may call the API (off unless set)."""
    origins = settings.cors_origins
    if not origins:
        return
    from fastapi.middleware.cors import CORSMiddleware

    # Credentials with a wildcard would hand the qBittorrent session to every website: never both.
    credentials = settings.anibridge_cors_allow_credentials and origins != ["*"]
    app.add_middleware(CORSMiddleware, allow_origins=origins, allow_credentials=credentials,
                       allow_methods=["*"], allow_headers=["*"])
