"""Catalogue rebuild: a second process writes the episodes while the rebuilding one applies the rest.

Episodes are most of what a rebuild writes, and depend on everything else only through which
``details.recorded`` events apply (their title exists at that point) and when titles are removed.
The rebuilding process sends exactly that, in journal order; this process reads those events from
the journal itself and writes their episodes with ``catalog.write_episodes`` (as applying in place
does) into a side file, copied into the rebuilt file in one pass at the end.

    python -m anibridge.projections.episodes_loader JOURNAL SIDE_FILE    (messages on stdin)
"""

from __future__ import annotations

import contextlib
import gc
import os
import queue
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import apsw
import orjson

from ..events.journal import StoredEvent, open_connection
from ..schema import load_sql
from .catalog import episode_rows, payload, write_episodes

_LENGTH = struct.Struct("<I")
_READ_CHUNK = 2000


def _remove(path: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(str(path) + suffix)


class EpisodesLoader:
    """The rebuilding side: starts the loader process and tells it what to write."""

    def __init__(self, journal: Path, side_file: Path) -> None:
        self._side = side_file
        _remove(side_file)
        self._proc = subprocess.Popen([sys.executable, "-m", __name__, str(journal), str(side_file)],
                                      stdin=subprocess.PIPE)

    def _send(self, message: list[Any]) -> None:
        data = orjson.dumps(message)
        assert self._proc.stdin is not None
        self._proc.stdin.write(_LENGTH.pack(len(data)) + data)

    def recorded(self, items: list[tuple[int, bool]]) -> None:
        """``details.recorded`` events that apply, as (position, whether the title had episodes)."""
        if items:
            self._send(["recorded", items])

    def removed(self, keys: list[tuple[str, str]]) -> None:
        self._send(["removed", keys])

    def finish(self, conn: apsw.Connection) -> None:
        """Wait for the loader, then copy its episodes into ``conn``'s (empty) episodes table."""
        self._send(["end"])
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        code = self._proc.wait()
        if code != 0:
            raise RuntimeError(f"the episodes loader failed (exit status {code})")
        conn.execute("ATTACH ? AS loaded", (str(self._side),))
        try:
            conn.execute("BEGIN IMMEDIATE")
            # The same table and index on both sides: SQLite copies their records as they are.
            conn.execute("INSERT INTO episodes SELECT * FROM loaded.episodes")
            conn.execute("COMMIT")
        finally:
            conn.execute("DETACH loaded")
        _remove(self._side)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._proc.kill()
        self._proc.wait()
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):  # (a broken pipe: the loader is gone)
                self._proc.stdin.close()
        _remove(self._side)


def _details(journal: apsw.Connection) -> Iterator[StoredEvent]:
    after = 0
    while True:
        rows = journal.execute(
            "SELECT position, recorded_at, stream, type, version, payload FROM events"
            " WHERE position > ? AND type = 'details.recorded' ORDER BY position LIMIT ?",
            (after, _READ_CHUNK)).fetchall()
        for row in rows:
            yield StoredEvent(*row)
        if len(rows) < _READ_CHUNK:
            return
        after = rows[-1][0]


def _messages(stream: IO[bytes]) -> Iterator[list[Any]]:
    """The messages on ``stream``, read ahead by a thread: the rebuild never waits for this process
    to take the next one (it can catch up while the rebuild applies events without episodes)."""
    received: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()

    def receive() -> None:
        while head := stream.read(_LENGTH.size):
            (size,) = _LENGTH.unpack(head)
            received.put(stream.read(size))
        received.put(None)

    receiver = threading.Thread(target=receive, name="receive", daemon=True)
    receiver.start()
    while (data := received.get()) is not None:
        yield orjson.loads(data)
    receiver.join()


def load(journal_file: Path, side_file: Path, stream: IO[bytes]) -> bool:
    """Write what the messages on ``stream`` say, up to its end; False if they stopped short."""
    # One thread uses it: no mutexes.
    conn = apsw.Connection(str(side_file),
                           flags=apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE | apsw.SQLITE_OPEN_NOMUTEX)
    # Only the rebuild reads this file, once, after it is complete: no journal, no syncs. Bigger
    # pages: a fraction of the reads and writes once the file outgrows the page cache.
    conn.execute("PRAGMA page_size=65536")
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-32768")
    conn.execute(load_sql("catalog.sql"))
    conn.execute("DROP INDEX episodes_by_first_seen")  # built at the end, in one pass
    journal = open_connection(journal_file, readonly=True)
    events = _details(journal)
    conn.execute("BEGIN")
    complete = False
    for message in _messages(stream):
        kind = message[0]
        if kind == "end":
            complete = True
            continue
        if kind == "removed":
            conn.executemany("DELETE FROM episodes WHERE site = ? AND slug = ?", message[1])
            continue
        rows: list[tuple[Any, ...]] = []
        stale: list[tuple[str, str, int]] = []
        for position, had_episodes in message[1]:
            ev = next(events)
            while ev.position < position:  # a title gone by then: its details did not apply
                ev = next(events)
            p = payload(ev)
            rows += episode_rows(ev, p)
            if had_episodes:
                stale.append((p["site"], p["slug"], position))
        write_episodes(conn, rows, stale, bulk=True)
    if complete:
        conn.execute("COMMIT")
        conn.execute(load_sql("catalog.sql"))  # the episodes' index again
    return complete


def main() -> None:
    journal_file, side_file = (Path(arg) for arg in sys.argv[1:3])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the rebuild stops us
    gc.disable()  # short-lived, and what it allocates is freed by reference counting
    if not load(journal_file, side_file, sys.stdin.buffer):
        _remove(side_file)  # the rebuild stopped
        sys.exit(1)


if __name__ == "__main__":
    main()
