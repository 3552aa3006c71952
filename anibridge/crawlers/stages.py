"""The titles and details crawl stages: provider pages in, catalogue events out.

Crawlers only append events. To decide what changed they read the catalogue projection (after
letting it catch up with the journal), so an unchanged title or unchanged details append nothing.
Memory stays bounded: titles are read from the projection page by page and flow through bounded
queues; nothing holds a site's catalogue in memory except the one title-list page being parsed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ..config import Settings
from ..events import Journal
from ..events.registry import Event
from ..events.types import (
    DetailsRunAborted,
    DetailsRunCompleted,
    DetailsRunProgress,
    DetailsRunStarted,
    ParseProblem,
    TitleDetailsFailed,
    TitleDetailsRecorded,
    TitleRemoved,
    TitlesGenerationCompleted,
    TitlesGenerationFailed,
    TitlesGenerationStarted,
    TitleUpserted,
)
from ..projections.queries import CatalogQueries
from .fetch import Fetcher, FetchError
from .parsers.common import ParseError, content_hash
from .parsers.problems import collecting, describe
from .site_state import drain_events, site_fetcher
from .sites import ADAPTERS, DetailsError, SiteAdapter, check_details

log = logging.getLogger("anibridge.crawl")

APPEND_BATCH = 500
PROGRESS_EVERY_TITLES = 200
PROGRESS_EVERY_SECONDS = 5.0
DETAILS_RETRY_AFTER_S = 3600.0
# A title's pages (series page + every season page, retries included) must be read within this time.
# Per-read timeouts do not catch a server that trickles a byte now and then; this does.
TITLE_TIMEOUT_S = 900.0
MIN_TITLES_FOR_ABORT = 20
# A title list that shrank below this share of the live one is treated as a broken page, not as
# thousands of removals.
MIN_LIST_SHARE = 0.5

ProgressFn = Callable[[str, int, int | None, str], None]


@dataclass
class StageResult:
    site: str
    stage: str
    ok: bool
    done: int = 0
    failed: int = 0
    changed: int = 0
    unchanged: int = 0
    reason: str = ""
    duration_s: float = 0.0
    fetch: dict[str, int] = field(default_factory=dict)


class CrawlAborted(Exception):
    pass


class CatchesUp(Protocol):
    """Whatever tells a crawl that the catalogue has applied the journal up to a position: a projector
    (in this process or a child), or a reader of a file another process projects."""

    def wait_until(self, position: int, timeout: float = ...) -> bool: ...


class StageRunner:
    def __init__(self, settings: Settings, journal: Journal, projector: CatchesUp,
                 queries: CatalogQueries,
                 *, fetcher_factory: Callable[[str], Fetcher] | None = None,
                 title_timeout: float = TITLE_TIMEOUT_S) -> None:
        self.settings = settings
        self.title_timeout = title_timeout
        self.journal = journal
        self.projector = projector
        self.queries = queries
        self._fetcher_factory = fetcher_factory or (
            lambda site: site_fetcher(settings, site, queries.conn(), concurrency=settings.crawl_concurrency,
                                      max_bytes=int(settings.provider_max_page_mb * 1024 * 1024),
                                      deadline=settings.provider_fetch_deadline_seconds))

    async def _append(self, events: list[Event]) -> None:
        if events:
            await asyncio.to_thread(self.journal.append, events)

    async def _caught_up(self) -> None:
        """The projection reflects every event so far (crawl decisions read it)."""
        head = self.journal.head()
        ok = await asyncio.to_thread(self.projector.wait_until, head, 300.0)
        if not ok:
            raise CrawlAborted("the catalogue projection did not catch up with the journal within 5 minutes")

    # --- titles ----------------------------------------------------------------------------------
    async def run_titles(self, site: str, progress: ProgressFn | None = None) -> StageResult:
        adapter = ADAPTERS[site]
        await self._caught_up()
        status = self.queries.stage_status().get(site, {}).get("titles", {})
        last_gen = int(status.get("run") or 0)
        if status.get("state") == "running":
            await self._append([TitlesGenerationFailed(site=site, generation=last_gen,
                                                       reason="interrupted: AniBridge stopped during this crawl")])
        gen = last_gen + 1
        started = time.monotonic()
        async with self._fetcher_factory(site) as fetcher:
            url = fetcher.url_for(adapter.list_path)
            await self._append([TitlesGenerationStarted(site=site, generation=gen, url=url)])
            log.info("%s: title list crawl started (generation %d) from %s", site, gen, url)
            try:
                result = await self._titles(site, gen, fetcher, adapter.list_path, url, progress, started)
            except (FetchError, ParseError, CrawlAborted) as exc:
                reason = str(exc)
                await self._append([TitlesGenerationFailed(site=site, generation=gen, reason=reason),
                                    *drain_events(site, "titles", fetcher)])
                if self.queries.titles_ready(site):
                    log.error("%s: title list crawl failed, the previous catalogue stays live: %s", site, reason)
                else:
                    log.error("%s: title list crawl failed; the site is not searchable until a crawl succeeds: %s",
                              site, reason)
                return StageResult(site, "titles", False, reason=reason, fetch=fetcher.counters())
            result.duration_s = time.monotonic() - started
            result.fetch = fetcher.counters()
            await self._append(drain_events(site, "titles", fetcher))
        log.info("%s: title list ready (generation %d): %d titles, %d changed, in %.1f s", site, gen, result.done,
                 result.changed, result.duration_s)
        return result

    async def _titles(self, site: str, gen: int, fetcher: Fetcher, list_path: str, url: str,
                      progress: ProgressFn | None, started: float) -> StageResult:
        adapter = ADAPTERS[site]
        text = await adapter.list_text(fetcher)
        seen: set[str] = set()
        added = changed = 0
        batch: list[Event] = []
        conn = self.queries.conn()
        for item in adapter.parse_list(text):
            if item.slug in seen:
                continue
            seen.add(item.slug)
            digest = content_hash([item.title, item.alt_titles, item.path, item.media_type])
            row = conn.execute("SELECT listing_hash FROM titles WHERE site = ? AND slug = ?",
                               (site, item.slug)).fetchone()
            if row is not None and row[0] == digest:
                continue
            if row is None:
                added += 1
            else:
                changed += 1
            batch.append(TitleUpserted(site=site, generation=gen, slug=item.slug, title=item.title,
                                       alt_titles=item.alt_titles, path=item.path, media_type=item.media_type,
                                       content_hash=digest))
            if len(batch) >= APPEND_BATCH:
                await self._append(batch)
                batch = []
                if progress:
                    progress(site, len(seen), None, "titles")
        if not seen:
            raise ParseError(f"title list at {url} lists no titles (page layout changed?)")
        live = conn.execute("SELECT count(*) FROM titles WHERE site = ?", (site,)).fetchone()[0]
        if live and len(seen) < live * MIN_LIST_SHARE:
            raise CrawlAborted(f"title list at {url} shows {len(seen)} titles but {live} are indexed;"
                               " refusing to remove more than half the catalogue")
        removed = 0
        after = ""
        while rows := self.queries.titles_page(site, after, 1000, columns="slug"):
            for (slug,) in rows:
                if slug not in seen:
                    batch.append(TitleRemoved(site=site, generation=gen, slug=slug))
                    removed += 1
            after = rows[-1][0]
        batch.append(TitlesGenerationCompleted(site=site, generation=gen, total=len(seen), added=added,
                                               changed=changed, removed=removed,
                                               duration_s=round(time.monotonic() - started, 3)))
        await self._append(batch)
        if progress:
            progress(site, len(seen), len(seen), "titles")
        return StageResult(site, "titles", True, done=len(seen), changed=added + changed + removed,
                           unchanged=len(seen) - added - changed)

    # --- details ---------------------------------------------------------------------------------
    async def run_details(self, site: str, progress: ProgressFn | None = None) -> StageResult:
        adapter = ADAPTERS[site]
        await self._caught_up()
        if not self.queries.titles_ready(site):
            return StageResult(site, "details", False, reason="titles are not indexed yet")
        status = self.queries.stage_status().get(site, {}).get("details", {})
        total = self.queries.counts(site)["titles"]
        resume = status.get("state") == "running"
        if resume:
            run = int(status["run"])
            cursor = status.get("cursor") or ""
            since = float(status.get("started_at") or 0)
            done, failed, unchanged = int(status["done"]), int(status["failed"]), int(status["unchanged"])
            changed = int(status.get("changed") or 0)
            log.info("%s: resuming details crawl (run %d) after %r: %d done, %d failed", site, run, cursor,
                     done, failed)
        else:
            run = int(status.get("run") or 0) + 1
            cursor, since, done, failed, unchanged, changed = "", time.time(), 0, 0, 0, 0
            await self._append([DetailsRunStarted(site=site, run=run, total=total)])
            log.info("%s: details crawl started (run %d) for %d titles", site, run, total)
        state = _DetailsState(run=run, cursor=cursor, done=done, failed=failed, unchanged=unchanged,
                              changed=changed)
        started = time.monotonic()
        async with self._fetcher_factory(site) as fetcher:
            try:
                await self._details(site, adapter, fetcher, state, since, resume, total, progress)
            except CrawlAborted as exc:
                await self._append([DetailsRunAborted(site=site, run=run, reason=str(exc)),
                                    *drain_events(site, "details", fetcher)])
                log.error("%s: details crawl aborted: %s", site, exc)
                return StageResult(site, "details", False, state.done, state.failed, state.changed,
                                   state.unchanged, str(exc), time.monotonic() - started, fetcher.counters())
            counters = fetcher.counters()
            await self._append(drain_events(site, "details", fetcher))
        duration = time.monotonic() - started
        await self._append([DetailsRunCompleted(site=site, run=run, done=state.done, failed=state.failed,
                                                unchanged=state.unchanged, changed=state.changed,
                                                duration_s=round(duration, 3))])
        log.info("%s: details ready (run %d): %d titles read, %d changed, %d unchanged, %d failed, in %.1f s",
                 site, run, state.done, state.changed, state.unchanged, state.failed, duration)
        return StageResult(site, "details", True, state.done, state.failed, state.changed, state.unchanged,
                           duration_s=duration, fetch=counters)

    async def _details(self, site: str, adapter: SiteAdapter, fetcher: Fetcher, state: _DetailsState,
                       since: float, resume: bool, total: int, progress: ProgressFn | None) -> None:
        workers = max(1, fetcher.concurrency)
        todo: asyncio.Queue[tuple[int, str, str, str, str] | None] = asyncio.Queue(maxsize=workers * 4)
        results: asyncio.Queue[tuple[int, str, Event | None, bool]] = asyncio.Queue(maxsize=workers * 4)
        now = time.time()

        async def produce() -> None:
            seq = 0
            after = state.cursor
            conn = self.queries.conn()
            try:
                # one query per page of titles (failures joined in), not one SELECT per title
                while rows := conn.execute(
                        "SELECT t.slug, t.path, t.media_type, t.details_hash, t.details_at, f.retry_at, f.failed_at"
                        " FROM titles t LEFT JOIN details_failures f ON f.site = t.site AND f.slug = t.slug"
                        " WHERE t.site = ? AND t.slug > ? ORDER BY t.slug LIMIT 500", (site, after)).fetchall():
                    for slug, path, media_type, details_hash, details_at, retry_at, failed_at in rows:
                        if resume and details_at is not None and details_at >= since:
                            continue  # recorded by this run before an interruption
                        if retry_at is not None and (retry_at > now or (resume and failed_at >= since)):
                            continue  # failed recently (or already in this run): retried later
                        await todo.put((seq, slug, path, media_type, details_hash))
                        seq += 1
                    after = rows[-1][0]
            except asyncio.CancelledError:
                raise
            except Exception:
                for _ in range(workers):  # let the workers finish what they hold, then fail the run
                    await todo.put(None)
                raise
            for _ in range(workers):
                await todo.put(None)

        async def work() -> None:
            while (item := await todo.get()) is not None:
                seq, slug, path, media_type, old_hash = item
                try:
                    with collecting() as noted:
                        d = await asyncio.wait_for(adapter.details(fetcher, slug, path, media_type),
                                                   self.title_timeout)
                        check_details(d, fetcher.url_for(path))
                except Exception as exc:  # CancelledError is not an Exception: cancelling still works
                    url, reason = _failure(exc, fetcher.url_for(path), self.title_timeout)
                    if isinstance(exc, DetailsError | FetchError | TimeoutError):
                        log.warning("%s: could not read %s (%s): %s", site, slug, url, reason)
                    else:  # a bug or an unforeseen error must cost one title, not hang the whole run
                        log.exception("%s: unexpected error reading %s (%s)", site, slug, url)
                    ev: Event = TitleDetailsFailed(site=site, run=state.run, slug=slug, url=url, reason=reason,
                                                   retry_at=time.time() + DETAILS_RETRY_AFTER_S)
                    await results.put((seq, slug, ev, True))
                    continue
                problems = [ParseProblem(kind=k, count=n, detail=d) for k, n, d in noted.items()]
                if problems:
                    log.warning("%s: %s: %s", site, slug,
                                "; ".join(f"{describe(p.kind, p.count)} (e.g. {p.detail})" for p in problems))
                payload = [e.model_dump() for e in d.episodes]
                parts: list[object] = [d.description, d.year, d.imdb_id, d.title, payload]
                if problems:  # titles without problems keep the digest they had before problems existed
                    parts.append([p.model_dump() for p in problems])
                digest = content_hash(parts)
                if digest == old_hash:
                    await results.put((seq, slug, None, False))
                else:
                    await results.put((seq, slug, TitleDetailsRecorded(
                        site=site, run=state.run, slug=slug, content_hash=digest, description=d.description[:2000],
                        year=d.year, imdb_id=d.imdb_id, title=d.title, episodes=d.episodes,
                        problems=problems), False))

        async def consume(expected_workers: int) -> None:
            finished: dict[int, str] = {}
            order: deque[int] = deque()
            next_seq = 0
            batch: list[Event] = []
            last_progress = time.monotonic()
            since_progress = 0
            while True:
                item = await results.get()
                if item is None:  # all workers done
                    break
                seq, slug, ev, is_failure = item
                if ev is not None:
                    batch.append(ev)
                if is_failure:
                    state.failed += 1
                elif ev is None:
                    state.unchanged += 1
                    state.done += 1
                else:
                    state.changed += 1
                    state.done += 1
                since_progress += 1
                finished[seq] = slug
                order.append(seq)
                while next_seq in finished:  # the cursor only moves over a gap-free prefix
                    state.cursor = finished.pop(next_seq)
                    next_seq += 1
                attempted = state.done + state.failed
                if (attempted >= MIN_TITLES_FOR_ABORT
                        and state.failed > attempted * self.settings.crawl_failure_threshold):
                    await self._append(batch)
                    raise CrawlAborted(f"{state.failed} of {attempted} titles failed, more than the allowed "
                                       f"{self.settings.crawl_failure_threshold:.0%}; last reason: "
                                       f"{getattr(ev, 'reason', '')}")
                if (len(batch) >= APPEND_BATCH or since_progress >= PROGRESS_EVERY_TITLES
                        or time.monotonic() - last_progress >= PROGRESS_EVERY_SECONDS):
                    batch.append(state.progress_event(site))
                    batch += drain_events(site, "details", fetcher)
                    await self._append(batch)
                    batch = []
                    since_progress = 0
                    last_progress = time.monotonic()
                    if progress:
                        progress(site, state.done + state.failed, total, "details")
            await self._append(batch)
            if progress:
                progress(site, state.done + state.failed, total, "details")

        producer = asyncio.create_task(produce())
        worker_tasks = [asyncio.create_task(work()) for _ in range(workers)]
        consumer = asyncio.create_task(consume(workers))

        async def close_results() -> None:
            try:
                await asyncio.gather(producer, *worker_tasks, return_exceptions=True)
            finally:
                await results.put(None)  # type: ignore[arg-type]

        closer = asyncio.create_task(close_results())
        try:
            await consumer
            if producer.done() and not producer.cancelled() and producer.exception() is not None:
                raise CrawlAborted(f"could not list the titles to read: {producer.exception()}")
        finally:
            for t in (producer, *worker_tasks, closer):
                t.cancel()
            await asyncio.gather(producer, *worker_tasks, closer, return_exceptions=True)


def _failure(exc: BaseException, default_url: str, timeout: float) -> tuple[str, str]:
    """(url, reason) of a title that could not be read, in plain words."""
    if isinstance(exc, DetailsError | FetchError):
        return exc.url, exc.reason
    if isinstance(exc, TimeoutError):
        return default_url, f"title pages not read within {timeout:g} s (server too slow or trickling)"
    return default_url, f"unexpected error: {type(exc).__name__}: {exc}"


@dataclass
class _DetailsState:
    run: int
    cursor: str
    done: int
    failed: int
    unchanged: int
    changed: int = 0

    def progress_event(self, site: str) -> DetailsRunProgress:
        return DetailsRunProgress(site=site, run=self.run, cursor=self.cursor, done=self.done, failed=self.failed,
                                  unchanged=self.unchanged)
