"""The download worker: runs queued tasks from the task projection, at most MAX_CONCURRENCY at once.

One scheduler thread reconciles what should run (the projection's queued/downloading, not paused
tasks) with what runs, every second or at once when the API wakes it. Each download is a job thread:
resolve the episode page to hosters, try hosts in order (each bounded by
PROVIDER_DIRECT_LINK_TIMEOUT_SECONDS), download with yt-dlp into a staging folder, then publish
``DOWNLOAD_DIR/<category>/<release>/<release>.<ext>`` atomically. A job's life is recorded as
TaskStarted / TaskProgress (coalesced) / TaskCompleted / TaskFailed events.

Pausing or deleting cancels a running job without recording anything: the projection already says
what happened. A crash leaves the task queued or downloading, so the next start runs it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, TypeVar

import apsw

from ..config import SITES
from ..crawlers.site_state import drain_events
from ..events.types import TaskCompleted, TaskFailed, TaskProgress, TaskResumed, TaskStarted
from ..releases import STRM_MODE, STRM_SUFFIX, naming_of, quality_tag, release_title
from . import placement
from . import tasks as task_cmds
from .cleanup import Cleanup
from .failure_marker import write_marker
from .files import _is_traversal
from .hosts import DirectLink, HostError
from .resolve import (
    EpisodeRef,
    PlayChallenge,
    ResolveError,
    direct_link,
    find_hosters,
    resolver_client,
    resolver_fetcher,
)
from .strm import strm_content, write_strm
from .ytdlp import DownloadCancelled, DownloadFailed, DownloadLimits, DownloadResult, download

if TYPE_CHECKING:
    from ..events.registry import Event
    from ..runtime import Runtime

log = logging.getLogger("anibridge.downloads")

T = TypeVar("T")
PROGRESS_INTERVAL = 3.0
POLL_INTERVAL = 1.0
DOWNLOAD_SOCKET_TIMEOUT = 30.0
_QUALITY = re.compile(r"(?<=\.)(?:2160p|1440p|1080p|720p|576p|480p)(?=\.)")
_EPISODE_TAG = re.compile(r"(?<![A-Za-z0-9])S(\d{1,4})E(\d{1,5})(?![0-9])", re.IGNORECASE)


class Cancelled(Exception):
    pass


@dataclass(slots=True)
class Live:
    """In-memory figures of a running download, overlaid on the projection by ``torrents/info``."""

    downloaded: int = 0
    total: int = 0
    speed: float = 0.0
    host: str = ""
    updated: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class Job:
    task: task_cmds.TaskRow
    cancel: threading.Event = field(default_factory=threading.Event)
    delete_files: bool = False
    finishing: bool = False  # its final event is being recorded: the projection may say "completed"
    thread: threading.Thread | None = None


class DownloadWorker:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.live: dict[str, Live] = {}
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.cleanup = Cleanup(runtime)

    # --- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="download-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Cancel running downloads without recording anything: they restart on the next start."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel.set()
        for job in jobs:
            if job.thread is not None:
                job.thread.join(timeout=15)
        if self._thread is not None:
            self._thread.join(timeout=15)

    def wake(self) -> None:
        self._wake.set()

    def cancel(self, task_hash: str, delete_files: bool = False) -> None:
        with self._lock:
            job = self._jobs.get(task_hash)
        if job is not None:
            job.delete_files = job.delete_files or delete_files
            job.cancel.set()
        self._wake.set()

    def running(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    # --- scheduling --------------------------------------------------------------------------------
    def _loop(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                if first:
                    # Run nothing before the task table has caught up with the journal: a task completed
                    # just before a crash must not look queued and be downloaded again.
                    head = self.runtime.journal.head()
                    if not self.runtime.task_projector.wait_until(head, timeout=POLL_INTERVAL):
                        log.info("waiting for the task projection to catch up (position %d)", head)
                        continue
                    self._clean_staging()
                    first = False
                self._retry_due()
                self._reconcile()
                self.cleanup.tick()
            except Exception:
                log.exception("download scheduler failed; retrying")
            self._wake.wait(POLL_INTERVAL)
            self._wake.clear()

    def _reconcile(self) -> None:
        wanted = task_cmds.runnable_tasks(self.runtime)  # in queue order, forced ones first
        forced = {t.hash for t in wanted if t.forced}
        with self._lock:
            wanted_hashes = {t.hash for t in wanted}
            for task_hash, job in self._jobs.items():
                if task_hash not in wanted_hashes and not job.cancel.is_set() and not job.finishing:
                    log.info("stopping the download of %s (paused or deleted)", job.task.name)
                    job.cancel.set()
            # forced downloads (qBittorrent's force start) do not count towards MAX_CONCURRENCY; they have
            # MAX_CONCURRENCY more slots of their own (downloads/queue.py says why)
            limit = self.settings.max_concurrency
            running = {True: sum(1 for h in self._jobs if h in forced), False: sum(1 for h in self._jobs
                                                                                   if h not in forced)}
            for task in wanted:
                if self._stop.is_set():
                    break
                if task.hash in self._jobs or running[task.forced] >= limit:
                    continue
                running[task.forced] += 1
                job = Job(task)
                job.thread = threading.Thread(target=self._run_job, args=(job,), name=f"download-{task.hash[:8]}",
                                              daemon=True)
                self._jobs[task.hash] = job
                job.thread.start()

    def _retry_due(self) -> None:
        """Downloads failed by a passing fault go back into the queue once their retry is due."""
        due = task_cmds.due_retries(self.runtime, time.time())
        if due:
            log.info("trying %d download(s) again that failed by a passing fault", len(due))
            task_cmds.commit(self.runtime, [TaskResumed(hash=h, automatic=True) for h in due])

    def _clean_staging(self) -> None:
        """Remove staging folders left by a crash for tasks that will not run again."""
        placement.clean_staging(self.runtime, {t.hash for t in task_cmds.runnable_tasks(self.runtime)})

    # --- one job -----------------------------------------------------------------------------------
    def _run_job(self, job: Job) -> None:
        task = job.task
        last = 0
        try:
            last = self._download(job)
        except Cancelled:
            log.info("download of %s stopped", task.name)
        except Exception as exc:  # never lose a task to a bug: record it as failed with the reason
            log.exception("download of %s failed unexpectedly", task.name)
            if not job.cancel.is_set():
                last = self._record_failure(job, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            placement.remove_staging(self.runtime, task.hash)
            if last:
                self.runtime.task_projector.wait_until(last, 10)
            self.live.pop(task.hash, None)
            with self._lock:
                self._jobs.pop(task.hash, None)
            self._wake.set()

    def _record(self, events: list[Event]) -> int:
        return self.runtime.journal.append(events)[-1]

    def _download(self, job: Job) -> int:
        task = job.task
        ref = EpisodeRef(task.site, task.slug, task.season, task.episode, task.language, task.provider)
        timeout = self.settings.provider_direct_link_timeout_seconds
        started = time.monotonic()
        try:
            placement.staging_root(self.runtime)
        except placement.StagingError as exc:
            return self._fail(job, exc.reason)
        if (low := self._low_disk()) is not None:
            return self._fail(job, low)
        log.info("resolving %s (%s S%02dE%02d %s on %s)", task.name, task.slug, task.season, task.episode,
                 task.language, task.site)
        if task.site == "megakino":  # a download before any crawl must still find this week's domain
            self.runtime.megakino.ensure_checked()
        with _Loop() as loop:
            page_deadline = min(max(timeout, 10.0), self.settings.provider_fetch_deadline_seconds)
            fetcher = resolver_fetcher(self.settings, task.site, self._catalog_conn(), concurrency=2,
                                       max_retries=self.settings.provider_redirect_retries,
                                       read_timeout=page_deadline, deadline=page_deadline)
            client = resolver_client(self.settings, timeout)
            loop.run(fetcher.__aenter__(), job)
            try:
                try:
                    links = loop.run(_within(4 * page_deadline, partial(
                        find_hosters, fetcher, ref, self.runtime.catalog, self.settings.hosts)), job)
                    log.debug("%s: %d hoster link(s) after %.2f s", task.name, len(links), time.monotonic() - started)
                except ResolveError as exc:
                    return self._fail(job, exc.reason, of_release=exc.of_release)
                failures: list[str] = []
                challenged = 0  # hosters the site's anti-bot check kept us from: a passing fault, not the release's
                attempt = task.attempts
                for link in links:
                    try:
                        direct = loop.run(direct_link(fetcher, client, link, timeout, task.site,
                                                      self.settings.provider_redirect_timeout_seconds), job)
                    except PlayChallenge as exc:
                        log.warning("%s: %s: %s; trying the next hoster", task.name, link.host, exc.reason)
                        failures.append(f"{link.host}: {exc.reason}")
                        challenged += 1
                        continue
                    except HostError as exc:
                        log.warning("%s: %s failed: %s", task.name, link.host, exc.reason)
                        failures.append(f"{link.host}: {exc.reason}")
                        continue
                    log.debug("%s: %s gave a direct %s link after %.2f s", task.name, link.host, direct.kind,
                              time.monotonic() - started)
                    attempt += 1
                    self._record([TaskStarted(hash=task.hash, host=link.host, attempt=attempt)])
                    self.live[task.hash] = Live(host=link.host)
                    if task.mode == STRM_MODE:
                        return self._complete_strm(job, direct, started)
                    try:
                        result = self._fetch_media(job, direct)
                    except DownloadFailed as exc:
                        log.warning("%s: download from %s failed: %s", task.name, link.host, exc.reason)
                        failures.append(f"{link.host}: download failed ({exc.reason})")
                        continue
                    return self._complete(job, result, started)
                reason = f"all {len(links)} hoster(s) failed for {task.language}: " + "; ".join(failures)
                return self._fail(job, reason, of_release=challenged < len(links))
            finally:
                with contextlib.suppress(Exception):
                    loop.run_plain(client.aclose())
                with contextlib.suppress(Exception):
                    loop.run_plain(fetcher.aclose())
                met = drain_events(task.site, "download", fetcher)  # challenges count in health
                if met:
                    self._record(met)

    def _catalog_conn(self) -> apsw.Connection | None:
        """The catalogue (for the host name a site answered under last); None before it exists."""
        try:
            return self.runtime.catalog.conn()
        except Exception:
            return None

    def _max_page_bytes(self) -> int:
        return int(self.settings.provider_max_page_mb * 1024 * 1024)

    def _low_disk(self) -> str | None:
        """Why no new download may start for lack of space (DOWNLOAD_MIN_FREE_GB), or None."""
        floor = int(self.settings.download_min_free_gb * 1024**3)
        try:
            free = shutil.disk_usage(placement.local_root(self.runtime)).free
        except OSError:
            return None
        if free >= floor:
            return None
        mib = 1024 * 1024
        return (f"not starting: only {free // mib} MiB free in the download folder, and DOWNLOAD_MIN_FREE_GB keeps"
                f" {floor // mib} MiB free; make room and resume the torrent")

    def _fail(self, job: Job, reason: str, of_release: bool = False) -> int:
        if job.cancel.is_set():
            raise Cancelled()
        log.error("download of %s failed: %s", job.task.name, reason)
        return self._record_failure(job, reason, of_release)

    def _record_failure(self, job: Job, reason: str, of_release: bool = False) -> int:
        """TaskFailed; when the release itself cannot be downloaded (``of_release``), with the marker file
        Sonarr and Radarr fail it by (failure_marker). They blocklist a failed release for good, so a passing
        fault (the site down, low disk, a bug of ours) only gets qBittorrent's error state, to be resumed."""
        task = job.task
        marker, size = "", 0
        retry_at: float | None = None
        delays = self.settings.download_retry_delays
        if not of_release and task.auto_retries < len(delays):
            retry_at = time.time() + delays[task.auto_retries]
            log.info("will try %s again at %s (automatic retry %d of %d, DOWNLOAD_RETRY_MINUTES)", task.name,
                     time.strftime("%H:%M UTC", time.gmtime(retry_at)), task.auto_retries + 1, len(delays))
        if of_release and self.settings.failed_download_marker != "off":
            try:
                marker, size = write_marker(self.runtime, task, release_name(self.runtime, task, None), reason)
            except Exception as exc:  # the failure itself must be recorded whatever happens to the marker
                log.warning("could not write the failure marker of %s (%s); Sonarr and Radarr will show the"
                            " download as an error instead", task.name, exc)
        job.finishing = True
        position = self._record([TaskFailed(hash=task.hash, reason=reason, marker_path=marker, marker_size=size,
                                            retry_at=retry_at)])
        if marker and job.cancel.is_set() and job.delete_files:  # deleted while the marker was written
            placement.remove_published(self.runtime, marker, size, task.name, task.category)
        return position

    def _fetch_media(self, job: Job, link: DirectLink) -> DownloadResult:
        task = job.task
        placement.remove_staging(self.runtime, task.hash)
        staging = placement.staging_dir(self.runtime, task.hash)
        last_event = [time.monotonic()]

        def progress(downloaded: int, total: int | None, speed: float) -> None:
            live = self.live.setdefault(task.hash, Live())
            live.downloaded, live.speed, live.updated = downloaded, speed, time.monotonic()
            if total:
                live.total = total
            now = time.monotonic()
            if now - last_event[0] >= PROGRESS_INTERVAL:
                last_event[0] = now
                fut = self.runtime.journal.submit([TaskProgress(hash=task.hash, downloaded=downloaded,
                                                                total=live.total, speed=speed)])
                fut.add_done_callback(_log_failure)

        settings = self.settings
        limits = DownloadLimits(max_bytes=int(settings.download_max_size_gb * 1024**3),
                                stall_seconds=settings.download_stall_seconds,
                                min_free_bytes=int(settings.download_min_free_gb * 1024**3))
        try:
            return download(link, staging, "video", progress=progress, cancel=job.cancel,
                            timeout=max(DOWNLOAD_SOCKET_TIMEOUT, settings.provider_direct_link_timeout_seconds),
                            rate_limit=settings.download_rate_limit_bytes_per_sec,
                            policy=settings.address_policy, limits=limits)
        except DownloadCancelled:
            raise Cancelled() from None

    def _complete(self, job: Job, result: DownloadResult, started: float) -> int:
        task = job.task
        if job.cancel.is_set():
            raise Cancelled()
        root = placement.local_root(self.runtime)
        name = release_name(self.runtime, task, result.height)
        final = placement.publish(self.runtime, task, task_cmds.folder_parts(self.runtime, task), name, result.path,
                                  lambda: task_cmds.published_paths(self.runtime, but=task.hash))
        relative = str(final.relative_to(root))
        job.finishing = True
        position = self._record([TaskCompleted(hash=task.hash, path=relative, size=result.size,
                                               quality=result.quality_label, completed_on=time.time())])
        log.info("downloaded %s (%d bytes, %s) in %.1f s -> %s", task.name, result.size, result.quality_label,
                 time.monotonic() - started, relative)
        if job.cancel.is_set() and job.delete_files:  # deleted while we were publishing the file
            placement.remove_published(self.runtime, relative, result.size, task.name, task.category)
        return position

    def _complete_strm(self, job: Job, link: DirectLink, started: float) -> int:
        """A STRM task: the ``.strm`` file instead of a download, published at once."""
        task = job.task
        if job.cancel.is_set():
            raise Cancelled()
        name = release_name(self.runtime, task, None)
        relative, size = write_strm(self.runtime, task, name, strm_content(self.runtime, task, link))
        job.finishing = True
        position = self._record([TaskCompleted(hash=task.hash, path=relative, size=size, quality="STRM",
                                               completed_on=time.time())])
        log.info("wrote the STRM file of %s (%s link from %s, %s mode) in %.1f s -> %s", task.name, link.kind,
                 link.host, self.settings.strm_proxy_mode, time.monotonic() - started, relative)
        return position


def with_quality(name: str, quality: str, source_tag: str = "WEB") -> str:
    """``name`` claiming ``quality`` (the file's real resolution), or no resolution when it is unknown."""
    bare = _QUALITY.sub("", name, count=1).replace("..", ".")
    source = f".{source_tag}."
    return bare.replace(source, f".{quality}{source}", 1) if quality and source in bare else bare


def release_name(runtime: Runtime, task: task_cmds.TaskRow, height: int | None) -> str:
    """The release name Sonarr grabbed (the magnet's dn, without " [STRM]") with the real quality, else one
    built anew."""
    naming = naming_of(runtime.settings)
    name = task.name.removesuffix(STRM_SUFFIX)
    groups = {naming.group(site) for site in SITES} | {"ANIWORLD", "STO", "MEGAKINO"}
    group = name.rsplit("-", 1)[-1] if "-" in name else ""
    # A dn that climbs or is absolute (``../x``, ``/x``) would be refused by safe_join after the whole
    # download: build the name anew instead.
    if ((_QUALITY.search(name) or f".{naming.source_tag}." in name) and (group in groups or "" in groups)
            and not _is_traversal(name) and _names_this_episode(name, task)):
        return with_quality(name, quality_tag(height), naming.source_tag)
    title = task.slug.replace("-", " ")
    is_movie, year = False, None
    with contextlib.suppress(Exception):
        hit = runtime.catalog.title(task.site, task.slug)
        if hit is not None:
            title, is_movie, year = hit.display_title, hit.media_type == "movie", hit.canon_year
    return release_title(title, task.season, task.episode, task.language, task.site, height=height,
                         movie_year=year, is_movie=is_movie, naming=naming)


def _names_this_episode(name: str, task: task_cmds.TaskRow) -> bool:
    """A dn naming another episode (SxxEyy) would mislabel the file: then the name is built anew."""
    tags = {(int(s), int(e)) for s, e in _EPISODE_TAG.findall(name)}
    return not tags or tags == {(task.season, task.episode)}


def _log_failure(fut: Future[list[int]]) -> None:
    exc = fut.exception()
    if exc is not None:
        log.warning("could not record download progress: %s", exc)


async def _within(seconds: float, make: Callable[[], Awaitable[T]]) -> T:
    """``make()``, or ResolveError once ``seconds`` have passed, however slowly its bytes arrive. Made
    here, not by the caller: a job cancelled before this runs leaves no coroutine that was never awaited."""
    try:
        async with asyncio.timeout(seconds):
            return await make()
    except TimeoutError:
        raise ResolveError(f"the episode page did not arrive within {seconds:g} s") from None


class _Loop:
    """An event loop owned by one job thread; ``run`` gives up when the job is cancelled."""

    def __enter__(self) -> _Loop:
        self.loop = asyncio.new_event_loop()
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.close()

    def run_plain(self, coro: Awaitable[T]) -> T:
        return self.loop.run_until_complete(coro)

    def run(self, coro: Awaitable[T], job: Job) -> T:
        async def watched() -> T:
            task = asyncio.ensure_future(coro)
            while True:
                done, _ = await asyncio.wait({task}, timeout=0.2)
                if done:
                    return task.result()
                if job.cancel.is_set():
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
                    raise Cancelled()

        if job.cancel.is_set():
            if asyncio.iscoroutine(coro):
                coro.close()
            raise Cancelled()
        return self.loop.run_until_complete(watched())


__all__ = ["DownloadWorker", "Live", "release_name"]
