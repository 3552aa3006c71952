"""``anibridge backup DEST`` and ``anibridge restore BACKUP``: the journal is the one file worth keeping.

A backup is a consistent copy of the journal made with SQLite's online backup API: one read snapshot
(a running server keeps appending meanwhile; in WAL mode readers and the writer never wait for each
other), events in the WAL included, written to a temporary name, checked event by event, made
durable and only then given its name. It is a single self-contained file (no ``-wal`` beside it).

A restore puts such a copy in place as ``journal.db`` while no server runs (it takes the data
folder's lock), keeps the journal it replaces beside it, records the restored head (so the shorter
journal is not mistaken for a damaged one) and rebuilds every projection built from the other history.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import apsw

from .config import Settings
from .datalock import DataDirLock
from .durable import fsync_path
from .events.headmark import write_mark
from .events.journal import Journal, open_connection
from .events.verify import verify_journal

_SIDE_FILES = ("", "-wal", "-shm")


class BackupError(Exception):
    """A backup or restore could not be made; nothing was changed."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    events: int
    head: int
    seconds: float


@dataclass(frozen=True)
class RestoreResult:
    head: int
    replaced: Path | None
    rebuilt: list[str]


def _copy_database(source: Path, dest: Path) -> None:
    """SQLite's online backup of ``source`` into the new file ``dest``, in one step (one snapshot)."""
    src = open_connection(source, readonly=True)
    try:
        out = apsw.Connection(str(dest))
        try:
            with out.backup("main", src, "main") as copy:
                while not copy.done:
                    copy.step(-1)  # every page in one step: one consistent snapshot of the source
            out.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            out.close()
    finally:
        src.close()
    fsync_path(dest)


def backup_journal(journal_path: Path, dest: Path) -> BackupResult:
    """Copy the journal to ``dest`` (a file name, or a folder to put ``journal-<time>.db`` in)."""
    started = time.monotonic()
    if not journal_path.exists():
        raise BackupError(f"no journal at {journal_path}: nothing to back up yet")
    if dest.is_dir():
        dest = dest / time.strftime("journal-%Y%m%d-%H%M%S.db")
    if dest.exists():
        raise BackupError(f"{dest} already exists; choose a new name (a backup never overwrites a file)")
    if not dest.parent.is_dir():
        raise BackupError(f"the folder {dest.parent} does not exist")
    partial = dest.with_name(dest.name + ".partial")
    try:
        _copy_database(journal_path, partial)
        result = verify_journal(partial)
        if not result.ok:
            raise BackupError(f"the copy does not verify ({result.problem}); the journal itself may be damaged:"
                              " run anibridge verify")
        os.replace(partial, dest)
        fsync_path(dest.parent)
    except BaseException:
        for suffix in _SIDE_FILES:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(str(partial) + suffix)
        raise
    return BackupResult(dest, result.checked, result.head, time.monotonic() - started)


def restore_journal(settings: Settings, backup: Path) -> RestoreResult:
    """Make ``backup`` the journal of ``settings.data_dir``; the server must be stopped."""
    from .projections.catalog import CatalogProjection
    from .projections.replay import rebuild_if_stale
    from .projections.tasks import TaskProjection

    if not backup.is_file():
        raise BackupError(f"no backup file at {backup}")
    journal_path = settings.journal_path
    if backup.resolve() == journal_path.resolve():
        raise BackupError(f"{backup} is the journal itself")
    checked = verify_journal(backup)
    if not checked.ok:
        raise BackupError(f"the backup {backup} does not verify: {checked.problem}; nothing was changed")
    lock = DataDirLock(settings.data_dir).acquire()  # DataDirBusy while a server runs
    try:
        incoming = journal_path.with_name(journal_path.name + ".restoring")
        for suffix in _SIDE_FILES:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(str(incoming) + suffix)
        _copy_database(backup, incoming)
        replaced: Path | None = None
        if journal_path.exists():
            # keep what is replaced: the journal with its WAL (a rename keeps the pair together)
            replaced = journal_path.with_name(time.strftime("journal.replaced-%Y%m%d-%H%M%S.db"))
            for suffix in _SIDE_FILES:
                with contextlib.suppress(FileNotFoundError):
                    os.replace(str(journal_path) + suffix, str(replaced) + suffix)
        os.replace(incoming, journal_path)
        fsync_path(journal_path.parent)
        conn = open_connection(journal_path, readonly=True)
        try:
            row = conn.execute("SELECT position, checksum FROM events ORDER BY position DESC LIMIT 1").fetchone()
        finally:
            conn.close()
        head, crc = (int(row[0]), int(row[1])) if row else (0, 0)
        write_mark(journal_path, head, crc)
        rebuilt = []
        with Journal(journal_path) as journal:
            for base, projection in ((settings.catalog_path, CatalogProjection()),
                                     (settings.tasks_path, TaskProjection())):
                if rebuild_if_stale(journal, base, projection):
                    rebuilt.append(projection.name)
        return RestoreResult(head, replaced, rebuilt)
    finally:
        lock.release()

