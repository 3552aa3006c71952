"""Integrity check of the whole journal: gapless positions and matching checksums."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import apsw

from .headmark import mark_path, read_mark
from .journal import checksum, lost_end_message, open_connection


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    head: int
    first_bad: int | None = None
    problem: str = ""


def verify_journal(path: Path, progress: Callable[[int, int], None] | None = None) -> VerifyResult:
    """Walk every event in position order; stop at the first gap or checksum mismatch. Then check that
    nothing was cut off the end: the journal must still hold the head recorded beside it (``headmark``)."""
    if not path.exists():
        return VerifyResult(False, 0, 0, None, f"no journal at {path}")
    mark = read_mark(path)
    conn = _open_for_check(path)
    try:
        head = int(conn.execute("SELECT max(position) FROM events").fetchone()[0] or 0)
        expected = 1
        checked = 0
        after = 0
        while True:
            rows = conn.execute(
                "SELECT position, stream, type, version, payload, checksum FROM events"
                " WHERE position > ? ORDER BY position LIMIT 5000",
                (after,),
            ).fetchall()
            if not rows:
                break
            for position, stream, type_name, version, payload, crc in rows:
                if position != expected:
                    return VerifyResult(False, checked, head, expected, f"position {expected} is missing")
                if checksum(stream, type_name, version, payload) != crc:
                    return VerifyResult(False, checked, head, position,
                                        f"event {position} ({type_name}) does not match its checksum")
                expected += 1
                checked += 1
            after = rows[-1][0]
            if progress:
                progress(checked, head)
        if mark is not None and mark.position > checked:
            return VerifyResult(False, checked, checked, checked + 1, lost_end_message(checked, mark.position, path))
        if mark is not None and mark.position > 0:
            row = conn.execute("SELECT checksum FROM events WHERE position = ?", (mark.position,)).fetchone()
            if row is None or int(row[0]) != mark.checksum:
                return VerifyResult(False, checked, head, mark.position,
                                    f"event {mark.position} is not the one written there (its checksum differs"
                                    f" from the one recorded in {mark_path(path).name}): an older copy of the"
                                    " journal was put in place and written to")
        return VerifyResult(True, checked, head)
    finally:
        conn.close()


def _open_for_check(path: Path) -> apsw.Connection:
    """A read-only connection; also on read-only media, where a WAL database without its ``-shm``
    file cannot be opened normally (SQLite would have to create the ``-shm``)."""
    conn = open_connection(path, readonly=True)
    try:
        conn.execute("SELECT 1 FROM events LIMIT 1").fetchall()
        return conn
    except apsw.CantOpenError:
        conn.close()
        wal = Path(str(path) + "-wal")
        if os.access(path.parent, os.W_OK) or (wal.exists() and wal.stat().st_size > 0):
            raise
    # Nobody can write to this folder (and no WAL holds events): reading the file as immutable is exact.
    return apsw.Connection(path.resolve().as_uri() + "?immutable=1",
                           flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)
