"""The canonical crawl stage: map series to TVDB (via SkyHook) and identify movies.

Runs after details. A title is (re)considered when it has no canonical row, when its details
changed since its canonical event (``titles.details_hash`` vs ``canonical.details_hash``), when a
failure's ``retry_at`` has passed, or when its user pin changed. Pins win: a pinned title gets
``SeriesMatched(source='override')`` and the episode map of the pinned show.

Like the other stages it only appends events; titles come from the projection page by page and
flow through bounded queues, so memory does not grow with the catalogue. When SkyHook is down
the affected titles get ``CanonicalFailed`` (with a retry time) and the stage still completes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from ..events.registry import Event
from ..events.types import (
    CanonicalFailed,
    CanonicalRunCompleted,
    CanonicalRunStarted,
    EpisodeMapRecorded,
    MovieIdentified,
    SeriesMatched,
    SeriesUnmatched,
)
from . import matching
from .skyhook import Show, SkyHookClient, SkyHookUnavailable
from .stages import APPEND_BATCH, PROGRESS_EVERY_SECONDS, PROGRESS_EVERY_TITLES, ProgressFn, StageResult, StageRunner

log = logging.getLogger("anibridge.canonical")

RETRY_AFTER_S = 1800.0
PAGE = 500

_TODO_SQL = """
SELECT t.slug, t.title, t.media_type, t.year, t.details_hash,
       c.status, c.details_hash, c.retry_at, c.source, c.tvdb_id, o.tvdb_id
FROM titles t
LEFT JOIN canonical c ON c.site = t.site AND c.slug = t.slug
LEFT JOIN canonical_overrides o ON o.site = t.site AND o.slug = t.slug
WHERE t.site = ? AND t.slug > ? ORDER BY t.slug LIMIT ?
"""


@dataclass(frozen=True, slots=True)
class _Todo:
    slug: str
    media_type: str
    details_hash: str
    pin: int | None
    title: matching.ProviderTitle
    movie_title: str
    imdb_id: str | None


@dataclass
class _Counts:
    matched: int = 0
    unmatched: int = 0
    ambiguous: int = 0
    failed: int = 0
    movies: int = 0
    last_failure: str = ""

    @property
    def done(self) -> int:
        return self.matched + self.unmatched + self.ambiguous + self.movies


@dataclass
class _Outcome:
    events: list[Event] = field(default_factory=list)
    kind: str = "matched"  # matched | unmatched | ambiguous | failed | movie
    reason: str = ""


def needs_work(row: Sequence[Any], now: float) -> bool:
    """Whether a row of ``_TODO_SQL`` needs a canonical decision in this run."""
    _, _, _, _, details_hash, status, canon_hash, retry_at, source, tvdb_id, pin = row
    if not details_hash:
        return False  # details not read yet: the next run after details decides
    if pin is not None and (source != "override" or tvdb_id != pin):
        return True
    if pin is None and source == "override":
        return True  # pin removed: back to automatic matching
    if retry_at is not None and retry_at > now:
        return False
    return status is None or status == "failed" or canon_hash != details_hash


async def run_canonical(runner: StageRunner, site: str, progress: ProgressFn | None = None) -> StageResult:
    await runner._caught_up()
    if not runner.queries.titles_ready(site):
        return StageResult(site, "canonical", False, reason="titles are not indexed yet")
    status = runner.queries.stage_status().get(site, {}).get("canonical", {})
    run = int(status.get("run") or 0) + 1
    now = time.time()
    total, skipped = _count(runner, site, now)
    await runner._append([CanonicalRunStarted(site=site, run=run, total=total)])
    log.info("%s: canonical mapping started (run %d): %d titles to map, %d unchanged", site, run, total, skipped)
    started = time.monotonic()
    counts = _Counts()
    settings = runner.settings
    async with SkyHookClient(settings.skyhook_base_url, settings.cache_dir / "skyhook",
                             concurrency=settings.crawl_concurrency,
                             show_ttl=settings.specials_metadata_cache_ttl_minutes * 60.0,
                             read_timeout=settings.specials_metadata_timeout_seconds,
                             max_bytes=int(settings.provider_max_page_mb * 1024 * 1024),
                             deadline=settings.provider_fetch_deadline_seconds) as sky:
        pruned = await sky.prune_cache()
        if pruned:
            log.info("%s: dropped %d expired SkyHook cache entries", site, pruned)
        await _pipeline(runner, site, sky, now, total, counts, progress)
        fetch = sky.counters()
    duration = time.monotonic() - started
    await runner._append([CanonicalRunCompleted(site=site, run=run, matched=counts.matched + counts.movies,
                                                unmatched=counts.unmatched, ambiguous=counts.ambiguous,
                                                failed=counts.failed, duration_s=round(duration, 3))])
    log.info("%s: canonical mapping done (run %d): %d matched, %d movies, %d ambiguous, %d unmatched, %d failed,"
             " in %.1f s", site, run, counts.matched, counts.movies, counts.ambiguous, counts.unmatched,
             counts.failed, duration)
    all_failed = counts.failed > 0 and counts.done == 0
    reason = f"{counts.failed} titles failed: {counts.last_failure}" if counts.failed else ""
    return StageResult(site, "canonical", not all_failed, done=counts.done, failed=counts.failed,
                       changed=counts.done, unchanged=skipped, reason=reason, duration_s=duration, fetch=fetch)


def _count(runner: StageRunner, site: str, now: float) -> tuple[int, int]:
    todo = skipped = 0
    after = ""
    conn = runner.queries.conn()
    while rows := conn.execute(_TODO_SQL, (site, after, PAGE)).fetchall():
        for row in rows:
            if needs_work(row, now):
                todo += 1
            else:
                skipped += 1
        after = rows[-1][0]
    return todo, skipped


def _load(runner: StageRunner, site: str, row: Sequence[Any], has_imdb: bool) -> _Todo:
    slug, title, media_type, year, details_hash, *_, pin = row
    conn = runner.queries.conn()
    names = [n for (n,) in conn.execute("SELECT name FROM title_names WHERE site = ? AND slug = ?"
                                        " ORDER BY is_primary DESC, id", (site, slug))]
    episodes = tuple(matching.ProviderEpisode(s, e, en, de) for s, e, en, de in conn.execute(
        "SELECT season, episode, title_en, title_de FROM episodes WHERE site = ? AND slug = ?"
        " ORDER BY season, episode", (site, slug)))
    # The sitemap of Megakino only gives slugs; the details stage records the page's own title.
    stored = conn.execute("SELECT page_title FROM titles WHERE site = ? AND slug = ?", (site, slug)).fetchone()
    page_title = (stored[0] if stored else "") or title
    if page_title != title:
        names = [page_title, *names]
    imdb = None
    if has_imdb:
        found = conn.execute("SELECT imdb_id FROM titles WHERE site = ? AND slug = ?", (site, slug)).fetchone()
        imdb = found[0] if found and found[0] else None
    return _Todo(slug, media_type, details_hash, pin, matching.ProviderTitle(tuple(names or [title]), year, episodes),
                 page_title, imdb)


async def _pipeline(runner: StageRunner, site: str, sky: SkyHookClient, now: float, total: int, counts: _Counts,
                    progress: ProgressFn | None) -> None:
    workers = max(1, runner.settings.crawl_concurrency * 2)
    todo: asyncio.Queue[_Todo | None] = asyncio.Queue(maxsize=workers * 4)
    results: asyncio.Queue[_Outcome | None] = asyncio.Queue(maxsize=workers * 4)
    conn = runner.queries.conn()
    has_imdb = any(r[1] == "imdb_id" for r in conn.execute("PRAGMA table_info(titles)"))

    async def produce() -> None:
        after = ""
        while rows := conn.execute(_TODO_SQL, (site, after, PAGE)).fetchall():
            for row in rows:
                if needs_work(row, now):
                    await todo.put(_load(runner, site, row, has_imdb))
            after = rows[-1][0]
        for _ in range(workers):
            await todo.put(None)

    async def work() -> None:
        while (item := await todo.get()) is not None:
            try:
                outcome = await _decide(site, item, sky, runner.settings)
            except SkyHookUnavailable as exc:
                outcome = _failed(site, item.slug, exc.reason)
            except Exception as exc:  # one title's surprise must never stop the workers (the stage would hang)
                log.exception("%s/%s: canonical mapping failed", site, item.slug)
                outcome = _failed(site, item.slug, f"internal error: {type(exc).__name__}: {exc}"[:300])
            await results.put(outcome)

    async def consume() -> None:
        batch: list[Event] = []
        last = time.monotonic()
        since = 0
        while (outcome := await results.get()) is not None:
            batch.extend(outcome.events)
            if outcome.kind == "failed":
                counts.failed += 1
                counts.last_failure = outcome.reason
            elif outcome.kind == "movie":
                counts.movies += 1
            else:
                setattr(counts, outcome.kind, getattr(counts, outcome.kind) + 1)
            since += 1
            if len(batch) >= APPEND_BATCH or since >= PROGRESS_EVERY_TITLES or \
                    time.monotonic() - last >= PROGRESS_EVERY_SECONDS:
                await runner._append(batch)
                batch, since, last = [], 0, time.monotonic()
                if progress:
                    progress(site, counts.done + counts.failed, total, "canonical")
        await runner._append(batch)
        if progress:
            progress(site, counts.done + counts.failed, total, "canonical")

    producer = asyncio.create_task(produce())
    worker_tasks = [asyncio.create_task(work()) for _ in range(workers)]
    consumer = asyncio.create_task(consume())

    async def close() -> None:
        await asyncio.gather(producer, *worker_tasks)
        await results.put(None)

    closer = asyncio.create_task(close())
    try:
        await consumer
        await closer
    finally:
        for t in (producer, *worker_tasks, closer):
            t.cancel()
        await asyncio.gather(producer, *worker_tasks, closer, return_exceptions=True)


def _failed(site: str, slug: str, reason: str) -> _Outcome:
    return _Outcome([CanonicalFailed(site=site, slug=slug, reason=reason, retry_at=time.time() + RETRY_AFTER_S)],
                    "failed", reason)


def _specials(settings: Settings) -> dict[str, Any]:
    """SPECIALS_METADATA_ENABLED and SPECIALS_MATCH_CONFIDENCE_THRESHOLD for map_episodes."""
    return {"specials": settings.specials_metadata_enabled,
            "special_threshold": settings.specials_match_confidence_threshold}


async def _decide(site: str, item: _Todo, sky: SkyHookClient, settings: Settings) -> _Outcome:
    if item.pin is not None:
        return await _pinned(site, item, sky, settings)
    if item.media_type == "movie":
        ev = MovieIdentified(site=site, slug=item.slug, title=item.movie_title, year=item.title.year,
                             imdb_id=item.imdb_id, details_hash=item.details_hash)
        return _Outcome([ev], "movie")
    return await _series(site, item, sky, settings)


async def _pinned(site: str, item: _Todo, sky: SkyHookClient, settings: Settings) -> _Outcome:
    assert item.pin is not None
    show = await sky.show(item.pin)
    if show is None:
        ev = SeriesMatched(site=site, slug=item.slug, tvdb_id=item.pin, tvdb_title=item.title.names[0],
                           confidence=1.0, source="override", details_hash=item.details_hash,
                           reason=f"pinned by the user to TVDB {item.pin}; SkyHook does not know that id,"
                                  " so there is no episode map")
        return _Outcome([ev, EpisodeMapRecorded(site=site, slug=item.slug, tvdb_id=item.pin, entries=[])])
    entries, why = matching.map_episodes(item.title.episodes, show, **_specials(settings))
    ev = SeriesMatched(site=site, slug=item.slug, tvdb_id=show.tvdb_id, tvdb_title=show.summary.title,
                       year=show.summary.year, imdb_id=show.summary.imdb_id, confidence=1.0, source="override",
                       reason=f"pinned by the user to TVDB {show.tvdb_id} ({show.summary.title}); episodes: {why}",
                       details_hash=item.details_hash)
    return _Outcome([ev, EpisodeMapRecorded(site=site, slug=item.slug, tvdb_id=show.tvdb_id, entries=entries)])


async def _series(site: str, item: _Todo, sky: SkyHookClient, settings: Settings) -> _Outcome:
    provider = item.title
    terms = matching.search_terms(provider.names)
    found = [show for term in terms for show in await sky.search(term)]  # one at a time: gentle on SkyHook
    candidates = matching.rank(provider, found)
    shows: dict[int, Show] = {}
    for cand in matching.worth_fetching(candidates):
        show = await sky.show(cand.show.tvdb_id)
        if show is None:
            candidates.remove(cand)  # listed by search but gone
            continue
        shows[show.tvdb_id] = show
        matching.add_episodes(cand, provider, show)
    decision = matching.decide(candidates)
    if decision.status != "matched" or decision.best is None:
        ev = SeriesUnmatched(site=site, slug=item.slug, status=decision.status, reason=decision.reason,
                             candidates=decision.candidates, details_hash=item.details_hash)
        return _Outcome([ev], decision.status)
    best = decision.best.show
    show = shows.get(best.tvdb_id) or await sky.show(best.tvdb_id)
    entries, why = (matching.map_episodes(provider.episodes, show, **_specials(settings)) if show
                    else ([], "show has no episode list"))
    matched = SeriesMatched(site=site, slug=item.slug, tvdb_id=best.tvdb_id, tvdb_title=best.title, year=best.year,
                            imdb_id=best.imdb_id, confidence=decision.confidence, source="skyhook",
                            reason=f"{decision.reason}; episodes: {why}", details_hash=item.details_hash)
    return _Outcome([matched, EpisodeMapRecorded(site=site, slug=item.slug, tvdb_id=best.tvdb_id, entries=entries)])
