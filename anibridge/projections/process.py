"""A projector running in a child process of its own.

Applying a crawl's events is mostly Python work. In the server process it competes with request
handling for the interpreter lock, and searches wait for a generation's thousands of titles to be
applied. In a child process it runs on the other core instead; the server only reads the file.

The child is the file's one writer, exactly like the in-process ``Projector`` (it runs one). It
shares its checkpoint through shared memory, so ``wait_until`` (read-your-writes) and ``lag``
work as before. It exits when the server stops it, and on its own when the server dies (the pipe
it watches closes). A supervisor thread starts it again if it ever exits unexpectedly.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import threading
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized, SynchronizedArray
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

from ..events.journal import Journal
from .projector import (
    Lag,
    Projection,
    Projector,
    live_file,
    measure_lag,
    open_projection,
    read_checkpoint,
    wait_for_position,
)

log = logging.getLogger("anibridge.projector")

# How often the child looks for events appended by the server (another process, so no wake-up).
POLL_S = 0.02
_ERROR_BYTES = 512
# forkserver: children fork from a clean helper process (never from the threaded server), and after
# the first one they start in milliseconds.
_CTX = multiprocessing.get_context("forkserver")
_CTX.set_forkserver_preload([__name__])


def _child(journal_path: Path, base: Path, projection_type: type[Projection], log_level: str,
           checkpoint: Synchronized, recorded_at: Synchronized, error: SynchronizedArray, stop: EventType,
           parent: Connection) -> None:
    from ..logs import setup_logging

    setup_logging(log_level)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the server stops us
    journal = Journal(journal_path)
    projector = Projector(journal, base, projection_type())

    def publish(message: str) -> None:
        with checkpoint.get_lock():
            recorded_at.value = projector.checkpoint_recorded_at
            checkpoint.value = projector.checkpoint
        error.value = message.encode("utf-8", "replace")[: _ERROR_BYTES - 1]

    try:
        while not stop.is_set() and not parent.poll():  # poll() is true once the server is gone
            try:
                applied = projector.step()
                publish("")
                if applied == 0:
                    journal.wait_for(projector.checkpoint, timeout=0.25, poll=POLL_S)
            except Exception as exc:  # keep going; say what failed and retry
                publish(f"{type(exc).__name__}: {exc}")
                log.exception("%s projection could not apply events after position %d; retrying in 2 s",
                              projector.projection.name, projector.checkpoint)
                stop.wait(2)
    finally:
        projector.stop()
        journal.close()


class ProjectorProcess:
    """Same face as ``Projector`` (start, stop, checkpoint, wait_until, lag, error), work in a child."""

    def __init__(self, journal: Journal, base: Path, projection: Projection, log_level: str = "INFO") -> None:
        self.journal = journal
        self.base = base
        self.projection = projection
        self._log_level = log_level
        # Create the file (or rebuild it on a schema change) here, before anyone reads it.
        conn = open_projection(live_file(base), projection)
        try:
            position, at = read_checkpoint(conn)
        finally:
            conn.close()
        self._checkpoint = _CTX.Value("q", position)
        self._recorded_at = _CTX.Value("d", at)
        self._error = _CTX.Array("c", _ERROR_BYTES)
        self._stop = _CTX.Event()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._alive: Connection | None = None
        self._supervisor: threading.Thread | None = None
        self._stopping = threading.Event()
        self._swap = threading.Lock()  # the supervisor replacing an exited child vs stop()

    @property
    def checkpoint(self) -> int:
        return int(self._checkpoint.value)

    @property
    def error(self) -> str:
        return bytes(self._error.value).decode("utf-8", "replace")

    def start(self) -> None:
        self._spawn()
        self._supervisor = threading.Thread(target=self._supervise, name=f"projector-{self.projection.name}-watch",
                                            daemon=True)
        self._supervisor.start()

    @property
    def alive(self) -> bool:
        """Whether a child applies events, or the supervisor is about to start one again."""
        return self._supervisor is not None and self._supervisor.is_alive()

    def _spawn(self) -> None:
        keep, give = _CTX.Pipe(duplex=False)
        process = _CTX.Process(
            target=_child, name=f"anibridge-projector-{self.projection.name}", daemon=True,
            args=(self.journal.path, self.base, type(self.projection), self._log_level, self._checkpoint,
                  self._recorded_at, self._error, self._stop, keep))
        process.start()
        keep.close()  # the child holds the read end; it sees EOF when `give` closes (we stop or die)
        self._process, self._alive = process, give

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            process = self._process
            if process is None:
                return
            process.join(timeout=0.5)
            if process.exitcode is None or self._stopping.is_set():
                continue
            message = f"projector process exited with code {process.exitcode}; starting it again"
            self._error.value = message.encode()[: _ERROR_BYTES - 1]
            log.error("%s %s", self.projection.name, message)
            if self._stopping.wait(1.0):
                return
            with self._swap:
                if self._stopping.is_set():  # stop() has begun: it takes over the exited child
                    return
                self._close_pipe()
                process.close()  # its pipes; nothing else uses an exited child's process object
                self._process = None
                self._spawn()

    def _close_pipe(self) -> None:
        if self._alive is not None:
            with contextlib.suppress(OSError):
                self._alive.close()
            self._alive = None

    def stop(self) -> None:
        with self._swap:  # from here on the supervisor neither closes nor starts a child
            self._stopping.set()
        self._stop.set()
        process = self._process
        if process is not None:
            process.join(timeout=20)
            if process.exitcode is None:
                log.warning("%s projector process did not stop in time; terminating it", self.projection.name)
                process.terminate()
                process.join(timeout=5)
        self._close_pipe()
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
            if self._supervisor.is_alive():
                return  # it may still look at the child: leave the process object to the collector
        if process is not None and process.exitcode is not None:
            process.close()  # its sentinel pipes: a server started and stopped again and again keeps no fds
            self._process = None

    def wait_until(self, position: int, timeout: float = 10.0) -> bool:
        """Read-your-writes: block until the child has applied ``position``."""
        return wait_for_position(lambda: int(self._checkpoint.value), position, timeout, max_delay=0.02)

    def lag(self) -> Lag:
        return measure_lag(self.journal, self.projection.name, self.checkpoint, live_file(self.base).name)
