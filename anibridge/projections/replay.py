"""Rebuild projections from the journal into fresh files, then swap them in atomically."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..events.journal import Journal
from .projector import Projection, catch_up, content_hash, open_projection, remove_projection_file, swap_live_file

log = logging.getLogger("anibridge.replay")


@dataclass(frozen=True)
class ReplayResult:
    name: str
    file: Path
    checkpoint: int
    content_hash: str
    seconds: float


def rebuild(journal: Journal, base: Path, projection: Projection,
            progress: Callable[[int, int], None] | None = None, swap: bool = True) -> ReplayResult:
    """Build ``projection`` from position 0 into a new file next to ``base``; optionally make it live.

    A running server keeps answering from the old file until the swap and moves over on its own.
    """
    started = time.monotonic()
    new = base.with_name(f"{base.stem}.{time.strftime('%Y%m%d%H%M%S')}-{time.monotonic_ns() % 10**6}.db")
    conn = open_projection(new, projection)
    try:
        checkpoint = catch_up(journal, conn, projection, progress)
        digest = content_hash(conn, projection.hash_queries())
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    if swap:
        old = swap_live_file(base, new)
        if old != new:
            remove_projection_file(old)
    seconds = time.monotonic() - started
    log.info("%s projection rebuilt from %d events in %.1f s (hash %s)", projection.name, checkpoint, seconds,
             digest)
    return ReplayResult(projection.name, new, checkpoint, digest, seconds)
