"""Download-task commands and reads shared by the qBittorrent API and the download worker.

Commands append events and wait until the task projection has applied them (read-your-writes),
so the next ``torrents/info`` sees the change. Reads go through the task projection only.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import apsw

from ..events.registry import Event
from ..events.types import (
    CategoryCreated,
    CategoryEdited,
    CategoryRemoved,
    TagsCreated,
    TagsDeleted,
    TaskCategorySet,
    TaskDeleted,
    TaskLocationSet,
    TaskPaused,
    TaskRenamed,
    TaskRequested,
    TaskResumed,
    TaskShareLimitsSet,
    TaskTagsSet,
)
from ..releases import DEFAULT_NAMING, STRM_MODE, MagnetRef, ReleaseNaming, naming_of, release_title
from .placement import local_root, remove_published, remove_task_files

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger("anibridge.tasks")

_MAX_CATEGORY = 100
_COLUMNS = ("hash, site, slug, season, episode, language, provider, mode, name, magnet, category, save_path, tags,"
            " status, paused, added_on, started_on, completed_on, downloaded, total_size, path, quality, host,"
            " attempts, error, position, ratio_limit, seeding_time_limit, inactive_seeding_time_limit, queue_rank,"
            " forced, retry_at, auto_retries")
# The download queue: forced downloads first, then by queue rank (torrents/topPrio...), then as added.
QUEUE_ORDER = "forced DESC, queue_rank, added_on, hash"
GLOBAL_LIMIT = -2  # a share limit of -2 means "the global one", as in qBittorrent


class CommandError(Exception):
    """A command the caller got wrong; ``status`` is the HTTP status qBittorrent would answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class TaskRow:
    hash: str
    site: str
    slug: str
    season: int
    episode: int
    language: str
    provider: str | None
    mode: str | None
    name: str
    magnet: str
    category: str
    save_path: str
    tags: str
    status: str  # queued, downloading, completed, failed
    paused: bool
    added_on: float
    started_on: float | None
    completed_on: float | None
    downloaded: int
    total_size: int
    path: str  # relative to DOWNLOAD_DIR once completed
    quality: str
    host: str
    attempts: int
    error: str
    position: int
    ratio_limit: float = -2.0
    seeding_time_limit: int = -2  # minutes
    inactive_seeding_time_limit: int = -2  # minutes
    queue_rank: float = 0.0
    forced: bool = False
    retry_at: float | None = None  # failed by a passing fault: the worker tries again then
    auto_retries: int = 0

    @property
    def runnable(self) -> bool:
        return self.status in ("queued", "downloading") and not self.paused


def _row(values: Sequence[Any]) -> TaskRow:
    data = list(values)
    data[14] = bool(data[14])
    data[30] = bool(data[30])
    return TaskRow(*data)


# --- reads ----------------------------------------------------------------------------------------
def all_tasks(runtime: Runtime) -> list[TaskRow]:
    rows = runtime.tasks_reader.connection().execute(f"SELECT {_COLUMNS} FROM tasks ORDER BY added_on, hash")
    return [_row(r) for r in rows]


def get_task(runtime: Runtime, task_hash: str) -> TaskRow | None:
    row = runtime.tasks_reader.connection().execute(
        f"SELECT {_COLUMNS} FROM tasks WHERE hash = ?", (task_hash.lower(),)).fetchone()
    return _row(row) if row else None


def runnable_tasks(runtime: Runtime) -> list[TaskRow]:
    """Tasks the worker should be running, oldest first (cheap: indexed by status)."""
    rows = runtime.tasks_reader.connection().execute(
        f"SELECT {_COLUMNS} FROM tasks WHERE status IN ('queued', 'downloading') AND paused = 0"
        f" ORDER BY {QUEUE_ORDER}")
    return [_row(r) for r in rows]


def download_queue(runtime: Runtime) -> list[tuple[str, float]]:
    """(hash, queue rank) of the downloads not finished yet (paused ones too, as qBittorrent's queue), in
    queue order."""
    rows = runtime.tasks_reader.connection().execute(
        f"SELECT hash, queue_rank FROM tasks WHERE status IN ('queued', 'downloading') ORDER BY {QUEUE_ORDER}")
    return [(h, float(rank)) for h, rank in rows]


def due_retries(runtime: Runtime, now: float) -> list[str]:
    """Failed tasks whose automatic retry is due (and that nobody paused meanwhile)."""
    rows = runtime.tasks_reader.connection().execute(
        "SELECT hash FROM tasks WHERE retry_at IS NOT NULL AND retry_at <= ? AND status = 'failed' AND paused = 0"
        " ORDER BY retry_at", (now,))
    return [h for (h,) in rows]


def tag_names(runtime: Runtime) -> list[str]:
    """Every tag: created ones and those torrents carry (torrents/tags)."""
    created = [name for (name,) in runtime.tasks_reader.connection().execute("SELECT name FROM tags")]
    carried = [t for task in all_tasks(runtime) for t in split_tags(task.tags)]
    return sorted(set(created) | set(carried))


def split_tags(tags: str) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in tags.split(",") if t.strip()))


def published_paths(runtime: Runtime, but: str = "") -> list[str]:
    """Paths (relative to DOWNLOAD_DIR) other tasks published: no new download may take their folders."""
    rows = runtime.tasks_reader.connection().execute("SELECT path FROM tasks WHERE path != '' AND hash != ?", (but,))
    return [path for (path,) in rows]


def categories(runtime: Runtime) -> dict[str, str]:
    rows = runtime.tasks_reader.connection().execute("SELECT name, save_path FROM categories ORDER BY name")
    return {name: save_path for name, save_path in rows}


def select(runtime: Runtime, hashes: str | None) -> list[TaskRow]:
    """Tasks named by a qBittorrent ``hashes`` parameter (``|``-separated, any case, or ``all``)."""
    if hashes is None or not hashes.strip():
        return []
    if hashes.strip().lower() == "all":
        return all_tasks(runtime)
    wanted = parse_hashes(hashes)
    found = [get_task(runtime, h) for h in wanted]
    return [t for t in found if t is not None]


def parse_hashes(hashes: str) -> list[str]:
    return list(dict.fromkeys(h.strip().lower() for h in hashes.split("|") if h.strip()))


# --- paths ----------------------------------------------------------------------------------------
def public_path(runtime: Runtime, relative: str = "") -> str:
    """The path Sonarr sees for ``DOWNLOAD_DIR/relative`` (QBIT_PUBLIC_SAVE_PATH maps the root)."""
    return under(public_root(runtime), relative)


def public_root(runtime: Runtime) -> str:
    """The download folder as Sonarr sees it: QBIT_PUBLIC_SAVE_PATH, else DOWNLOAD_DIR (resolved)."""
    public = runtime.settings.qbit_public_save_path
    return (public.rstrip("/") or "/") if public else str(local_root(runtime))


def under(root: str, relative: str) -> str:
    """``root/relative`` for clean relative paths (those AniBridge records), without pathlib's cost."""
    if not relative:
        return root
    return f"{root}/{relative}" if root != "/" else f"/{relative}"


def save_folder(runtime: Runtime, save_path: str) -> str | None:
    """A qBittorrent ``savepath`` as a folder relative to DOWNLOAD_DIR; None when it is not inside it.

    Sonarr names folders as it sees them (``QBIT_PUBLIC_SAVE_PATH``), other clients may use the local
    path or a relative one; whatever climbs out of the download folder is not honoured.
    """
    raw = save_path.strip().replace("\\", "/")
    if not raw:
        return None
    roots = [str(local_root(runtime))]
    if runtime.settings.qbit_public_save_path:
        roots.insert(0, runtime.settings.qbit_public_save_path.rstrip("/") or "/")
    relative: str | None = None
    if raw.startswith("/"):
        for root in roots:
            if raw == root or raw.startswith(root.rstrip("/") + "/"):
                relative = raw[len(root):]
                break
    else:
        relative = raw
    if relative is None:
        return None
    parts = [p for p in relative.split("/") if p and p != "."]
    if any(p == ".." or re.search(r"[\x00-\x1f\x7f]", p) for p in parts):
        return None
    return "/".join(parts)


def folder_parts(runtime: Runtime, task: TaskRow) -> list[str]:
    """Where a task's release folder goes, relative to DOWNLOAD_DIR: its ``savepath`` when that lies
    inside the download folder, else its category's folder (as earlier AniBridge releases did)."""
    folder = save_folder(runtime, task.save_path) if task.save_path else None
    if folder is not None:
        return [p for p in folder.split("/") if p]
    return [task.category] if task.category else []


# --- commands -------------------------------------------------------------------------------------
def commit(runtime: Runtime, events: Sequence[Event], timeout: float = 10.0) -> int:
    """Append events and wait until the task projection shows them; returns the last position."""
    if not events:
        return runtime.task_projector.checkpoint
    positions = runtime.journal.append(list(events))
    if not runtime.task_projector.wait_until(positions[-1], timeout):
        error = runtime.task_projector.error
        if "FullError" in error or "ReadOnlyError" in error:
            # In the journal, but the task table cannot take it: do not acknowledge what Sonarr
            # would then not find. It shows up by itself once the data folder has room again.
            log.error("download recorded at position %d, but the task table cannot be written (%s)",
                      positions[-1], error)
            raise (apsw.FullError if "FullError" in error else apsw.ReadOnlyError)(error)
        log.warning("task projection is behind: position %d not applied after %.0f s", positions[-1], timeout)
    wake_worker(runtime)
    return positions[-1]


def wake_worker(runtime: Runtime) -> None:
    worker = runtime.worker
    if worker is not None:
        worker.wake()


def check_category(name: str) -> str:
    """A category name qBittorrent would accept (``tv/anime`` subcategories allowed)."""
    name = name.strip()
    if not name or len(name) > _MAX_CATEGORY or re.search(r"[\x00-\x1f\x7f\\]", name):
        raise CommandError(400, "Incorrect category name")
    if name.startswith("/") or name.endswith("/") or any(p in ("", ".", "..") for p in name.split("/")):
        raise CommandError(400, "Incorrect category name")
    return name


def task_name(ref: MagnetRef, naming: ReleaseNaming = DEFAULT_NAMING) -> str:
    """The magnet's ``dn``, else a release title built from its fields."""
    if ref.name.strip():
        return ref.name.strip()[:300]
    words = ref.slug.replace("-", " ").replace("_", " ")
    return release_title(words, ref.season, ref.episode, ref.language, ref.site, naming=naming,
                         strm=ref.mode == STRM_MODE)


@dataclass(frozen=True, slots=True)
class ShareLimits:
    ratio_limit: float = GLOBAL_LIMIT
    seeding_time_limit: int = GLOBAL_LIMIT  # minutes
    inactive_seeding_time_limit: int = GLOBAL_LIMIT  # minutes


def add_tasks(runtime: Runtime, refs: Iterable[tuple[MagnetRef, str]], *, category: str, save_path: str,
              tags: str, paused: bool, limits: ShareLimits = ShareLimits(), rename: str = "", forced: bool = False,
              to_top: bool = False) -> int:
    """Record new tasks; returns how many were added or retried.

    A known hash is a duplicate, left as it is (qBittorrent 5 refuses it), except a failed one, which
    is retried: that is what re-grabbing it in Sonarr means.
    """
    events: list[Event] = []
    taken = 0
    folder = save_folder(runtime, save_path) if save_path.strip() else None
    if save_path.strip() and folder is None:
        log.warning("not saving into %r: it is not inside the download folder; using the default folder",
                    save_path[:200])
    if category and category not in categories(runtime):
        events.append(CategoryCreated(name=category, save_path=""))
    now = time.time()
    # addToTopOfQueue: ranks below the lowest in use; several links keep their order (at most
    # QBIT_MAX_TORRENTS_PER_ADD of them, far fewer than 1000)
    top = min((rank for _, rank in download_queue(runtime)), default=0.0) if to_top else None
    seen: set[str] = set()
    for ref, magnet in refs:
        if ref.info_hash in seen:
            continue
        seen.add(ref.info_hash)
        existing = get_task(runtime, ref.info_hash)
        if existing is not None:
            if existing.status == "failed" and not paused:
                remove_failure_marker(runtime, existing)
                events.append(TaskResumed(hash=ref.info_hash))
                taken += 1
                log.info("torrent %s (%s) failed before; added again, so it is retried", ref.info_hash,
                         existing.name)
            else:
                log.info("torrent %s (%s) is already known; not adding it again", ref.info_hash, existing.name)
            continue
        name = " ".join(rename.split())[:300] or task_name(ref, naming_of(runtime.settings))
        events.append(TaskRequested(
            hash=ref.info_hash, site=ref.site, slug=ref.slug, season=ref.season, episode=ref.episode,
            language=ref.language, provider=ref.provider, mode=ref.mode, name=name, magnet=magnet,
            category=category, save_path=folder or "", tags=",".join(split_tags(tags)), paused=paused,
            added_on=now, ratio_limit=limits.ratio_limit, seeding_time_limit=limits.seeding_time_limit,
            inactive_seeding_time_limit=limits.inactive_seeding_time_limit, forced=forced,
            rank=None if top is None else top - 1 + len(seen) / 1000))
        taken += 1
        log.info("added %s (%s S%02dE%02d %s on %s)%s", ref.info_hash, ref.slug, ref.season, ref.episode,
                 ref.language, ref.site, " paused" if paused else "")
    commit(runtime, events)
    return taken


def pause(runtime: Runtime, tasks: Iterable[TaskRow]) -> None:
    events = [TaskPaused(hash=t.hash) for t in tasks if not t.paused]
    commit(runtime, events)
    if runtime.worker is not None:
        for event in events:
            runtime.worker.cancel(event.hash)


def resume(runtime: Runtime, tasks: Iterable[TaskRow]) -> None:
    # as qBittorrent's start(): a forced download becomes an ordinary one in the queue again
    chosen = [t for t in tasks if t.paused or t.status == "failed" or t.forced]
    for task in chosen:
        remove_failure_marker(runtime, task)
    commit(runtime, [TaskResumed(hash=t.hash) for t in chosen])


def remove_failure_marker(runtime: Runtime, task: TaskRow) -> None:
    """A failed task about to be retried: its marker file must not sit beside the download to come."""
    if task.status == "failed" and task.path:
        remove_published(runtime, task.path, task.total_size, task.name, task.category)


def delete(runtime: Runtime, tasks: Sequence[TaskRow], delete_files: bool) -> None:
    remove = delete_files or runtime.settings.delete_files_on_torrent_delete
    commit(runtime, [TaskDeleted(hash=t.hash, delete_files=remove) for t in tasks])
    for task in tasks:
        if runtime.worker is not None:
            runtime.worker.cancel(task.hash, delete_files=remove)
        if remove:
            remove_task_files(runtime, task)
        log.info("deleted %s (%s)%s", task.hash, task.name, " and its files" if remove else "")


def set_category(runtime: Runtime, tasks: Iterable[TaskRow], category: str) -> None:
    if category:
        category = check_category(category)
        if category not in categories(runtime):
            raise CommandError(409, "Incorrect category name")
    commit(runtime, [TaskCategorySet(hash=t.hash, category=category) for t in tasks if t.category != category])


def create_category(runtime: Runtime, name: str, save_path: str) -> None:
    name = check_category(name)
    if name in categories(runtime):
        raise CommandError(409, "Unable to create category")
    commit(runtime, [CategoryCreated(name=name, save_path=save_path)])


def edit_category(runtime: Runtime, name: str, save_path: str) -> None:
    name = check_category(name)
    if name not in categories(runtime):
        raise CommandError(409, "Unable to edit category")
    commit(runtime, [CategoryEdited(name=name, save_path=save_path)])


def remove_categories(runtime: Runtime, names: Iterable[str]) -> None:
    known = categories(runtime)
    commit(runtime, [CategoryRemoved(name=n) for n in dict.fromkeys(n.strip() for n in names) if n in known])


def set_share_limits(runtime: Runtime, tasks: Iterable[TaskRow], limits: ShareLimits) -> None:
    commit(runtime, [TaskShareLimitsSet(hash=t.hash, ratio_limit=limits.ratio_limit,
                                        seeding_time_limit=limits.seeding_time_limit,
                                        inactive_seeding_time_limit=limits.inactive_seeding_time_limit)
                     for t in tasks])


def add_tags(runtime: Runtime, tasks: Iterable[TaskRow], tags: str) -> None:
    new = split_tags(tags)
    events: list[Event] = []
    for task in tasks:
        merged = split_tags(task.tags) + [t for t in new if t not in split_tags(task.tags)]
        if merged != split_tags(task.tags):
            events.append(TaskTagsSet(hash=task.hash, tags=",".join(merged)))
    commit(runtime, events)


def remove_tags(runtime: Runtime, tasks: Iterable[TaskRow], tags: str) -> None:
    """Without ``tags``, every tag leaves the torrents (as qBittorrent does)."""
    gone = set(split_tags(tags))
    events: list[Event] = []
    for task in tasks:
        kept = [t for t in split_tags(task.tags) if gone and t not in gone]
        if kept != split_tags(task.tags):
            events.append(TaskTagsSet(hash=task.hash, tags=",".join(kept)))
    commit(runtime, events)


def create_tags(runtime: Runtime, tags: str) -> None:
    names = split_tags(tags)
    commit(runtime, [TagsCreated(tags=names)] if names else [])


def delete_tags(runtime: Runtime, tags: str) -> None:
    names = split_tags(tags)
    commit(runtime, [TagsDeleted(tags=names)] if names else [])


def rename(runtime: Runtime, task: TaskRow, name: str) -> None:
    clean = " ".join(name.split())[:300]
    if not clean:
        raise CommandError(409, "Incorrect torrent name")
    commit(runtime, [TaskRenamed(hash=task.hash, name=clean)] if clean != task.name else [])


def set_location(runtime: Runtime, tasks: Sequence[TaskRow], location: str) -> None:
    """Where downloads not finished yet will be saved; a finished file stays where Sonarr saw it."""
    if not location.strip():
        raise CommandError(400, "Save path cannot be empty")
    folder = save_folder(runtime, location)
    if folder is None:
        raise CommandError(409, f"Cannot make save path: {location[:200]!r} is not inside the download folder")
    if any(t.status == "completed" for t in tasks):
        raise CommandError(409, "Cannot move a finished download: its file stays where it was imported from")
    commit(runtime, [TaskLocationSet(hash=t.hash, save_path=folder) for t in tasks if t.save_path != folder])
