"""Read-only access to a projection file for request handlers.

Each thread gets its own read-only connection (WAL snapshots: readers never block the projector
and are never blocked by it). When ``anibridge replay`` swaps in a rebuilt file, the next read
opens the new one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import apsw

from ..events.journal import open_connection
from .projector import live_file


class ProjectionReader:
    def __init__(self, base: Path) -> None:
        self.base = base
        self._local = threading.local()

    def connection(self) -> apsw.Connection:
        current = live_file(self.base)
        conn: apsw.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "file", None) != current:
            if conn is not None:
                conn.close()
            conn = open_connection(current, readonly=True)
            conn.execute("PRAGMA query_only=1")
            self._local.conn, self._local.file = conn, current
        return conn

    @contextmanager
    def snapshot(self) -> Iterator[apsw.Connection]:
        """Several queries that must see one consistent state (one read transaction)."""
        conn = self.connection()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")
