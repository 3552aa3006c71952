"""Where a task's files live, and which files AniBridge may remove.

AniBridge writes two kinds of things under DOWNLOAD_DIR: a staging folder per running task
(``.incoming/<hash>``) and one published file per completed task (``TaskCompleted.path``, recorded
in the journal). Only those are ever removed. Symlinks are never followed when removing: a link is
removed as a link, or left alone, never the folder it points to. A user's own file put into a
release folder survives a delete with ``deleteFiles=true``, and so does the folder holding it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from .files import MAX_COMPONENT_BYTES, atomic_finalize, safe_component, safe_join

if TYPE_CHECKING:
    from ..runtime import Runtime
    from .tasks import TaskRow

log = logging.getLogger("anibridge.tasks")

STAGING_DIR = ".incoming"
_TASK_HASH = re.compile(r"[0-9a-f]{40}")


class StagingError(Exception):
    """The staging folder cannot be used safely; ``reason`` says why and what to do."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def local_root(runtime: Runtime) -> Path:
    return runtime.settings.downloads_path.resolve()


def staging_root(runtime: Runtime, create: bool = True) -> Path:
    """``DOWNLOAD_DIR/.incoming``, a real folder; a symlink or a file there is refused, never used."""
    path = local_root(runtime) / STAGING_DIR
    if path.is_symlink():
        raise StagingError(f"{path} is a symbolic link (to {os.readlink(path)}); AniBridge stages downloads"
                           " only in a real folder of its own there. Remove the link and try again.")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    if path.exists() and not path.is_dir():
        raise StagingError(f"{path} is not a folder; AniBridge needs that name for its staging folder."
                           " Move the file away and try again.")
    return path


def staging_dir(runtime: Runtime, task_hash: str) -> Path:
    if not _TASK_HASH.fullmatch(task_hash):
        raise StagingError(f"{task_hash!r} is not a task hash")
    return staging_root(runtime) / task_hash


def remove_staging(runtime: Runtime, task_hash: str) -> None:
    """Remove one task's staging folder (a link there is removed as a link)."""
    try:
        path = staging_root(runtime, create=False) / task_hash
    except StagingError as exc:
        log.warning("not cleaning the staging folder: %s", exc.reason)
        return
    _remove_owned_entry(path)


def clean_staging(runtime: Runtime, keep: Iterable[str]) -> int:
    """Remove staging folders of tasks that will not run again; only entries named by a task hash."""
    try:
        root = staging_root(runtime, create=False)
    except StagingError as exc:
        log.error("not cleaning the staging folder: %s", exc.reason)
        return 0
    if not root.is_dir():
        return 0
    kept = set(keep)
    removed = 0
    for entry in root.iterdir():
        if entry.name in kept or not _TASK_HASH.fullmatch(entry.name):
            continue  # a running task's folder, or something AniBridge did not create
        _remove_owned_entry(entry)
        removed += 1
    return removed


def _remove_owned_entry(path: Path) -> None:
    try:
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)  # rmtree removes links inside as links; it never descends into them
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)


# --- published files --------------------------------------------------------------------------------
def release_target(runtime: Runtime, task: TaskRow, parents: list[str], name: str, suffix: str,
                   claimed: Iterable[str]) -> Path:
    """``DOWNLOAD_DIR/<parents...>/<name>/<name><suffix>`` in a folder no other task and no user file uses.

    ``claimed`` are the relative paths other tasks published. When the release folder is taken (two
    tasks whose magnets carry the same ``dn``, or a folder the user filled), the task's hash is added
    to the folder name, so every task gets its own path whatever its name says. Call this and publish
    under one lock, so two jobs finishing together cannot pick the same folder.
    """
    root = local_root(runtime)
    taken = {str(PurePosixPath(p).parent) for p in claimed if p}
    for folder_name in (name, _tagged(name, task.hash[:8]), _tagged(name, task.hash)):
        folder = safe_join(root, *parents, folder_name)
        if str(folder.relative_to(root)) in taken or not _free_folder(folder):
            continue
        folder.mkdir(parents=True, exist_ok=True)
        return safe_join(folder, file_name(name, suffix))
    raise FileExistsError(f"no free release folder for {name} in {root}")


def file_name(name: str, suffix: str) -> str:
    """``<name><suffix>`` as one safe file name; a long name is shortened, never its extension."""
    room = MAX_COMPONENT_BYTES - len(suffix.encode("utf-8"))
    base = safe_component(name).encode("utf-8")[:room].decode("utf-8", errors="ignore").rstrip(". ")
    return f"{base or 'unnamed'}{suffix}"


PUBLISH_LOCK = threading.Lock()


def publish(runtime: Runtime, task: TaskRow, parents: list[str], name: str, source: Path,
            claimed: Callable[[], Iterable[str]], suffix: str | None = None) -> Path:
    """Move the finished ``source`` to its own release folder (see release_target) atomically; the final
    path (named ``<name><suffix>``, by default the source's extension). One lock for every job: choosing
    a free folder and filling it is one step."""
    with PUBLISH_LOCK:
        final = release_target(runtime, task, parents, name, source.suffix if suffix is None else suffix,
                                claimed())
        atomic_finalize(source, final)
    return final


def _tagged(name: str, tag: str) -> str:
    base = safe_component(name).encode("utf-8")[: MAX_COMPONENT_BYTES - len(tag) - 1]
    return f"{base.decode('utf-8', errors='ignore').rstrip('. ')}.{tag}"


def _free_folder(folder: Path) -> bool:
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        return False
    return not folder.exists() or next(folder.iterdir(), None) is None


def remove_task_files(runtime: Runtime, task: TaskRow) -> None:
    """Remove what this task wrote: its staging folder and its published file (if it is still the file
    AniBridge wrote), then its release folder if nothing else is in it. Never anything else."""
    remove_staging(runtime, task.hash)
    if task.path:
        remove_published(runtime, task.path, task.total_size, task.name, task.category)


def remove_published(runtime: Runtime, relative: str, size: int, what: str, category: str = "") -> None:
    root = local_root(runtime)
    target = root / relative
    folder = target.parent
    try:
        real_folder = folder.resolve()
    except OSError:
        return
    if real_folder != folder or not real_folder.is_relative_to(root):
        # A link somewhere on the way (or a path that climbs): what it points to is not ours.
        log.warning("not removing the files of %s: %s is not a folder inside the download folder %s",
                    what, folder, root)
        return
    try:
        if target.is_symlink():
            log.warning("not removing %s of %s: it is a link AniBridge did not create", target, what)
        elif target.is_file():
            if size and target.stat().st_size != size:
                log.warning("not removing %s of %s: it is not the file AniBridge wrote (%d bytes, not %d)",
                            target, what, target.stat().st_size, size)
            else:
                target.unlink()
                log.info("removed the file of %s (%s)", what, relative)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("could not remove the file of %s: %s", what, exc)
    category_dir = (root / category) if category else root
    if folder in (root, category_dir):
        return
    try:
        folder.rmdir()  # only when empty: a user's file keeps its folder
    except FileNotFoundError:
        pass
    except OSError:
        log.info("kept the folder %s of %s: it holds files AniBridge did not write", folder, what)
