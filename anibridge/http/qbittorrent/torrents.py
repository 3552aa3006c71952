"""torrents/*: the task projection as qBittorrent torrents, and the commands that change them."""

from __future__ import annotations

import os
import posixpath
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from fastapi.responses import PlainTextResponse, Response

from ...downloads import tasks as cmd
from ...downloads.tasks import GLOBAL_LIMIT, CommandError, ShareLimits, TaskRow
from ...releases import MagnetError, MagnetRef, estimate_size, parse_magnet
from ...runtime import Runtime
from .plumbing import Call, endpoint, log

UNKNOWN_ETA = 8_640_000
STALLED_AFTER = 30.0
# The global share limits app/preferences states: a finished download has seeded long enough at once (0
# minutes) and is then stopped, not removed - so Sonarr's HasReachedSeedLimit lets it move and remove the
# download after import, and its client test (RemovesCompletedDownloads) still passes. There are no
# peers: the ratio stays 0, so no global ratio limit (it would override a seeding time Sonarr asks for).
GLOBAL_MAX_RATIO = -1.0
GLOBAL_MAX_SEEDING_MINUTES = 0
GLOBAL_MAX_INACTIVE_SEEDING_MINUTES = -1


def seeding_seconds(task: TaskRow, now: float) -> int:
    if task.status != "completed" or not task.completed_on:
        return 0
    return max(0, int(now - task.completed_on))


def _effective(own: float, global_: float) -> float:
    return global_ if own == GLOBAL_LIMIT else own


def seed_limit_reached(task: TaskRow, now: float) -> bool:
    """Whether a finished download has seeded as long as its share limits (or the global ones) ask.

    Ratio: nothing is ever uploaded, so only a limit of 0 is reached. Seeding time counts from
    completion; inactive seeding time likewise (a finished download is never active again).
    """
    if task.status != "completed":
        return False
    ratio = _effective(task.ratio_limit, GLOBAL_MAX_RATIO)
    if ratio >= 0 and ratio <= 0.001:
        return True
    seeded = seeding_seconds(task, now)
    for limit in (_effective(task.seeding_time_limit, GLOBAL_MAX_SEEDING_MINUTES),
                  _effective(task.inactive_seeding_time_limit, GLOBAL_MAX_INACTIVE_SEEDING_MINUTES)):
        if limit >= 0 and seeded >= limit * 60:
            return True
    return False


_ARR_AGENT = re.compile(r"^(Sonarr|Radarr)/(\d+(?:\.\d+){0,3})")
# The first releases that fail a single-file download holding an executable (RejectedImportService with
# "Fail Downloads", and its fix for files): older ones would only warn about the marker.
MARKER_MIN_VERSION = {"Sonarr": (4, 0, 12, 2892), "Radarr": (5, 22, 0, 9808)}


def understands_markers(user_agent: str) -> bool:
    """A Sonarr or Radarr new enough to fail a download by its marker file; their HTTP client names itself
    ``Sonarr/4.0.16.2944 (ubuntu 24.04)`` on every request (UserAgentBuilder, ManagedHttpDispatcher)."""
    found = _ARR_AGENT.match(user_agent)
    if found is None:
        return False
    version = tuple(int(part) for part in found.group(2).split("."))
    return version >= MARKER_MIN_VERSION[found.group(1)]


def sees_failure_markers(call: Call) -> bool:
    """Whether failed downloads with a marker file are shown to this client as finished with that file
    (FAILED_DOWNLOAD_MARKER): ``arr`` for Sonarr and Radarr versions that fail it (their qBittorrent client
    fails nothing by state); qBittorrent's ``error`` state for everyone else."""
    mode = call.runtime.settings.failed_download_marker
    if mode == "arr":
        return understands_markers(call.request.headers.get("user-agent", ""))
    return mode == "always"


@dataclass(frozen=True, slots=True)
class View:
    """What every torrent of one answer shares: worked out once per request, not once per torrent (resolving
    the download folder alone cost 60% of torrents/info)."""

    runtime: Runtime
    local: str  # DOWNLOAD_DIR, resolved
    public: str  # the download folder as Sonarr sees it (QBIT_PUBLIC_SAVE_PATH), else ``local``
    now: float
    live: dict[str, Any]
    markers: bool  # see sees_failure_markers
    places: dict[str, int]  # queue positions from 1

    def local_path(self, relative: str) -> str:
        return cmd.under(self.local, relative)

    def public_path(self, relative: str) -> str:
        return cmd.under(self.public, relative)


def view_of(runtime: Runtime, markers: bool = False) -> View:
    return View(runtime, str(cmd.local_root(runtime)), cmd.public_root(runtime), time.time(), _live(runtime),
                markers, queue_positions(runtime))


def shows_marker(view: View, task: TaskRow) -> bool:
    """A failed task shown as a finished download of its marker file (while that file is there)."""
    return view.markers and task.status == "failed" and bool(task.path) and os.path.isfile(view.local_path(task.path))


def _live(runtime: Runtime) -> dict[str, Any]:
    worker = runtime.worker
    return dict(worker.live) if worker is not None else {}


def _state(view: View, task: TaskRow, live: Any, marker: bool) -> str:
    if task.status == "failed":
        # finished and done seeding: Sonarr imports the marker at once, fails it, and may remove it
        return "stoppedUP" if marker else "error"
    if task.status == "completed":
        exists = bool(task.path) and os.path.exists(view.local_path(task.path))
        if not exists:
            return "missingFiles"
        # seeding (without peers) until its share limits are reached, then stopped, as qBittorrent does
        return "stoppedUP" if seed_limit_reached(task, view.now) else "stalledUP"
    if task.paused:
        return "stoppedDL"
    if task.status == "downloading":
        if task.forced:  # qBittorrent checks forced before stalled (TorrentImpl::updateState)
            return "forcedDL"
        if live is not None and live.speed <= 0 and time.monotonic() - live.updated > STALLED_AFTER:
            return "stalledDL"
        return "downloading"
    return "forcedDL" if task.forced else "queuedDL"


def comment(task: TaskRow) -> str:
    """Why a download failed, and when AniBridge tries it again (qBittorrent's comment field)."""
    if task.status == "failed" and task.retry_at is not None:
        when = time.strftime("%H:%M UTC", time.gmtime(task.retry_at))
        return f"{task.error} (AniBridge tries again at {when})"
    return task.error


def _save_rel(runtime: Runtime, task: TaskRow) -> str:
    """The folder holding the task's release folder, relative to DOWNLOAD_DIR ("" for the root)."""
    if task.status in ("completed", "failed") and task.path:
        return task.path.rsplit("/", 2)[0] if task.path.count("/") >= 2 else ""
    return "/".join(cmd.folder_parts(runtime, task))


def task_info(view: View, task: TaskRow) -> dict[str, Any]:
    """One torrent as ``torrents/info`` lists it."""
    runtime, now, live = view.runtime, view.now, view.live.get(task.hash)
    marker = shows_marker(view, task)
    completed = task.status == "completed" or marker
    total = task.total_size or (live.total if live is not None else 0)
    downloaded = task.downloaded
    if task.status == "failed" and task.path and not marker:  # those figures are the marker's, not the video's
        total = downloaded = 0
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
    save_rel = _save_rel(runtime, task)
    save_path = view.public_path(save_rel)
    content_path = view.public_path(task.path if completed and task.path else
                                    posixpath.normpath(posixpath.join(save_rel, task.name)).lstrip("/"))
    added = int(task.added_on)
    done_on = int(task.completed_on) if completed and task.completed_on else -1
    # A marker has nothing to share: its ratio limit of 0 is reached at once, whatever Sonarr asked for
    # (HasReachedSeedLimit), so Sonarr can remove it once it has failed the download.
    own_ratio = 0.0 if marker else task.ratio_limit
    own_time = task.seeding_time_limit
    max_ratio = _effective(own_ratio, GLOBAL_MAX_RATIO)
    max_time = _effective(own_time, GLOBAL_MAX_SEEDING_MINUTES)
    max_inactive = _effective(task.inactive_seeding_time_limit, GLOBAL_MAX_INACTIVE_SEEDING_MINUTES)
    active = int(now - (task.started_on or task.added_on)) if task.started_on else 0
    return {
        "hash": task.hash, "infohash_v1": task.hash, "infohash_v2": "", "name": task.name,
        "magnet_uri": task.magnet, "size": size, "total_size": size, "progress": round(progress, 4),
        "dlspeed": speed, "upspeed": 0, "eta": eta, "state": _state(view, task, live, marker),
        "category": task.category, "tags": task.tags, "save_path": save_path, "download_path": "",
        "content_path": content_path, "root_path": content_path, "added_on": added, "completion_on": done_on,
        "amount_left": left, "completed": downloaded, "downloaded": downloaded, "downloaded_session": downloaded,
        "uploaded": 0, "uploaded_session": 0, "ratio": 0, "ratio_limit": own_ratio, "max_ratio": max_ratio,
        "seeding_time": seeding_seconds(task, now), "seeding_time_limit": own_time, "max_seeding_time": max_time,
        "inactive_seeding_time_limit": task.inactive_seeding_time_limit, "max_inactive_seeding_time": max_inactive,
        "num_seeds": 0, "num_leechs": 0, "num_complete": 0, "num_incomplete": 0, "availability": -1,
        "priority": view.places.get(task.hash, 0), "force_start": task.forced and task.runnable, "super_seeding": False,
        "seq_dl": False, "f_l_piece_prio": False,
        "auto_tmm": False, "dl_limit": -1, "up_limit": -1, "time_active": active, "seen_complete": done_on,
        "last_activity": int(now) if speed else (done_on if completed else added), "tracker": "",
        "trackers_count": 0, "private": False, "has_metadata": True, "popularity": 0, "reannounce": 0,
        "comment": comment(task),
    }


_DL_STATES = {"queuedDL", "downloading", "forcedDL", "stalledDL", "stoppedDL", "metaDL"}
# qBittorrent's TorrentFilter names (plus the 4.x names paused/resumed); any other name means all.
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
    "stalled": lambda t: t["state"] in ("stalledDL", "stalledUP"),
    "stalled_uploading": lambda t: t["state"] == "stalledUP",
    "stalled_downloading": lambda t: t["state"] == "stalledDL",
    "checking": lambda t: False,
    "moving": lambda t: False,
    "errored": lambda t: t["state"] in ("error", "missingFiles"),
}


def queue_positions(runtime: Runtime) -> dict[str, int]:
    return {h: i for i, (h, _) in enumerate(cmd.download_queue(runtime), start=1)}


def infos(runtime: Runtime, markers: bool = False) -> list[dict[str, Any]]:
    view = view_of(runtime, markers)
    return [task_info(view, t) for t in cmd.all_tasks(runtime)]


@endpoint("torrents/info")
def torrents_info(call: Call) -> Any:
    items = infos(call.runtime, sees_failure_markers(call))
    keep = _FILTERS.get(call.get("filter").strip(), _FILTERS["all"])
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
    info = task_info(view_of(call.runtime, sees_failure_markers(call)), task)
    return {
        "hash": task.hash, "infohash_v1": task.hash, "infohash_v2": "", "name": task.name,
        "save_path": info["save_path"], "download_path": "", "creation_date": info["added_on"],
        "piece_size": 0, "comment": info["comment"], "total_wasted": 0, "total_uploaded": 0,
        "total_uploaded_session": 0, "total_downloaded": info["downloaded"],
        "total_downloaded_session": info["downloaded"], "up_limit": -1, "dl_limit": -1,
        "time_elapsed": info["time_active"], "seeding_time": info["seeding_time"],
        "nb_connections": 1 if info["dlspeed"] else 0,
        "nb_connections_limit": 100, "share_ratio": 0, "addition_date": info["added_on"],
        "completion_date": info["completion_on"], "created_by": "AniBridge", "dl_speed_avg": info["dlspeed"],
        "dl_speed": info["dlspeed"], "up_speed": 0, "up_speed_avg": 0, "eta": info["eta"],
        "last_seen": info["seen_complete"], "peers": 0, "peers_total": 0, "seeds": 0, "seeds_total": 0,
        "pieces_have": 1 if info["progress"] == 1.0 else 0, "pieces_num": 1, "reannounce": 0,
        "total_size": info["total_size"], "is_private": False, "isPrivate": False, "has_metadata": True,
        "progress": info["progress"], "state": info["state"], "host": task.host, "attempts": task.attempts,
    }


@endpoint("torrents/files")
def torrents_files(call: Call) -> list[dict[str, Any]]:
    task = _one(call)
    info = task_info(view_of(call.runtime, sees_failure_markers(call)), task)
    if info["progress"] == 1.0 and task.path:
        parts = PurePosixPath(task.path).parts
        name = str(PurePosixPath(*parts[-2:]))
    else:
        name = f"{task.name}/{task.name}.mp4"
    return [{"index": 0, "name": name, "size": info["size"], "progress": info["progress"], "priority": 1,
             "is_seed": info["progress"] == 1.0, "piece_range": [0, 0], "availability": 1}]


@endpoint("torrents/trackers")
def torrents_trackers(call: Call) -> list[dict[str, Any]]:
    _one(call)
    return []


@endpoint("torrents/categories")
def torrents_categories(call: Call) -> dict[str, Any]:
    return {name: {"name": name, "savePath": path} for name, path in cmd.categories(call.runtime).items()}


@endpoint("torrents/tags")
def torrents_tags(call: Call) -> list[str]:
    return cmd.tag_names(call.runtime)


# --- torrents: commands ---------------------------------------------------------------------------
def _describe(url: str) -> str:
    return url if len(url) <= 80 else url[:77] + "..."


def _limits(call: Call) -> ShareLimits:
    """Share limits as qBittorrent parses them: a missing or unreadable number is -2 (the global limit)."""
    try:
        ratio = float(call.get("ratioLimit") or GLOBAL_LIMIT)
    except ValueError:
        ratio = GLOBAL_LIMIT
    if ratio != ratio or ratio in (float("inf"), float("-inf")):  # NaN or infinite: not a limit
        ratio = GLOBAL_LIMIT
    return ShareLimits(ratio_limit=max(ratio, -2.0), seeding_time_limit=max(call.integer("seedingTimeLimit", -2), -2),
                       inactive_seeding_time_limit=max(call.integer("inactiveSeedingTimeLimit", -2), -2))


@endpoint("torrents/add", write=True)
def torrents_add(call: Call) -> Response:
    """As qBittorrent 5: ``Ok.`` when at least one link was added, else ``Fails.`` - both with status 200.

    Links AniBridge cannot download (other magnets, http(s) URLs, .torrent files) and duplicates fail.
    """
    urls = [u.strip() for u in call.get("urls").replace("\r", "\n").split("\n") if u.strip()]
    if call.files:
        log.warning("refused %d .torrent file(s): AniBridge only takes its own magnet links", len(call.files))
    if not urls:
        if not call.files:
            log.warning("torrents/add without links (urls is empty)")
        return PlainTextResponse("Fails.")
    # A bad request as qBittorrent's BadParams (400 with the reason), not a failed add.
    cap = call.runtime.settings.qbit_max_torrents_per_add
    if len(urls) > cap:
        log.warning("torrents/add refused %d links in one request (QBIT_MAX_TORRENTS_PER_ADD is %d)", len(urls), cap)
        return PlainTextResponse(f"Fails. {len(urls)} links in one request; at most {cap} are accepted"
                                 " (QBIT_MAX_TORRENTS_PER_ADD)", status_code=400)
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
        return PlainTextResponse("Fails.")
    category = call.get("category").strip()
    if category:
        category = cmd.check_category(category)
    paused = call.flag("paused") or call.flag("stopped")
    added = cmd.add_tasks(call.runtime, refs, category=category, save_path=call.get("savepath"),
                          tags=call.get("tags"), paused=paused, limits=_limits(call), rename=call.get("rename"),
                          forced=call.flag("forced"), to_top=call.flag("addToTopOfQueue"))
    return PlainTextResponse("Ok." if added else "Fails.")


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


@endpoint("torrents/setShareLimits", write=True)
def torrents_set_share_limits(call: Call) -> None:
    for name in ("ratioLimit", "seedingTimeLimit"):
        if not call.get(name).strip():
            raise CommandError(400, f"Missing parameter: {name}")
    cmd.set_share_limits(call.runtime, _selected(call), _limits(call))


@endpoint("torrents/addTags", write=True)
def torrents_add_tags(call: Call) -> None:
    cmd.add_tags(call.runtime, _selected(call), call.get("tags"))


@endpoint("torrents/removeTags", write=True)
def torrents_remove_tags(call: Call) -> None:
    cmd.remove_tags(call.runtime, _selected(call), call.get("tags"))


@endpoint("torrents/createTags", write=True)
def torrents_create_tags(call: Call) -> None:
    cmd.create_tags(call.runtime, call.get("tags"))


@endpoint("torrents/deleteTags", write=True)
def torrents_delete_tags(call: Call) -> None:
    cmd.delete_tags(call.runtime, call.get("tags"))


@endpoint("torrents/rename", write=True)
def torrents_rename(call: Call) -> None:
    cmd.rename(call.runtime, _one(call), call.get("name"))


@endpoint("torrents/setLocation", write=True)
def torrents_set_location(call: Call) -> None:
    cmd.set_location(call.runtime, _selected(call), call.get("location"))


@endpoint("torrents/webseeds")
def torrents_webseeds(call: Call) -> list[dict[str, str]]:
    _one(call)
    return []  # the video hosts are not web seeds a BitTorrent client could use


@endpoint("torrents/pieceStates")
def torrents_piece_states(call: Call) -> list[int]:
    """One piece (the whole file): 0 not downloaded, 1 downloading, 2 downloaded, as qBittorrent counts."""
    task = _one(call)
    if task.status == "completed":
        return [2]
    return [1] if task.status == "downloading" and not task.paused else [0]


@endpoint("torrents/pieceHashes")
def torrents_piece_hashes(call: Call) -> list[str]:
    _one(call)
    return []  # no BitTorrent pieces, so no piece hashes


def _accept(name: str) -> None:
    def ignore(call: Call) -> None:
        log.debug("accepted and ignored torrents/%s", name)

    endpoint(f"torrents/{name}", write=True)(ignore)


# Speed limits and BitTorrent-only switches have nothing to act on in AniBridge (the queue: queue.py).
for _name in ("setSuperSeeding", "setAutoManagement", "reannounce", "recheck", "setDownloadLimit", "setUploadLimit",
              "toggleSequentialDownload", "toggleFirstLastPiecePrio", "filePrio"):
    _accept(_name)
