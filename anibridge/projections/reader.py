"""Read-only access to a projection file for request handlers.

Each thread gets its own read-only connection (WAL snapshots: readers never block the projector
and are never blocked by it). When ``anibridge replay`` swaps in a rebuilt file, reads move to the
new one within ``RECHECK_S`` (well inside the grace period before the old file is deleted).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import apsw

from ..events.journal import open_connection
from .projector import live_file, pointer_path, read_checkpoint, wait_for_position

# How long a look at the pointer file stays good. Request handlers ask for a connection several
# times per request; reading the pointer each time (open + read + close, each releasing the GIL)
# was a large share of a cheap request's cost. ``swap_live_file`` replaces the pointer atomically,
# so a changed (inode, mtime, size) is the signal to read it again.
RECHECK_S = 0.05


class ProjectionReader:
    def __init__(self, base: Path) -> None:
        self.base = base
        self._pointer = pointer_path(base)
        self._local = threading.local()
        # Every live thread's connection, for close(). Weak: a thread that ends takes its connection with it.
        self._opened: weakref.WeakSet[apsw.Connection] = weakref.WeakSet()
        self._opened_lock = threading.Lock()
        # (checked at, pointer stat key, live file): shared by all threads, replaced as one tuple
        self._live: tuple[float, tuple[int, int, int] | None, Path] = (-1.0, None, base)

    def live(self) -> Path:
        """The live file, as of at most ``RECHECK_S`` ago."""
        checked_at, key, current = self._live
        now = time.monotonic()
        if now - checked_at < RECHECK_S:
            return current
        try:
            st = os.stat(self._pointer)
            new_key: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            new_key = None
        if new_key != key or checked_at < 0:
            current = live_file(self.base)
        self._live = (now, new_key, current)
        return current

    def connection(self) -> apsw.Connection:
        local = self._local
        pinned: apsw.Connection | None = getattr(local, "pinned", None)
        if pinned is not None:  # inside snapshot(): every query sees its one read transaction
            return pinned
        current = self.live()
        conn: apsw.Connection | None = getattr(local, "conn", None)
        if conn is None or local.file != current:
            if conn is not None:
                conn.close()
            conn = open_connection(current, readonly=True)
            conn.execute("PRAGMA query_only=1")
            local.conn, local.file = conn, current
            with self._opened_lock:
                self._opened.add(conn)
        return conn

    def close(self) -> None:
        """Close every thread's connection (the owner stops). A read afterwards opens a fresh one."""
        with self._opened_lock:
            opened, self._opened = list(self._opened), weakref.WeakSet()
            self._local = threading.local()
        for conn in opened:  # a thread still reading gets an error, not a file handle kept forever
            with contextlib.suppress(Exception):
                conn.close()

    @contextmanager
    def snapshot(self) -> Iterator[apsw.Connection]:
        """Several queries that must see one consistent state (one read transaction). Every query of
        this thread inside it uses that transaction, through ``connection()``; nesting joins the outer one."""
        outer: apsw.Connection | None = getattr(self._local, "pinned", None)
        if outer is not None:
            yield outer
            return
        conn = self.connection()
        conn.execute("BEGIN")
        self._local.pinned = conn
        try:
            yield conn
        finally:
            self._local.pinned = None
            conn.execute("COMMIT")

    def checkpoint(self) -> int:
        """The last journal position applied to the live file (by whichever process projects it)."""
        return read_checkpoint(self.connection())[0]

    def wait_until(self, position: int, timeout: float = 10.0) -> bool:
        """Read-your-writes for a process that does not run the projector: wait until the file's
        checkpoint reaches ``position`` (the projector of another process applies it)."""
        return wait_for_position(self.checkpoint, position, timeout, max_delay=0.05)
