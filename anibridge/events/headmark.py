"""The journal's head, recorded beside it after every commit (``journal.db-head``).

SQLite drops a damaged end of its write-ahead log without a word (a torn or flipped last frame
loses the last commits), and an older copy of the journal put in place looks like a shorter, healthy
journal. Neither can be seen from inside the file. This small record can: the position and checksum
of the last event committed. A journal that ends before the recorded position, or holds another
event there, has lost its end.

The record is written after the commit is durable, so it never names an event the journal does not
hold (it may lag behind after a power cut, or when two processes append at once and the one with
the lower position writes last: that only weakens the check, it never raises a false alarm). It is
one fixed-size ``pwrite`` with its own CRC: a torn record is ignored, not trusted.
"""

from __future__ import annotations

import contextlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

_SIZE = 48


@dataclass(frozen=True, slots=True)
class HeadMark:
    position: int
    checksum: int


def mark_path(journal_path: Path) -> Path:
    return journal_path.with_name(journal_path.name + "-head")


def _encode(position: int, checksum: int) -> bytes:
    body = f"{position:020d} {checksum:010d} "
    line = f"{body}{zlib.crc32(body.encode()):08x}"
    return line.ljust(_SIZE - 1).encode() + b"\n"


def read_mark(journal_path: Path) -> HeadMark | None:
    """The recorded head, or None when there is none (a fresh or older data folder) or it is torn."""
    try:
        raw = mark_path(journal_path).read_bytes()[:_SIZE].decode("ascii")
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    parts = raw.split()
    if len(parts) != 3:
        return None
    position, checksum, crc = parts
    body = f"{position} {checksum} "
    if not (position.isdigit() and checksum.isdigit()) or f"{zlib.crc32(body.encode()):08x}" != crc:
        return None
    return HeadMark(int(position), int(checksum))


def write_mark(journal_path: Path, position: int, checksum: int) -> None:
    """Set the record durably (``anibridge restore``, and a journal's first open with this release).

    Written in place, never replaced by a rename: a running process keeps the file open and must go on
    writing to the same file (a rename would leave it writing to a deleted one)."""
    fd = os.open(mark_path(journal_path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        os.pwrite(fd, _encode(position, checksum), 0)
        os.fsync(fd)
    finally:
        os.close(fd)


class HeadRecorder:
    """Keeps the record open and overwrites it in place after each commit (one small pwrite, no fsync:
    the journal's own fsync is what makes the events durable)."""

    def __init__(self, journal_path: Path) -> None:
        self._fd = os.open(mark_path(journal_path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def record(self, position: int, checksum: int) -> None:
        os.pwrite(self._fd, _encode(position, checksum), 0)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)
