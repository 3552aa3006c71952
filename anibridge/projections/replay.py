"""Rebuild projections from the journal into fresh files, then swap them in atomically."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import apsw

from ..durable import fsync_path
from ..events.journal import Journal, open_connection
from .projector import (
    REBUILD_BATCH,
    BulkLoading,
    Projection,
    catch_up,
    content_hash,
    live_file,
    open_projection,
    remove_projection_file,
    stale_reason,
    swap_live_file,
)

log = logging.getLogger("anibridge.replay")


@dataclass(frozen=True)
class ReplayResult:
    name: str
    file: Path
    checkpoint: int
    content_hash: str
    seconds: float


def rebuild(journal: Journal, base: Path, projection: Projection,
            progress: Callable[[int, int], None] | None = None, swap: bool = True,
            retire_grace_s: float = 0.5) -> ReplayResult:
    """Build ``projection`` from position 0 into a new file next to ``base``; optionally make it live.

    A running server keeps answering from the old file until the swap and moves over on its own.
    The old file is deleted ``retire_grace_s`` after the swap, so a reader that read the old
    pointer a moment before still finds the file it is about to open.
    """
    started = time.monotonic()
    new = base.with_name(f"{base.stem}.{time.strftime('%Y%m%d%H%M%S')}-{time.monotonic_ns() % 10**6}.db")
    conn = open_projection(new, projection)
    try:
        # Nobody reads this file until it is swapped in, and a failed or killed rebuild just leaves a
        # file to delete: no rollback journal or WAL (each page written once), no fsync per commit,
        # a bigger page cache. WAL mode and durability are restored before the swap.
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-65536")
        bulk = projection.bulk_load(conn, journal) if isinstance(projection, BulkLoading) else contextlib.nullcontext()
        with bulk:
            checkpoint = catch_up(journal, conn, projection, progress, batch_size=REBUILD_BATCH)
        conn.execute("PRAGMA journal_mode=WAL")
        if progress:
            progress(checkpoint, checkpoint)  # the file is complete only now
        digest = content_hash(conn, projection.hash_queries())
        # Events appended while hashing: apply them too, so the server has (almost) nothing to
        # catch up after the swap.
        catch_up(journal, conn, projection, batch_size=REBUILD_BATCH)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # copies into the main file and fsyncs it
        fsync_path(new)  # pages written without a journal are durable only once the file is synced
    except BaseException:
        conn.close()
        remove_projection_file(new)
        raise
    conn.close()
    if swap:
        old = swap_live_file(base, new)
        if old != new:
            time.sleep(retire_grace_s)
            remove_projection_file(old)
    seconds = time.monotonic() - started
    log.info("%s projection rebuilt from %d events in %.1f s (hash %s)", projection.name, checkpoint, seconds,
             digest)
    return ReplayResult(projection.name, new, checkpoint, digest, seconds)



def projection_staleness(journal_path: Path, base: Path) -> str:
    """Why the live file of ``base`` cannot be served as it is ("" when it can, or does not exist yet)."""
    file = live_file(base)
    if not file.exists():
        return ""
    conn = open_connection(file, readonly=True)
    try:
        return stale_reason(conn, journal_path)
    except apsw.SQLError:  # created but never initialised: it has nothing to be stale with
        return ""
    finally:
        conn.close()


def rebuild_if_stale(journal: Journal, base: Path, projection: Projection) -> str:
    """Rebuild ``projection`` from the journal when its live file was built from another history (an
    older journal put in place): its rows would list tasks and titles the journal no longer has, and
    a checkpoint past the head would swallow new events. Returns the reason ("" when it was current)."""
    reason = projection_staleness(journal.path, base)
    if reason:
        log.warning("%s projection (%s) does not match the journal: %s. Rebuilding it from the journal"
                    " (head %d) before serving", projection.name, live_file(base).name, reason, journal.head())
        rebuild(journal, base, projection, retire_grace_s=0.0)
    return reason
