"""Keeps the catalogue fresh: runs each site's stages (titles, details, canonical) at start-up when
needed and then every PROVIDER_INDEX_REFRESH_HOURS (per-site overrides), using ``schedule``."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
import time
from typing import TYPE_CHECKING

import schedule

from .process import CrawlProcess
from .stages import StageRunner

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger("anibridge.scheduler")

FIRST_RETRY_S = 300.0


async def crawl_site(runner: StageRunner, site: str, stages: tuple[str, ...] = ("titles", "details", "canonical"),
                     progress=None) -> list:
    """Run the requested stages of one site in order; a failed stage stops the later ones."""
    results = []
    if "titles" in stages:
        res = await runner.run_titles(site, progress)
        results.append(res)
        if not res.ok and not runner.queries.titles_ready(site):
            return results
    if "details" in stages:
        res = await runner.run_details(site, progress)
        results.append(res)
    if "canonical" in stages:
        from .canonical import run_canonical

        results.append(await run_canonical(runner, site, progress))
    return results


class CrawlScheduler:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self._schedule = schedule.Scheduler()
        self._stop = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._running: dict[str, asyncio.Future] = {}
        self._lock = threading.Lock()
        self.runner = StageRunner(runtime.settings, runtime.journal, runtime.catalog_projector, runtime.catalog)
        self._threads: list[threading.Thread] = []
        self._retry_delay: dict[str, float] = {}
        self._children: dict[str, CrawlProcess] = {}

    def start(self) -> None:
        loop_thread = threading.Thread(target=self._loop.run_forever, name="crawl-loop", daemon=True)
        loop_thread.start()
        for site in self.settings.sites:
            hours = self.settings.refresh_hours(site)
            if hours <= 0:  # *_TITLES_REFRESH_HOURS=0: crawl until complete once, then never on a schedule
                if self._due(site, float("inf")):
                    self.trigger(site)
                log.info("%s: no scheduled catalogue refresh (refresh hours 0)", site)
                continue
            self._schedule.every(hours * 3600).seconds.do(self.trigger, site).tag(site)
            if self._due(site, hours):
                self.trigger(site)
            else:
                log.info("%s: catalogue is fresh; next refresh in %.1f h", site, hours)
        tick = threading.Thread(target=self._tick, name="crawl-scheduler", daemon=True)
        tick.start()
        self._threads = [loop_thread, tick]

    def _due(self, site: str, hours: float) -> bool:
        status = self.runtime.catalog.stage_status().get(site, {})
        for stage in ("titles", "details"):
            st = status.get(stage)
            if st is None or st.get("state") != "ready" or not st.get("last_success_at"):
                return True
            if time.time() - float(st["last_success_at"]) > hours * 3600:
                return True
        # Canonical never ran, or a crash interrupted it: finish the crawl now, not at the next refresh.
        canonical = status.get("canonical")
        return canonical is None or canonical.get("state") not in ("ready", "failed")

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            self._schedule.run_pending()

    def trigger(self, site: str) -> bool:
        """Start a crawl of ``site`` now unless one is running; returns whether it started."""
        with self._lock:
            running = self._running.get(site)
            if running is not None and not running.done():
                return False
            fut = asyncio.run_coroutine_threadsafe(self._crawl(site), self._loop)
            self._running[site] = fut  # type: ignore[assignment]
            return True

    async def _crawl(self, site: str) -> None:
        try:
            if self.settings.crawl_process:
                await asyncio.to_thread(self._crawl_in_child, site)
            else:
                await crawl_site(self.runner, site)
        except Exception:
            log.exception("%s: catalogue crawl stopped by an unexpected error", site)
        await asyncio.to_thread(self.runtime.catalog_projector.wait_until, self.runtime.journal.head(), 30)
        if self.runtime.catalog.titles_ready(site):
            self._retry_delay.pop(site, None)
            return
        # Never indexed yet: waiting a whole refresh interval would leave the site unsearchable for a
        # day, so retry sooner, backing off (5 min, 10, 20, ... up to the refresh interval).
        refresh = self.settings.refresh_hours(site) * 3600 or 24 * 3600.0
        delay = min(refresh, self._retry_delay.get(site, FIRST_RETRY_S / 2) * 2)
        self._retry_delay[site] = delay
        log.warning("%s: no catalogue yet; retrying the crawl in %d min", site, round(delay / 60))

        def retry_once() -> schedule.CancelJob:
            self.trigger(site)
            return schedule.CancelJob()

        with self._lock:
            self._schedule.every(delay).seconds.do(retry_once).tag(site, "retry")

    def _crawl_in_child(self, site: str) -> None:
        if self._stop.is_set():
            return
        child = CrawlProcess(self.settings, site)
        self._children[site] = child
        if self._stop.is_set():  # stop() ran while the child was starting: it did not see this one
            child.stop()
        try:
            code = child.wait()
        finally:
            self._children.pop(site, None)
        if code not in (0, 1) and not self._stop.is_set():  # 1: a stage failed, and said why itself
            log.error("%s: the crawl process ended with exit code %s", site, code)

    def next_run(self, site: str) -> float | None:
        jobs = [j for j in self._schedule.get_jobs(site) if j.next_run]
        if not jobs:
            return None
        nxt: dt.datetime = min(j.next_run for j in jobs)  # type: ignore[type-var]
        return nxt.timestamp()

    def is_running(self, site: str) -> bool:
        fut = self._running.get(site)
        return fut is not None and not fut.done()

    def stop(self) -> None:
        self._stop.set()
        for child in list(self._children.values()):
            child.stop()
        for fut in self._running.values():
            fut.cancel()
        if self._threads:  # started: let the cancelled crawls unwind on the loop before it stops
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(_unwind(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        for t in self._threads:
            t.join(timeout=10)
        if not any(t.is_alive() for t in self._threads):
            self._loop.close()  # its selector and wake-up socket pair


async def _unwind() -> None:
    """Wait (a little) for every other task of this loop to finish: cancelled crawls closing their clients."""
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    if others:
        await asyncio.wait(others, timeout=5)
