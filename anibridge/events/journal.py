"""The append-only journal: one SQLite file (apsw, WAL, synchronous=FULL), one appender thread.

Callers submit batches from any thread; the appender drains every batch waiting at that moment
into a single transaction (group commit: many batches, one fsync) and hands each caller its
positions once the commit is durable. Readers use their own connections and never block it.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
import weakref
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw
import orjson

from ..schema import load_sql
from .headmark import HeadRecorder, mark_path, read_mark, write_mark
from .registry import Event, decode, encode

log = logging.getLogger("anibridge.journal")

_BUSY_TIMEOUT_MS = 30_000
# A group commit never takes more than this many events, so one huge batch cannot starve others
# of durability for long; batches are never split.
_GROUP_LIMIT = 50_000
# Events checked (checksums, no gaps) at the end of the journal each time it is opened: what a
# crash, a full disk or a damaged WAL could have touched, in a few milliseconds.
TAIL_CHECK = 2000


class JournalClosed(Exception):
    pass


class JournalDamaged(Exception):
    """The journal cannot be trusted at ``position``: an event does not match its checksum, a position
    is missing, or events the journal once held are gone from its end. Nothing is built on it."""

    def __init__(self, position: int, problem: str) -> None:
        super().__init__(f"the journal is damaged at position {position}: {problem}")
        self.position = position
        self.problem = problem


def checksum(stream: str, type_name: str, version: int, payload: bytes) -> int:
    head = f"{stream}\x1f{type_name}\x1f{version}\x1f".encode()
    return zlib.crc32(payload, zlib.crc32(head))


@dataclass(frozen=True, slots=True)
class StoredEvent:
    position: int
    recorded_at: float
    stream: str
    type: str
    version: int
    payload: bytes
    checksum: int | None = None  # as stored; None where a reader did not ask for it

    @property
    def event(self) -> Event:
        """The typed event (upcast to the current version)."""
        return decode(self.type, self.version, self.payload)

    def data(self) -> dict[str, Any]:
        """The payload as a dict, upcast and validated through its model."""
        return self.event.model_dump()

    def raw(self) -> dict[str, Any]:
        """The payload as stored, without validation: for hot paths that know the version."""
        return orjson.loads(self.payload)


@dataclass(slots=True)
class _Pending:
    rows: list[tuple[str, str, int, bytes, int]]
    future: Future[list[int]]


@contextlib.contextmanager
def _write_transaction(conn: apsw.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT. Taking the write lock up front (rather than apsw's deferred
    savepoint) lets the busy timeout wait for another process's writer; a deferred transaction
    that read first fails at once with SQLITE_BUSY when it tries to upgrade to a write."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def open_connection(path: Path, *, readonly: bool = False) -> apsw.Connection:
    flags = apsw.SQLITE_OPEN_READONLY if readonly else apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
    conn = apsw.Connection(str(path), flags=flags)
    conn.set_busy_timeout(_BUSY_TIMEOUT_MS)
    if not readonly:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
    return conn


class Journal:
    """Append-only event log. Thread-safe; one instance per process per file.

    Opening it checks its end (``check_tail``) and raises ``JournalDamaged`` rather than let anything
    append to, or build on, a journal that lost events or holds a broken one."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._cond = threading.Condition()
        self._closed = False
        self._submit_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._type_counts: dict[str, int] = {}
        self._counted_to = 0
        # Why the last commit failed ("" once one succeeds): the journal cannot store anything new.
        self.write_error = ""
        writer = open_connection(self.path)
        try:
            with _write_transaction(writer):
                writer.execute(load_sql("journal.sql"))
            self._head = check_tail(writer, self.path)
            self._recorder = HeadRecorder(self.path)
        except BaseException:
            writer.close()
            raise
        self._writer = writer
        self._local = threading.local()
        # Every live thread's reading connection, closed by close(). Weak: a thread that ends takes its
        # connection (and its files) with it; server worker threads come and go for as long as it runs.
        self._readers: weakref.WeakSet[apsw.Connection] = weakref.WeakSet()
        self._thread = threading.Thread(target=self._run, name="journal-appender", daemon=True)
        self._thread.start()

    # --- writing ---------------------------------------------------------------------------------
    def submit(self, events: Sequence[Event]) -> Future[list[int]]:
        """Queue a batch; the future resolves to its positions once the batch is durable."""
        rows = []
        for ev in events:
            payload = encode(ev)
            stream = ev.stream()
            crc = checksum(stream, ev.type_name, ev.version, payload)
            rows.append((stream, ev.type_name, ev.version, payload, crc))
        fut: Future[list[int]] = Future()
        if not rows:
            fut.set_result([])
            return fut
        with self._submit_lock:  # no batch may slip in behind the stop marker
            if self._closed:
                raise JournalClosed("journal is closed")
            self._queue.put(_Pending(rows, fut))
        return fut

    def append(self, events: Sequence[Event], timeout: float | None = None) -> list[int]:
        """Append a batch atomically; returns its positions only after it is durable."""
        return self.submit(events).result(timeout)

    def append_one(self, event: Event) -> int:
        return self.append([event])[0]

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            count = len(first.rows)
            stop = False
            while count < _GROUP_LIMIT:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                group.append(nxt)
                count += len(nxt.rows)
            self._commit(group)
            if stop:
                return

    def _commit(self, group: list[_Pending]) -> None:
        now = time.time()
        try:
            with _write_transaction(self._writer):  # BEGIN IMMEDIATE ... COMMIT (or ROLLBACK on error)
                # Another process may have appended since our last commit: re-read the head inside
                # the write transaction so positions stay exact.
                start = self._read_head(self._writer) + 1
                pos = start
                rows: list[tuple[Any, ...]] = []
                results: list[list[int]] = []
                for pending in group:
                    results.append(list(range(pos, pos + len(pending.rows))))
                    for stream, type_name, version, payload, crc in pending.rows:
                        rows.append((pos, now, stream, type_name, version, payload, crc))
                        pos += 1
                self._writer.executemany(
                    "INSERT INTO events (position, recorded_at, stream, type, version, payload, checksum)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        except Exception as exc:  # the whole group failed; nothing of it is in the journal
            self.write_error = f"{type(exc).__name__}: {exc}"
            log.error("could not write %d events to the journal: %s", sum(len(p.rows) for p in group), exc)
            for pending in group:
                pending.future.set_exception(exc)
            return
        self.write_error = ""
        with self._cond:
            self._head = pos - 1
            self._cond.notify_all()
        try:
            self._recorder.record(pos - 1, rows[-1][6])
        except OSError as exc:  # the events are durable; only the check of a lost end is weaker
            log.warning("could not record the journal head in %s: %s", mark_path(self.path), exc)
        for pending, positions in zip(group, results, strict=True):
            pending.future.set_result(positions)

    # --- reading ---------------------------------------------------------------------------------
    @staticmethod
    def _read_head(conn: apsw.Connection) -> int:
        row = conn.execute("SELECT max(position) FROM events").fetchone()
        return int(row[0] or 0)

    def _reader(self) -> apsw.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = open_connection(self.path, readonly=True)
            self._local.conn = conn
            with self._stats_lock:
                self._readers.add(conn)
        return conn

    def head(self) -> int:
        """Last durable position, including appends by other processes."""
        current = self._read_head(self._reader())
        with self._cond:
            if current > self._head:
                self._head = current
            return self._head

    def read(self, after: int = 0, limit: int | None = None, *, chunk: int = 2000,
             types: Sequence[str] | None = None, verify: bool = True) -> Iterator[StoredEvent]:
        """Stream events with position > ``after`` in order, ``chunk`` rows per query.

        Memory stays bounded by the chunk size whatever the journal's size. With ``verify`` (the
        default) every event is checked against its checksum, and, when all types are read, that no
        position is missing: ``JournalDamaged`` names the first bad position. (A CRC per event: about
        a microsecond, a few percent of what applying it costs.)
        """
        conn = self._reader()
        remaining = limit if limit is not None else -1
        type_filter = ""
        args: list[Any] = []
        if types:
            type_filter = f" AND type IN ({','.join('?' * len(types))})"
            args = list(types)
        expected = after + 1 if verify and not types else None
        while remaining != 0:
            n = chunk if remaining < 0 else min(chunk, remaining)
            rows = conn.execute(
                "SELECT position, recorded_at, stream, type, version, payload, checksum FROM events"
                f" WHERE position > ?{type_filter} ORDER BY position LIMIT ?",
                (after, *args, n),
            ).fetchall()
            for row in rows:
                if verify:
                    if expected is not None:
                        if row[0] != expected:
                            raise JournalDamaged(expected, f"position {expected} is missing")
                        expected += 1
                    if checksum(row[2], row[3], row[4], row[5]) != row[6]:
                        raise JournalDamaged(row[0], f"event {row[0]} ({row[3]}) does not match its checksum")
                yield StoredEvent(*row)
            if len(rows) < n:
                return
            after = rows[-1][0]
            if remaining > 0:
                remaining -= len(rows)

    def wait_for(self, after: int, timeout: float, poll: float = 0.25) -> int:
        """Block until the head passes ``after`` or ``timeout`` elapses; returns the head.

        Appends from this process wake waiters at once; appends from another process (a CLI crawl
        next to the server) are noticed by a cheap re-check every ``poll`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._head <= after and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, poll))
                if self._head <= after:
                    self._cond.release()
                    try:
                        current = self._read_head(self._reader())
                    finally:
                        self._cond.acquire()
                    self._head = max(self._head, current)
            return self._head

    def stats(self) -> dict[str, Any]:
        """Head, size on disk and events per type. Counts are kept incrementally: each call only
        counts what was appended since the previous one, so the admin endpoint stays cheap."""
        conn = self._reader()
        with self._stats_lock:
            rows = conn.execute("SELECT type, count(*), max(position) FROM events WHERE position > ? GROUP BY type",
                                (self._counted_to,)).fetchall()
            for type_name, count, last in rows:
                self._type_counts[type_name] = self._type_counts.get(type_name, 0) + count
                self._counted_to = max(self._counted_to, last)
            per_type = dict(sorted(self._type_counts.items()))
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return {"head": self.head(), "size_bytes": size, "events_per_type": per_type}

    @property
    def writer_alive(self) -> bool:
        """Whether the appender thread runs (it ends only when the journal is closed)."""
        return self._thread.is_alive()

    def close(self) -> None:
        with self._submit_lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join(timeout=30)
        with self._stats_lock:
            readers, self._readers = list(self._readers), weakref.WeakSet()
            self._local = threading.local()  # a read after close opens a fresh connection
        for conn in readers:  # (a thread still reading gets an error, not a file handle kept forever)
            with contextlib.suppress(Exception):
                conn.close()
        # Move every event from the WAL into journal.db itself, so a clean stop leaves one complete
        # file (what a backup of journal.db alone holds). Busy readers elsewhere just leave it for later.
        with contextlib.suppress(Exception):
            self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        with contextlib.suppress(Exception):
            self._writer.close()
        self._recorder.close()
        with self._cond:
            self._cond.notify_all()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_tail(conn: apsw.Connection, path: Path, count: int = TAIL_CHECK) -> int:
    """Check the journal's end; returns its head or raises ``JournalDamaged``.

    The last ``count`` events must match their checksums with no position missing, and the journal
    must still hold the head recorded in ``journal.db-head`` (see ``headmark``). A journal without
    a record (fresh, or from an earlier release) gets one.
    """
    mark = read_mark(path)  # before the head: a commit racing this check can only make the head larger
    conn.execute("BEGIN")
    try:
        row = conn.execute("SELECT position, checksum FROM events ORDER BY position DESC LIMIT 1").fetchone()
        head, last_checksum = (int(row[0]), int(row[1])) if row else (0, 0)
        if mark is not None and mark.position > head:
            raise JournalDamaged(head + 1, lost_end_message(head, mark.position, path))
        if mark is not None and mark.position > 0:
            at = conn.execute("SELECT checksum FROM events WHERE position = ?", (mark.position,)).fetchone()
            if at is None or int(at[0]) != mark.checksum:
                raise JournalDamaged(mark.position, f"event {mark.position} is not the one written there (its"
                                     f" checksum differs from the one recorded in {mark_path(path).name}):"
                                     " an older copy of the journal was put in place and written to")
        expected = max(1, head - count + 1)
        for position, stream, type_name, version, payload, crc in conn.execute(
                "SELECT position, stream, type, version, payload, checksum FROM events WHERE position >= ?"
                " ORDER BY position", (expected,)):
            if position != expected:
                raise JournalDamaged(expected, f"position {expected} is missing")
            if checksum(stream, type_name, version, payload) != crc:
                raise JournalDamaged(position, f"event {position} ({type_name}) does not match its checksum")
            expected += 1
    finally:
        conn.execute("COMMIT")
    if mark is None and head and not mark_path(path).exists():  # (a torn record is left to the next commit)
        write_mark(path, head, last_checksum)
    return head


def lost_end_message(head: int, recorded: int, path: Path) -> str:
    name = mark_path(path).name
    if head == 0:
        return (f"it is empty, but position {recorded} was written before (recorded in {name}): journal.db was"
                f" deleted or replaced by an empty one. To start over on purpose, delete {name} too; to go on"
                " from a backup, use anibridge restore")
    gone = f"event {recorded} is" if recorded == head + 1 else f"events {head + 1}..{recorded} are"
    return (f"it ends at position {head}, but position {recorded} was written before (recorded in"
            f" {name}): {gone} gone from its end (a damaged write-ahead log, or an older"
            " copy of journal.db put in place; to go on from an older backup on purpose, use anibridge restore)")
