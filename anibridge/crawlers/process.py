"""Scheduled crawls run in a child process, at a lower CPU priority than the server.

A crawl is mostly Python work: parsing provider pages, hashing, matching against SkyHook. In the
server process it would hold the interpreter lock that request handling needs, and a Sonarr search
would wait for page parsing. In a child it runs beside the server, and with ``CRAWL_NICE`` the
kernel gives the server's requests (and the catalogue projector) the CPU first; the crawl uses
what is left. On a 2-core box under bench/torznab.py's load that took search p99 from 35 ms to 22.

The child appends to the journal like ``anibridge crawl`` does, and reads the catalogue file the
server's projector writes (it waits for that file's checkpoint, it never projects itself). It
exits when the crawl is done, and on its own if the server dies (the pipe it watches closes).
Killing it at any point loses nothing: every journal append is one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from multiprocessing.connection import Connection

from ..config import Settings

log = logging.getLogger("anibridge.scheduler")

_CTX = multiprocessing.get_context("forkserver")


def lower_priority(nice: int) -> None:
    """Be nicer to the CPU by ``nice`` steps (0: unchanged). Crawls are background work."""
    if nice > 0:
        try:
            os.nice(nice)
        except OSError as exc:  # not permitted in some sandboxes; the crawl still runs
            log.warning("could not lower the crawl's CPU priority (CRAWL_NICE=%d): %s", nice, exc)


def _exit_when_parent_dies(parent: Connection) -> None:
    with contextlib.suppress(EOFError, OSError):
        parent.recv()  # never sent: raises EOFError when the server's end closes
    os._exit(3)


def _child(settings: Settings, site: str, stages: tuple[str, ...], parent: Connection) -> None:
    lower_priority(settings.crawl_nice)
    from ..events import Journal
    from ..logs import setup_logging
    from ..projections.queries import CatalogQueries
    from ..projections.reader import ProjectionReader
    from .scheduler import crawl_site
    from .stages import StageRunner

    setup_logging(settings.log_level)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the server stops us
    threading.Thread(target=_exit_when_parent_dies, args=(parent,), name="parent-watch", daemon=True).start()
    journal = Journal(settings.journal_path)
    catalog = ProjectionReader(settings.catalog_path)
    try:
        runner = StageRunner(settings, journal, catalog, CatalogQueries(catalog))
        results = asyncio.run(crawl_site(runner, site, stages))
    finally:
        journal.close()
    raise SystemExit(0 if all(r.ok for r in results) else 1)


class CrawlProcess:
    """One crawl of one site in a child process."""

    def __init__(self, settings: Settings, site: str,
                 stages: tuple[str, ...] = ("titles", "details", "canonical")) -> None:
        keep, give = _CTX.Pipe(duplex=False)
        self.process = _CTX.Process(target=_child, name=f"anibridge-crawl-{site}", daemon=True,
                                    args=(settings, site, stages, keep))
        self.process.start()
        keep.close()  # the child holds the read end; it sees EOF when `_alive` closes (we stop or die)
        self._alive = give
        # wait() and stop() run in different threads: one at a time touches the process object, and
        # the pipe and the process object are closed exactly once (a descriptor closed twice closes
        # whatever reused its number in between).
        self._lock = threading.Lock()
        self._exitcode: int | None = None
        self._released = False
        self.site = site

    def wait(self) -> int | None:
        """Block until the crawl ends; its exit code (0: every stage ok)."""
        while True:
            with self._lock:
                if self._released:
                    return self._exitcode
                self.process.join(0.2)
                if self.process.exitcode is not None:
                    self._release()
                    return self._exitcode

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            if self._released:
                return
            if self.process.exitcode is None:
                self.process.terminate()
                self.process.join(timeout)
                if self.process.exitcode is None:
                    self.process.kill()
                    self.process.join(5)
            if self.process.exitcode is not None:
                self._release()
            else:  # not even SIGKILL ended it (yet): the pipe at least tells it the server is gone
                self._alive.close()

    def _release(self) -> None:
        """The child has exited: close our end of its pipe and its process object (the lock is held)."""
        self._exitcode = self.process.exitcode
        self._alive.close()
        self.process.close()
        self._released = True
