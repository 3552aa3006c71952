"""Progress display for long commands: a rich bar on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from types import TracebackType

log = logging.getLogger("anibridge.progress")


class Progress:
    def __init__(self, description: str, unit: str = "items", log_every: float = 5.0) -> None:
        self.description = description
        self.unit = unit
        self.log_every = log_every
        self._tty = sys.stderr.isatty()
        self._bar = None
        self._task = None
        self._last_log = 0.0
        self._started = time.monotonic()
        self.done = 0
        self.total: int | None = None

    def __enter__(self) -> Progress:
        if self._tty:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn(self.unit), TimeElapsedColumn(), transient=False)
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=None)
        return self

    def update(self, done: int, total: int | None = None, note: str = "") -> None:
        self.done, self.total = done, total if total is not None else self.total
        if self._bar is not None:
            desc = f"{self.description} {note}".strip()
            self._bar.update(self._task, completed=done, total=self.total, description=desc)
            return
        now = time.monotonic()
        if now - self._last_log >= self.log_every:
            self._last_log = now
            of = f"/{self.total}" if self.total else ""
            rate = done / max(now - self._started, 1e-9)
            log.info("%s: %d%s %s (%.0f/s) %s", self.description, done, of, self.unit, rate, note)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif exc is None:
            log.info("%s: finished, %d %s in %.1f s", self.description, self.done, self.unit,
                     time.monotonic() - self._started)
