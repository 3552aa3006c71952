"""The projector: follows the journal and applies events to one projection file.

Each projection lives in its own SQLite file with exactly one writer (its projector thread).
The checkpoint (last applied journal position) is written in the same transaction as the rows it
covers, so a crash never applies an event twice or skips one.

Which file is live is named by a small pointer file (``<name>.current``): ``anibridge replay``
builds a fresh file next to the live one and swaps the pointer atomically; projectors and readers
notice the swap and move to the new file, answering from the old one until then.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import apsw

from ..durable import fsync_path
from ..events.journal import Journal, StoredEvent, open_connection
from ..schema import load_sql

log = logging.getLogger("anibridge.projector")

BATCH = 2000
# A rebuild has no readers and no deadline per event: bigger transactions, fewer commits.
REBUILD_BATCH = 10_000


class Projection(Protocol):
    name: str
    schema_file: str
    schema_version: int
    event_types: frozenset[str]

    def apply(self, conn: apsw.Connection, ev: StoredEvent) -> None: ...

    def apply_many(self, conn: apsw.Connection, events: Iterable[StoredEvent]) -> None:
        """Apply events (all of ``event_types``) in order, inside the caller's transaction."""
        ...

    def hash_queries(self) -> list[str]: ...


@runtime_checkable
class BulkLoading(Protocol):
    """A projection that fills a fresh file faster when told it is being rebuilt from the journal."""

    def bulk_load(self, conn: apsw.Connection, journal: Journal) -> contextlib.AbstractContextManager[None]: ...


# --- which file is live -----------------------------------------------------------------------
def pointer_path(base: Path) -> Path:
    return base.with_name(base.stem + ".current")


def live_file(base: Path) -> Path:
    """The projection file currently live for ``base`` (e.g. data/catalog.db)."""
    ptr = pointer_path(base)
    try:
        name = ptr.read_text().strip()
    except FileNotFoundError:
        return base
    return base.with_name(name) if name else base


def swap_live_file(base: Path, new_file: Path) -> Path:
    """Make ``new_file`` live atomically; returns the file that was live before."""
    old = live_file(base)
    ptr = pointer_path(base)
    tmp = ptr.with_name(ptr.name + ".tmp")
    tmp.write_text(new_file.name)
    fsync_path(tmp)
    os.replace(tmp, ptr)
    fsync_path(base.parent)
    return old


def remove_projection_file(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(str(path) + suffix)


# --- the projection file ------------------------------------------------------------------------
def _open_writer(path: Path) -> apsw.Connection:
    conn = open_connection(path)
    conn.execute("PRAGMA synchronous=NORMAL")  # derived data: the journal is the durable copy
    # Bounded page cache: memory must not grow with the catalogue (the OS caches the file anyway).
    conn.execute("PRAGMA cache_size=-8192")
    return conn


def open_projection(path: Path, projection: Projection) -> apsw.Connection:
    """Open (creating if needed) a projection file for writing; rebuild when its schema is stale."""
    conn = _open_writer(path)
    version = _meta(conn, "schema_version")
    if version is not None and version != str(projection.schema_version):
        log.warning("%s projection has schema version %s, this AniBridge uses %s: rebuilding it from the journal",
                    projection.name, version, projection.schema_version)
        conn.close()
        remove_projection_file(path)
        conn = _open_writer(path)
    with _write_transaction(conn):
        conn.execute(load_sql(projection.schema_file))
        conn.execute("INSERT OR IGNORE INTO projection_meta VALUES ('schema_version', ?)",
                     (str(projection.schema_version),))
        conn.execute("INSERT OR IGNORE INTO projection_meta VALUES ('checkpoint', '0')")
        conn.execute("INSERT OR IGNORE INTO projection_meta VALUES ('checkpoint_recorded_at', '0')")
        conn.execute("INSERT OR IGNORE INTO projection_meta VALUES ('checkpoint_checksum', '')")
    return conn


@contextlib.contextmanager
def _write_transaction(conn: apsw.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT: the write lock is taken before the checkpoint is read, so a second
    writer on the same file (a CLI crawl beside the server) waits (busy timeout) instead of failing
    with SQLITE_BUSY_SNAPSHOT when a deferred read transaction tries to become a write."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back already (e.g. disk full)
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _meta(conn: apsw.Connection, key: str) -> str | None:
    try:
        row = conn.execute("SELECT value FROM projection_meta WHERE key = ?", (key,)).fetchone()
    except apsw.SQLError:
        return None
    return None if row is None else row[0]


def read_checkpoint(conn: apsw.Connection) -> tuple[int, float]:
    return int(_meta(conn, "checkpoint") or 0), float(_meta(conn, "checkpoint_recorded_at") or 0)


def stale_reason(conn: apsw.Connection, journal_path: Path) -> str:
    """Why a projection file cannot be served as it is ("" when it can): it was built from events this
    journal does not hold. After an older journal is put in place, a projection may have applied more
    events than the journal has (checkpoint past the head), or other events at the same positions (the
    event at its checkpoint has another checksum). Either way its rows describe another history."""
    checkpoint, recorded_at = read_checkpoint(conn)
    if checkpoint == 0:
        return ""
    recorded_checksum = _meta(conn, "checkpoint_checksum") or ""
    journal = open_connection(journal_path, readonly=True)
    try:
        head = int(journal.execute("SELECT max(position) FROM events").fetchone()[0] or 0)
        if checkpoint > head:
            return f"it has applied events up to position {checkpoint}, but the journal ends at {head}"
        row = journal.execute("SELECT recorded_at, checksum FROM events WHERE position = ?",
                              (checkpoint,)).fetchone()
    finally:
        journal.close()
    if row is None:
        return f"the journal has no event at its checkpoint {checkpoint}"
    if recorded_checksum:
        if int(recorded_checksum) != int(row[1]):
            return f"the journal holds another event at its checkpoint {checkpoint} (checksum differs)"
    elif recorded_at and float(row[0]) != recorded_at:  # a file from before checksums were kept
        return f"the journal holds another event at its checkpoint {checkpoint} (recorded at another time)"
    return ""


def content_hash(conn: apsw.Connection, queries: Iterable[str]) -> str:
    """Deterministic hash of a projection's content (row order fixed by each query's ORDER BY)."""
    h = hashlib.blake2b(digest_size=16)
    for sql in queries:
        h.update(sql.encode())
        for row in conn.execute(sql):
            h.update(repr(row).encode())
            h.update(b"\n")
    return h.hexdigest()


def file_content_hash(path: Path, projection: Projection) -> str:
    """``content_hash`` of a projection file, opened read-only."""
    conn = open_connection(path, readonly=True)
    try:
        return content_hash(conn, projection.hash_queries())
    finally:
        conn.close()


def apply_batch(conn: apsw.Connection, projection: Projection, events: list[StoredEvent],
                through: tuple[int, float, int | None] | None = None) -> tuple[int, float]:
    """Apply events and move the checkpoint, all in one transaction; returns the new checkpoint.

    ``through`` (position, recorded_at, checksum) moves the checkpoint past the last event given, when
    ``events`` are only the wanted ones of a longer stretch of the journal. The checksum of the event
    at the checkpoint is kept with it: it tells a projection built from another journal (an older
    backup put in place) from one built from this one (see ``stale_reason``).
    The checkpoint is re-read inside the write transaction, so a second process following the same
    file (a CLI crawl next to the server) never applies an event twice.
    """
    wanted = projection.event_types
    with _write_transaction(conn):
        checkpoint, recorded_at = read_checkpoint(conn)
        fresh = [ev for ev in events if ev.position > checkpoint]
        last: tuple[int, float, int | None] = (
            (fresh[-1].position, fresh[-1].recorded_at, fresh[-1].checksum) if fresh
            else (checkpoint, recorded_at, None))
        if through is not None and through[0] > last[0]:
            last = (through[0], through[1], through[2] if len(through) > 2 else None)
        if last[0] <= checkpoint:
            return checkpoint, recorded_at
        if fresh:
            projection.apply_many(conn, [ev for ev in fresh if ev.type in wanted])
        conn.execute("UPDATE projection_meta SET value = ? WHERE key = 'checkpoint'", (str(last[0]),))
        conn.execute("UPDATE projection_meta SET value = ? WHERE key = 'checkpoint_recorded_at'",
                     (repr(last[1]),))
        conn.execute("INSERT OR REPLACE INTO projection_meta VALUES ('checkpoint_checksum', ?)",
                     ("" if last[2] is None else str(last[2]),))
        return last[0], last[1]


def catch_up(journal: Journal, conn: apsw.Connection, projection: Projection,
             progress: Callable[[int, int], None] | None = None, stop: threading.Event | None = None,
             batch_size: int | None = None) -> int:
    """Apply everything after the checkpoint up to the current head; returns the new checkpoint.

    Each batch of ``batch_size`` events (default ``BATCH``) is one transaction with its checkpoint.
    """
    size = batch_size or BATCH
    checkpoint, _ = read_checkpoint(conn)
    head = journal.head()
    batch: list[StoredEvent] = []
    for ev in journal.read(after=checkpoint, chunk=min(size, 5000)):
        batch.append(ev)
        if len(batch) >= size:
            checkpoint, _ = apply_batch(conn, projection, batch)
            batch = []
            if progress:
                progress(checkpoint, head)
            if stop is not None and stop.is_set():
                return checkpoint
    if batch:
        apply_batch(conn, projection, batch)
        checkpoint = batch[-1].position
    if progress:
        progress(checkpoint, max(head, checkpoint))
    return checkpoint


@dataclass
class Lag:
    name: str
    head: int
    checkpoint: int
    lag_events: int
    lag_seconds: float
    file: str


def wait_for_position(current: Callable[[], int], position: int, timeout: float, max_delay: float) -> bool:
    """Poll ``current()`` (a checkpoint another thread or process moves) until it reaches ``position``,
    backing off from 1 ms to ``max_delay``; False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while current() < position:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(delay, left))
        delay = min(delay * 2, max_delay)
    return True


def measure_lag(journal: Journal, name: str, checkpoint: int, file: str) -> Lag:
    """How far a projection at ``checkpoint`` is behind the journal, in events and in seconds (the
    age of the oldest event it has not applied yet)."""
    head = journal.head()
    lag_events = max(0, head - checkpoint)
    lag_s = 0.0
    if lag_events:
        nxt = next(iter(journal.read(after=checkpoint, limit=1)), None)
        if nxt is not None:
            lag_s = max(0.0, time.time() - nxt.recorded_at)
    return Lag(name, head, checkpoint, lag_events, round(lag_s, 3), file)


class Projector:
    """Background thread keeping one projection file up to date with the journal."""

    def __init__(self, journal: Journal, base: Path, projection: Projection) -> None:
        self.journal = journal
        self.base = base
        self.projection = projection
        self._cond = threading.Condition()
        self._checkpoint = 0
        self._checkpoint_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._file = live_file(base)
        self._conn = open_projection(self._file, projection)
        self._checkpoint, self._checkpoint_at = read_checkpoint(self._conn)
        self.error: str = ""

    @property
    def checkpoint(self) -> int:
        return self._checkpoint

    @property
    def checkpoint_recorded_at(self) -> float:
        """When the event at the checkpoint was recorded (journal time)."""
        return self._checkpoint_at

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"projector-{self.projection.name}", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Whether the thread applying events runs (False before start and after stop)."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with contextlib.suppress(Exception):
            self._conn.close()

    def _follow_swaps(self) -> bool:
        """Move to a rebuilt file if ``anibridge replay`` swapped one in; True if it did.

        The rebuilt file may be a little behind what this projector already published from the
        old one; it is caught up to that point before anything is published again, so the
        published checkpoint never goes backwards (read-your-writes across a swap).
        """
        current = live_file(self.base)
        if current == self._file:
            return False
        log.info("%s projection: switching to rebuilt file %s", self.projection.name, current.name)
        self._conn.close()
        self._file = current
        self._conn = open_projection(current, self.projection)
        checkpoint, at = read_checkpoint(self._conn)
        while checkpoint < self._checkpoint:
            events = list(self.journal.read(after=checkpoint, limit=BATCH, chunk=BATCH))
            if not events:
                break
            checkpoint, at = apply_batch(self._conn, self.projection, events)
        self._publish(checkpoint, at)
        return True

    def _publish(self, checkpoint: int, recorded_at: float) -> None:
        with self._cond:
            self._checkpoint, self._checkpoint_at = checkpoint, recorded_at
            self._cond.notify_all()

    def step(self) -> int:
        """Apply one batch (if any); returns how many journal positions it moved past (0: up to date)."""
        self._follow_swaps()
        before = self._checkpoint
        events, through = self._next_batch()
        if through is not None:
            applied = apply_batch(self._conn, self.projection, events, through)
            # Swapped while applying? Then that went to the retired file: follow (and catch up) first.
            if not self._follow_swaps():
                self._publish(*applied)
            return max(0, through[0] - before)
        # Another process may have advanced the file (CLI crawl beside the server).
        checkpoint, at = read_checkpoint(self._conn)
        if checkpoint > self._checkpoint:
            self._publish(checkpoint, at)
        return 0

    def _next_batch(self) -> tuple[list[StoredEvent], tuple[int, float, int | None] | None]:
        """The next events this projection applies (SQLite skips the others: a task projection does
        not decode a crawl's thousands of catalogue events) and how far they take the checkpoint."""
        head = self.journal.head()
        if head <= self._checkpoint:
            return [], None
        types = sorted(self.projection.event_types)
        events = [ev for ev in self.journal.read(after=self._checkpoint, limit=BATCH, chunk=BATCH, types=types)
                  if ev.position <= head]
        position = events[-1].position if len(events) == BATCH else head
        if events and events[-1].position == position:
            return events, (position, events[-1].recorded_at, events[-1].checksum)
        at = next(iter(self.journal.read(after=position - 1, limit=1)))
        return events, (position, at.recorded_at, at.checksum)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.step() == 0:
                    self.journal.wait_for(self._checkpoint, timeout=0.5)
                self.error = ""
            except Exception as exc:  # keep serving; say what failed and retry
                self.error = f"{type(exc).__name__}: {exc}"
                log.exception("%s projection could not apply events after position %d; retrying in 2 s",
                              self.projection.name, self._checkpoint)
                self._stop.wait(2)

    def wait_until(self, position: int, timeout: float = 10.0) -> bool:
        """Read-your-writes: block until the projection has applied ``position``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._checkpoint < position:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def lag(self) -> Lag:
        return measure_lag(self.journal, self.projection.name, self._checkpoint, self._file.name)
