"""qBittorrent WebUI API v2 (the subset Sonarr, Radarr and the qbittorrent-api package use).

Reads come from the task projection, overlaid with the worker's live figures; commands append
events and answer only once the projection shows them. Text answers (``Ok.``, ``Fails.``,
``Forbidden``) and status codes follow qBittorrent.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ..downloads import tasks as cmd
from ..downloads.tasks import CommandError, TaskRow
from ..releases import MagnetError, MagnetRef, estimate_size, parse_magnet
from ..runtime import Runtime
from .security import same_secret

log = logging.getLogger("anibridge.qbittorrent")

APP_VERSION = "v4.6.7"
WEBAPI_VERSION = "2.11.2"
UNKNOWN_ETA = 8_640_000
SESSION_IDLE_SECONDS = 3600.0
MAX_SESSIONS = 1000
STALLED_AFTER = 30.0

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


def _app_state(request: Request, name: str, factory: Callable[[], Any]) -> Any:
    state = request.app.state
    with _state_lock:
        if not hasattr(state, name):
            setattr(state, name, factory())
        return getattr(state, name)


def _sessions(request: Request) -> Sessions:
    sessions: Sessions = _app_state(request, "qbit_sessions", Sessions)
    return sessions


def _credentials_required(runtime: Runtime) -> bool:
    s = runtime.settings
    return bool(s.qbit_username or s.qbit_password)


def _authorized(request: Request, runtime: Runtime) -> bool:
    return not _credentials_required(runtime) or _sessions(request).valid(request.cookies.get("SID"))


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
_KNOWN: dict[str, set[str]] = {}


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
    _KNOWN[full] = set(methods)

    def deco(fn: Handler) -> Handler:
        async def handler(request: Request) -> Response:
            runtime: Runtime = request.app.state.runtime
            if auth and not _authorized(request, runtime):
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


def _not_found() -> PlainTextResponse:
    return PlainTextResponse("Not Found", status_code=404)


# --- auth and app ---------------------------------------------------------------------------------
@router.head("/")
async def head_root() -> Response:
    return Response(status_code=200)


@endpoint("auth/login", write=True, auth=False)
def login(call: Call) -> Response:
    s = call.runtime.settings
    if _credentials_required(call.runtime):
        user_ok = same_secret(call.get("username"), s.qbit_username or "")
        pass_ok = same_secret(call.get("password"), s.qbit_password or "")
        if not (user_ok and pass_ok):
            client = call.request.client.host if call.request.client else "?"
            log.warning("qBittorrent login failed for user %r from %s", call.get("username")[:40], client)
            return PlainTextResponse("Fails.")
    response = PlainTextResponse("Ok.")
    response.set_cookie("SID", _sessions(call.request).new(), httponly=True, samesite="strict", path="/")
    return response


@endpoint("auth/logout", write=True, auth=False)
def logout(call: Call) -> Response:
    _sessions(call.request).drop(call.request.cookies.get("SID"))
    response = PlainTextResponse("")
    response.delete_cookie("SID", path="/")
    return response


@endpoint("app/version")
def app_version(call: Call) -> str:
    return APP_VERSION


@endpoint("app/webapiVersion")
def webapi_version(call: Call) -> str:
    return WEBAPI_VERSION


@endpoint("app/buildInfo")
def build_info(call: Call) -> dict[str, Any]:
    return {"qt": "6.4.2", "libtorrent": "2.0.10.0", "boost": "1.83.0", "openssl": "3.1.4", "zlib": "1.3",
            "bitness": 64, "platform": "linux"}


@endpoint("app/defaultSavePath")
def default_save_path(call: Call) -> str:
    return cmd.public_path(call.runtime)


@endpoint("app/preferences")
def preferences(call: Call) -> dict[str, Any]:
    s = call.runtime.settings
    return {
        "save_path": cmd.public_path(call.runtime), "temp_path_enabled": False, "temp_path": "",
        "auto_tmm_enabled": False, "torrent_content_layout": "Original", "create_subfolder_enabled": True,
        "start_paused_enabled": False, "add_stopped_enabled": False,
        "max_ratio_enabled": False, "max_ratio": -1, "max_ratio_act": 0,
        "max_seeding_time_enabled": False, "max_seeding_time": -1,
        "max_inactive_seeding_time_enabled": False, "max_inactive_seeding_time": -1,
        "queueing_enabled": True, "max_active_downloads": s.max_concurrency,
        "max_active_torrents": s.max_concurrency, "max_active_uploads": 0,
        "dont_count_slow_torrents": False, "dht": False, "pex": False, "lsd": False,
        "web_ui_username": s.qbit_username or "", "web_ui_port": s.anibridge_port,
        "bypass_local_auth": not _credentials_required(call.runtime), "locale": "en",
        "dl_limit": 0, "up_limit": 0, "alt_dl_limit": 0, "alt_up_limit": 0,
    }


@endpoint("app/setPreferences", write=True)
def set_preferences(call: Call) -> None:
    log.info("ignoring a request to change qBittorrent preferences (AniBridge is configured by environment)")


# --- torrents: reading ----------------------------------------------------------------------------
def _live(runtime: Runtime) -> dict[str, Any]:
    worker = runtime.worker
    return dict(worker.live) if worker is not None else {}


def _state(runtime: Runtime, task: TaskRow, live: Any) -> str:
    if task.status == "failed":
        return "error"
    if task.status == "completed":
        exists = bool(task.path) and os.path.exists(cmd.local_root(runtime) / task.path)
        return "stoppedUP" if exists else "missingFiles"
    if task.paused:
        return "stoppedDL"
    if task.status == "downloading":
        if live is not None and live.speed <= 0 and time.monotonic() - live.updated > STALLED_AFTER:
            return "stalledDL"
        return "downloading"
    return "queuedDL"


def _save_rel(task: TaskRow) -> str:
    if task.status == "completed" and task.path:
        parts = PurePosixPath(task.path).parts
        return str(PurePosixPath(*parts[:-2])) if len(parts) > 2 else ""
    return task.category


def task_info(runtime: Runtime, task: TaskRow, live: Any, now: float) -> dict[str, Any]:
    completed = task.status == "completed"
    total = task.total_size or (live.total if live is not None else 0)
    downloaded = task.downloaded
    speed = 0
    if live is not None and not completed:
        downloaded = max(downloaded, live.downloaded)
        speed = int(live.speed)
    if completed:
        downloaded = total
    size = total or estimate_size(task.site == "megakino")
    progress = 1.0 if completed else (min(downloaded / total, 0.999) if total else 0.0)
    left = 0 if completed else max(size - downloaded, 0)
    eta = 0 if completed else (int(left / speed) if speed > 0 and total else UNKNOWN_ETA)
    save_rel = _save_rel(task)
    save_path = cmd.public_path(runtime, save_rel)
    content_path = cmd.public_path(runtime, task.path) if completed and task.path else \
        cmd.public_path(runtime, str(PurePosixPath(save_rel or ".") / task.name)).replace("/./", "/")
    added = int(task.added_on)
    done_on = int(task.completed_on) if completed and task.completed_on else -1
    active = int(now - (task.started_on or task.added_on)) if task.started_on else 0
    return {
        "hash": task.hash, "infohash_v1": task.hash, "infohash_v2": "", "name": task.name,
        "magnet_uri": task.magnet, "size": size, "total_size": size, "progress": round(progress, 4),
        "dlspeed": speed, "upspeed": 0, "eta": eta, "state": _state(runtime, task, live),
        "category": task.category, "tags": task.tags, "save_path": save_path, "download_path": "",
        "content_path": content_path, "root_path": content_path, "added_on": added, "completion_on": done_on,
        "amount_left": left, "completed": downloaded, "downloaded": downloaded, "downloaded_session": downloaded,
        "uploaded": 0, "uploaded_session": 0, "ratio": 0, "ratio_limit": -2, "max_ratio": -1,
        "seeding_time": 0, "seeding_time_limit": -2, "max_seeding_time": -1, "inactive_seeding_time_limit": -2,
        "num_seeds": 0, "num_leechs": 0, "num_complete": 0, "num_incomplete": 0, "availability": -1,
        "priority": 0, "force_start": False, "super_seeding": False, "seq_dl": False, "f_l_piece_prio": False,
        "auto_tmm": False, "dl_limit": -1, "up_limit": -1, "time_active": active, "seen_complete": done_on,
        "last_activity": int(now) if speed else (done_on if completed else added), "tracker": "",
        "trackers_count": 0, "private": False, "has_metadata": True, "popularity": 0, "reannounce": 0,
        "comment": task.error,
    }


_DL_STATES = {"queuedDL", "downloading", "stalledDL", "stoppedDL", "metaDL"}
_FILTERS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "all": lambda t: True,
    "downloading": lambda t: t["state"] in _DL_STATES,
    "seeding": lambda t: t["state"] in ("uploading", "stalledUP"),
    "completed": lambda t: t["state"] in ("stoppedUP", "uploading", "stalledUP", "missingFiles"),
    "paused": lambda t: t["state"] in ("stoppedDL", "stoppedUP"),
    "stopped": lambda t: t["state"] in ("stoppedDL", "stoppedUP"),
    "resumed": lambda t: t["state"] not in ("stoppedDL", "stoppedUP"),
    "running": lambda t: t["state"] not in ("stoppedDL", "stoppedUP"),
    "active": lambda t: t["dlspeed"] > 0,
    "inactive": lambda t: t["dlspeed"] == 0,
    "stalled": lambda t: t["state"] == "stalledDL",
    "stalled_uploading": lambda t: False,
    "stalled_downloading": lambda t: t["state"] == "stalledDL",
    "checking": lambda t: False,
    "moving": lambda t: False,
    "errored": lambda t: t["state"] in ("error", "missingFiles"),
}


def infos(runtime: Runtime) -> list[dict[str, Any]]:
    live, now = _live(runtime), time.time()
    return [task_info(runtime, t, live.get(t.hash), now) for t in cmd.all_tasks(runtime)]


@endpoint("torrents/info")
def torrents_info(call: Call) -> Any:
    items = infos(call.runtime)
    wanted = call.get("filter", "all").strip() or "all"
    keep = _FILTERS.get(wanted)
    if keep is None:
        return PlainTextResponse(f"unknown filter {wanted[:40]!r}", status_code=400)
    items = [t for t in items if keep(t)]
    if "category" in call.params:
        items = [t for t in items if t["category"] == call.params["category"]]
    if call.get("tag"):
        items = [t for t in items if call.get("tag") in [x.strip() for x in t["tags"].split(",")]]
    if call.get("hashes"):
        hashes = set(cmd.parse_hashes(call.get("hashes")))
        items = [t for t in items if t["hash"] in hashes]
    if call.get("sort"):
        key = call.get("sort")
        items.sort(key=lambda t: (t.get(key) is None, t.get(key) if isinstance(t.get(key), int | float | str)
                                  else str(t.get(key))), reverse=call.flag("reverse"))
    offset = call.integer("offset", 0)
    if offset < 0:
        offset = max(len(items) + offset, 0)
    items = items[offset:]
    limit = call.integer("limit", 0)
    return items[:limit] if limit > 0 else items


@endpoint("torrents/count")
def torrents_count(call: Call) -> str:
    return str(len(cmd.all_tasks(call.runtime)))


def _one(call: Call) -> TaskRow:
    task = cmd.get_task(call.runtime, call.get("hash").strip())
    if task is None:
        raise CommandError(404, "Not Found")
    return task


@endpoint("torrents/properties")
def torrents_properties(call: Call) -> dict[str, Any]:
    task = _one(call)
    info = task_info(call.runtime, task, _live(call.runtime).get(task.hash), time.time())
    return {
        "hash": task.hash, "infohash_v1": task.hash, "infohash_v2": "", "name": task.name,
        "save_path": info["save_path"], "download_path": "", "creation_date": info["added_on"],
        "piece_size": 0, "comment": task.error, "total_wasted": 0, "total_uploaded": 0,
        "total_uploaded_session": 0, "total_downloaded": info["downloaded"],
        "total_downloaded_session": info["downloaded"], "up_limit": -1, "dl_limit": -1,
        "time_elapsed": info["time_active"], "seeding_time": 0, "nb_connections": 1 if info["dlspeed"] else 0,
        "nb_connections_limit": 100, "share_ratio": 0, "addition_date": info["added_on"],
        "completion_date": info["completion_on"], "created_by": "AniBridge", "dl_speed_avg": info["dlspeed"],
        "dl_speed": info["dlspeed"], "up_speed": 0, "up_speed_avg": 0, "eta": info["eta"],
        "last_seen": info["seen_complete"], "peers": 0, "peers_total": 0, "seeds": 0, "seeds_total": 0,
        "pieces_have": 1 if task.status == "completed" else 0, "pieces_num": 1, "reannounce": 0,
        "total_size": info["total_size"], "is_private": False, "isPrivate": False, "has_metadata": True,
        "progress": info["progress"], "state": info["state"], "host": task.host, "attempts": task.attempts,
    }


@endpoint("torrents/files")
def torrents_files(call: Call) -> list[dict[str, Any]]:
    task = _one(call)
    info = task_info(call.runtime, task, _live(call.runtime).get(task.hash), time.time())
    if task.status == "completed" and task.path:
        parts = PurePosixPath(task.path).parts
        name = str(PurePosixPath(*parts[-2:]))
    else:
        name = f"{task.name}/{task.name}.mp4"
    return [{"index": 0, "name": name, "size": info["size"], "progress": info["progress"], "priority": 1,
             "is_seed": task.status == "completed", "piece_range": [0, 0], "availability": 1}]


@endpoint("torrents/trackers")
def torrents_trackers(call: Call) -> list[dict[str, Any]]:
    _one(call)
    return []


@endpoint("torrents/categories")
def torrents_categories(call: Call) -> dict[str, Any]:
    return {name: {"name": name, "savePath": path} for name, path in cmd.categories(call.runtime).items()}


@endpoint("torrents/tags")
def torrents_tags(call: Call) -> list[str]:
    tags = {x.strip() for t in cmd.all_tasks(call.runtime) for x in t.tags.split(",") if x.strip()}
    return sorted(tags)


# --- torrents: commands ---------------------------------------------------------------------------
def _describe(url: str) -> str:
    return url if len(url) <= 80 else url[:77] + "..."


@endpoint("torrents/add", write=True)
def torrents_add(call: Call) -> Response:
    urls = [u.strip() for u in call.get("urls").replace("\r", "\n").split("\n") if u.strip()]
    if call.files and not urls:
        log.warning("refused %d .torrent file(s): AniBridge only takes its own magnet links", len(call.files))
        return PlainTextResponse("Fails.", status_code=415)
    if not urls:
        return PlainTextResponse("Fails. no magnet links given (urls is empty)", status_code=400)
    refs: list[tuple[MagnetRef, str]] = []
    problems: list[str] = []
    for url in urls:
        if url.lower().startswith(("http://", "https://")):
            problems.append(f"{_describe(url)}: only AniBridge magnet links are accepted, not http(s) URLs")
            continue
        try:
            refs.append((parse_magnet(url), url))
        except MagnetError as exc:
            problems.append(f"{_describe(url)}: {exc}")
    for problem in problems:
        # repr(): a link is untrusted text and must not forge log lines (newlines, control chars).
        log.warning("torrents/add refused a link: %r", problem)
    if not refs:
        return PlainTextResponse("Fails. " + "; ".join(problems), status_code=400)
    category = call.get("category").strip()
    if category:
        category = cmd.check_category(category)
    paused = call.flag("paused") or call.flag("stopped")
    cmd.add_tasks(call.runtime, refs, category=category, save_path=call.get("savepath"),
                  tags=call.get("tags"), paused=paused)
    return PlainTextResponse("Ok.")


def _selected(call: Call) -> list[TaskRow]:
    return cmd.select(call.runtime, call.get("hashes"))


@endpoint("torrents/pause", write=True)
def torrents_pause(call: Call) -> None:
    cmd.pause(call.runtime, _selected(call))


@endpoint("torrents/stop", write=True)
def torrents_stop(call: Call) -> None:
    cmd.pause(call.runtime, _selected(call))


@endpoint("torrents/resume", write=True)
def torrents_resume(call: Call) -> None:
    cmd.resume(call.runtime, _selected(call))


@endpoint("torrents/start", write=True)
def torrents_start(call: Call) -> None:
    cmd.resume(call.runtime, _selected(call))


@endpoint("torrents/delete", write=True)
def torrents_delete(call: Call) -> None:
    cmd.delete(call.runtime, _selected(call), call.flag("deleteFiles"))


@endpoint("torrents/setCategory", write=True)
def torrents_set_category(call: Call) -> None:
    cmd.set_category(call.runtime, _selected(call), call.get("category").strip())


@endpoint("torrents/createCategory", write=True)
def torrents_create_category(call: Call) -> None:
    cmd.create_category(call.runtime, call.get("category"), call.get("savePath"))


@endpoint("torrents/editCategory", write=True)
def torrents_edit_category(call: Call) -> None:
    cmd.edit_category(call.runtime, call.get("category"), call.get("savePath"))


@endpoint("torrents/removeCategories", write=True)
def torrents_remove_categories(call: Call) -> None:
    cmd.remove_categories(call.runtime, call.get("categories").split("\n"))


def _accept(name: str) -> None:
    def ignore(call: Call) -> None:
        log.debug("accepted and ignored torrents/%s", name)

    endpoint(f"torrents/{name}", write=True)(ignore)


for _name in ("setShareLimits", "topPrio", "bottomPrio", "increasePrio", "decreasePrio", "setForceStart",
              "setSuperSeeding", "setAutoManagement", "addTags", "removeTags", "createTags", "deleteTags",
              "reannounce", "recheck", "setDownloadLimit", "setUploadLimit", "toggleSequentialDownload",
              "toggleFirstLastPiecePrio", "filePrio"):
    _accept(_name)


# --- transfer and sync ----------------------------------------------------------------------------
def _server_state(runtime: Runtime, items: list[dict[str, Any]]) -> dict[str, Any]:
    try:
        free = shutil.disk_usage(cmd.local_root(runtime)).free
    except OSError:
        free = 0
    return {"connection_status": "connected", "dl_info_speed": sum(t["dlspeed"] for t in items),
            "dl_info_data": sum(t["downloaded"] for t in items), "up_info_speed": 0, "up_info_data": 0,
            "dl_rate_limit": 0, "up_rate_limit": 0, "dht_nodes": 0, "free_space_on_disk": free,
            "queueing": True, "use_alt_speed_limits": False, "refresh_interval": 1500}


@endpoint("transfer/info")
def transfer_info(call: Call) -> dict[str, Any]:
    state = _server_state(call.runtime, infos(call.runtime))
    return {k: state[k] for k in ("connection_status", "dl_info_speed", "dl_info_data", "up_info_speed",
                                  "up_info_data", "dl_rate_limit", "up_rate_limit", "dht_nodes")}


class SyncHistory:
    """Recent ``sync/maindata`` snapshots by rid, so clients get deltas as from qBittorrent."""

    def __init__(self, keep: int = 32) -> None:
        self._snapshots: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._rid = 0
        self._keep = keep
        self._lock = threading.Lock()

    def record(self, snapshot: dict[str, Any]) -> int:
        """Store ``snapshot``; returns its rid."""
        with self._lock:
            self._rid += 1
            self._snapshots[self._rid] = snapshot
            while len(self._snapshots) > self._keep:
                self._snapshots.popitem(last=False)
            return self._rid

    def get(self, rid: int) -> dict[str, Any] | None:
        with self._lock:
            return self._snapshots.get(rid)


def _diff(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    changed: dict[str, Any] = {}
    for key, value in new.items():
        before = old.get(key)
        if before is None:
            changed[key] = value
        else:
            delta = {k: v for k, v in value.items() if before.get(k) != v}
            if delta:
                changed[key] = delta
    return changed, [key for key in old if key not in new]


@endpoint("sync/maindata")
def sync_maindata(call: Call) -> dict[str, Any]:
    items = infos(call.runtime)
    snapshot = {
        "torrents": {t["hash"]: {k: v for k, v in t.items() if k != "hash"} for t in items},
        "categories": {n: {"name": n, "savePath": p} for n, p in cmd.categories(call.runtime).items()},
        "server_state": _server_state(call.runtime, items),
    }
    history: SyncHistory = _app_state(call.request, "qbit_sync", SyncHistory)
    previous = history.get(call.integer("rid", 0))
    rid = history.record(snapshot)
    if previous is None:
        tags = sorted({x.strip() for t in items for x in t["tags"].split(",") if x.strip()})
        return {"rid": rid, "full_update": True, **snapshot, "tags": tags, "trackers": {}}
    torrents, removed = _diff(previous["torrents"], snapshot["torrents"])
    cats, cats_removed = _diff(previous["categories"], snapshot["categories"])
    server = {k: v for k, v in snapshot["server_state"].items() if previous["server_state"].get(k) != v}
    answer: dict[str, Any] = {"rid": rid, "full_update": False}
    for key, value in (("torrents", torrents), ("torrents_removed", removed), ("categories", cats),
                       ("categories_removed", cats_removed), ("server_state", server)):
        if value:
            answer[key] = value
    return answer


# --- anything else under /api/v2 -----------------------------------------------------------------
@router.api_route("/api/v2/{rest:path}", methods=["GET", "POST", "HEAD", "PUT", "DELETE"])
async def unknown(rest: str, request: Request) -> Response:
    # Like qBittorrent: without a session nothing under the API is revealed, not even what exists.
    if not _authorized(request, request.app.state.runtime) and rest not in ("auth/login", "auth/logout"):
        return PlainTextResponse("Forbidden", status_code=403)
    if f"/api/v2/{rest}" in _KNOWN:
        return PlainTextResponse("Method Not Allowed", status_code=405)
    return _not_found()
