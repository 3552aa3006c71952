"""Sessions, request reading and endpoint registration shared by every qBittorrent endpoint."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ...downloads.tasks import CommandError
from ...runtime import Runtime

log = logging.getLogger("anibridge.qbittorrent")

SESSION_IDLE_SECONDS = 3600.0
MAX_SESSIONS = 1000

router = APIRouter(include_in_schema=False)


# --- sessions -------------------------------------------------------------------------------------
class Sessions:
    """SID tokens kept in memory (a restart means logging in again, as with qBittorrent)."""

    def __init__(self) -> None:
        self._sids: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def new(self) -> str:
        sid = secrets.token_urlsafe(24)
        with self._lock:
            self._sids[sid] = time.monotonic()
            while len(self._sids) > MAX_SESSIONS:
                self._sids.popitem(last=False)
        return sid

    def valid(self, sid: str | None) -> bool:
        if not sid:
            return False
        now = time.monotonic()
        with self._lock:
            seen = self._sids.get(sid)
            if seen is None or now - seen > SESSION_IDLE_SECONDS:
                self._sids.pop(sid, None)
                return False
            self._sids[sid] = now
            self._sids.move_to_end(sid)
            return True

    def drop(self, sid: str | None) -> None:
        with self._lock:
            self._sids.pop(sid or "", None)


_state_lock = threading.Lock()


def app_state(request: Request, name: str, factory: Callable[[], Any]) -> Any:
    state = request.app.state
    with _state_lock:
        if not hasattr(state, name):
            setattr(state, name, factory())
        return getattr(state, name)


def sessions(request: Request) -> Sessions:
    sessions: Sessions = app_state(request, "qbit_sessions", Sessions)
    return sessions


def credentials_required(runtime: Runtime) -> bool:
    s = runtime.settings
    return bool(s.qbit_username or s.qbit_password)


def authorized(request: Request, runtime: Runtime) -> bool:
    return not credentials_required(runtime) or sessions(request).valid(request.cookies.get("SID"))


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
    return JSONResponse(result)


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
            params, files = await _read(request)
            try:
                result = await run_in_threadpool(fn, Call(request, runtime, params, files))
            except CommandError as exc:
                return PlainTextResponse(exc.message, status_code=exc.status)
            return _answer(result)

        handler.__name__ = "qbit_" + path.replace("/", "_")
        router.add_api_route(full, handler, methods=methods)
        return fn

    return deco
