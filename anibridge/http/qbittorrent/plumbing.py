"""Request reading and endpoint registration shared by every qBittorrent endpoint (sessions: ..sessions)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ...downloads.tasks import CommandError
from ...runtime import Runtime
from ..sessions import app_state, authorized, credentials_required, login_bans, sessions

__all__ = ["KNOWN", "Call", "app_state", "authorized", "credentials_required", "endpoint", "log", "login_bans",
           "router", "sessions"]

log = logging.getLogger("anibridge.qbittorrent")

router = APIRouter(include_in_schema=False)


# --- request plumbing -----------------------------------------------------------------------------
@dataclass
class Call:
    request: Request
    runtime: Runtime
    params: dict[str, str]
    files: list[UploadFile]

    def get(self, name: str, default: str = "") -> str:
        return self.params.get(name, default)

    def flag(self, name: str) -> bool:
        return self.params.get(name, "").strip().lower() in ("true", "1", "yes")

    def integer(self, name: str, default: int) -> int:
        try:
            return int(self.params.get(name, ""))
        except ValueError:
            return default


Handler = Callable[[Call], Any]
KNOWN: dict[str, set[str]] = {}


async def _read(request: Request) -> tuple[dict[str, str], list[UploadFile]]:
    params = dict(request.query_params)
    files: list[UploadFile] = []
    if request.method == "POST":
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    files.append(value)
                elif key in params and key == "urls":
                    params[key] += "\n" + value
                else:
                    params[key] = value
    return params, files


def _answer(result: Any) -> Response:
    if isinstance(result, Response):
        return result
    if result is None:
        return PlainTextResponse("")
    if isinstance(result, str):
        return PlainTextResponse(result)
    # orjson: a torrents/info of 2,000 torrents (2.8 MB) encodes in 8 ms, not 60 ms (json)
    return Response(orjson.dumps(result), media_type="application/json")


def endpoint(path: str, *, write: bool = False, auth: bool = True) -> Callable[[Handler], Handler]:
    """Register ``/api/v2/<path>``: reads take GET and POST, commands POST only (like qBittorrent)."""
    methods = ["POST"] if write else ["GET", "POST"]
    full = f"/api/v2/{path}"
    KNOWN[full] = set(methods)

    def deco(fn: Handler) -> Handler:
        async def handler(request: Request) -> Response:
            runtime: Runtime = request.app.state.runtime
            if auth and not authorized(request, runtime):
                return PlainTextResponse("Forbidden", status_code=403)
            try:
                params, files = await _read(request)
                result = await run_in_threadpool(fn, Call(request, runtime, params, files))
            except CommandError as exc:
                return PlainTextResponse(exc.message, status_code=exc.status)
            finally:
                await request.close()  # the form's uploaded files (spooled temporary files)
            return _answer(result)

        handler.__name__ = "qbit_" + path.replace("/", "_")
        router.add_api_route(full, handler, methods=methods)
        return fn

    return deco
