"""SkyHook (Sonarr's TVDB metadata service) client with a disk cache.

Requests go through a ``Fetcher`` (bounded concurrency, retries with backoff). Answers are cached
on disk under ``DATA_DIR/cache/skyhook``, one file per URL (named by its hash), for ``ttl``
seconds; nothing is cached in memory, so a large catalogue costs disk, not RAM. Errors are never
cached. When SkyHook keeps failing the client stops asking for a while (circuit breaker) and
raises ``SkyHookUnavailable`` at once, so an outage fails a crawl quickly instead of retrying
every title with backoff.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import orjson

from .fetch import FETCH_DEADLINE_S, MAX_PAGE_BYTES, Fetcher, FetchError, NotFound

CACHE_TTL_S = 7 * 24 * 3600.0  # searches: which shows exist under a name changes slowly
SHOW_TTL_S = 24 * 3600.0  # a show's episode list grows while it airs
BREAKER_FAILURES = 3  # consecutive failed requests that open the breaker
BREAKER_COOLDOWN_S = 60.0


class SkyHookUnavailable(Exception):
    """SkyHook could not answer; ``reason`` says why in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ShowSummary:
    tvdb_id: int
    title: str
    year: int | None
    imdb_id: str | None
    alternate_titles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ShowEpisode:
    season: int
    episode: int
    absolute: int | None
    title: str


@dataclass(frozen=True, slots=True)
class Show:
    summary: ShowSummary
    episodes: tuple[ShowEpisode, ...]

    @property
    def tvdb_id(self) -> int:
        return self.summary.tvdb_id

    def regular(self) -> list[ShowEpisode]:
        """Regular episodes (season > 0) in broadcast order."""
        eps = [e for e in self.episodes if e.season > 0]
        eps.sort(key=lambda e: (e.season, e.episode))
        return eps

    def specials(self) -> list[ShowEpisode]:
        eps = [e for e in self.episodes if e.season == 0]
        eps.sort(key=lambda e: e.episode)
        return eps


class SkyHookBadAnswer(SkyHookUnavailable):
    """SkyHook answered, but not in the shape its API has (wrong field types, missing ids)."""


MAX_TEXT = 500
MAX_ALIASES = 200
MAX_EPISODES = 20_000


def _int(value: Any, low: int = 0, high: int = 2**31 - 1) -> int | None:
    """An integer field in ``low..high`` (JSON numbers or digit strings); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 10:
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and low <= value <= high else None


def _text(value: Any) -> str:
    return value.strip()[:MAX_TEXT] if isinstance(value, str) else ""


def parse_summary(doc: dict[str, Any]) -> ShowSummary | None:
    tvdb = _int(doc.get("tvdbId"), 1)
    title = _text(doc.get("title"))
    if not tvdb or not title:
        return None
    alts: list[str] = []
    raw_alts = doc.get("alternateTitles")
    for alt in (raw_alts if isinstance(raw_alts, list) else [])[:MAX_ALIASES]:
        name = _text(alt.get("title") if isinstance(alt, dict) else alt)
        if name:
            alts.append(name)
    imdb = doc.get("imdbId")
    return ShowSummary(tvdb_id=tvdb, title=title, year=_int(doc.get("year"), 1800, 2300),
                       imdb_id=imdb if isinstance(imdb, str) and 0 < len(imdb) <= 20 else None,
                       alternate_titles=tuple(dict.fromkeys(alts)))


def parse_show(doc: dict[str, Any]) -> Show | None:
    """The show, or None when the document is none; SkyHookBadAnswer when its fields have wrong types."""
    summary = parse_summary(doc)
    if summary is None:
        raise SkyHookBadAnswer(f"SkyHook answered a show without a valid tvdbId and title"
                               f" (tvdbId={str(doc.get('tvdbId'))[:40]!r})")
    raw = doc.get("episodes")
    if raw is not None and not isinstance(raw, list):
        raise SkyHookBadAnswer(f"SkyHook answered show {summary.tvdb_id} with episodes of type"
                               f" {type(raw).__name__}, not a list")
    episodes = []
    for ep in (raw or [])[:MAX_EPISODES]:
        if not isinstance(ep, dict):
            continue
        season, number = _int(ep.get("seasonNumber"), 0, 10_000), _int(ep.get("episodeNumber"), 1, 100_000)
        if season is None or number is None:
            continue
        episodes.append(ShowEpisode(season, number, _int(ep.get("absoluteEpisodeNumber"), 1, 100_000),
                                    _text(ep.get("title"))))
    if raw and not episodes:
        raise SkyHookBadAnswer(f"SkyHook answered show {summary.tvdb_id} with {len(raw)} episodes, none of them"
                               " with valid season and episode numbers")
    return Show(summary, tuple(episodes))


class DiskCache:
    """URL -> JSON text, one file per key, expiring after ``ttl`` seconds (by file mtime)."""

    def __init__(self, root: Path, ttl: float = CACHE_TTL_S) -> None:
        self.root = root
        self.ttl = ttl
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self.root / digest[:2] / f"{digest}.json"

    def get(self, key: str, ttl: float | None = None) -> bytes | None:
        path = self._path(key)
        try:
            if time.time() - path.stat().st_mtime > min(self.ttl, self.ttl if ttl is None else ttl):
                self.misses += 1
                return None
            data = path.read_bytes()
        except OSError:
            self.misses += 1
            return None
        self.hits += 1
        return data

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written only costs a request next time

    def drop(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def prune(self) -> int:
        """Delete entries older than the TTL (and stray temp files); returns how many went."""
        removed = 0
        cutoff = time.time() - self.ttl
        if not self.root.is_dir():
            return 0
        for sub in self.root.iterdir():
            if not sub.is_dir():
                continue
            for path in sub.iterdir():
                try:
                    if path.suffix == ".tmp" or path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
                except OSError:
                    continue
        return removed


class SkyHookClient:
    """``async with SkyHookClient(base, cache_dir) as sh: shows = await sh.search("One Piece")``."""

    def __init__(self, base_url: str, cache_dir: Path | None, *, concurrency: int = 4,
                 ttl: float = CACHE_TTL_S, max_retries: int = 2, fetcher: Fetcher | None = None,
                 show_ttl: float = SHOW_TTL_S, read_timeout: float = 30.0, max_bytes: int = MAX_PAGE_BYTES,
                 deadline: float = FETCH_DEADLINE_S) -> None:
        self.fetcher = fetcher or Fetcher(base_url, concurrency=concurrency, max_retries=max_retries,
                                          backoff_cap=5.0, retry_after_max=10.0, read_timeout=read_timeout,
                                          headers={"Accept": "application/json"}, max_bytes=max_bytes,
                                          deadline=deadline)
        self.show_ttl = show_ttl  # SPECIALS_METADATA_CACHE_TTL_MINUTES: how long a show's episode list is reused
        self.cache = DiskCache(cache_dir, ttl) if cache_dir is not None else None
        self._consecutive_failures = 0
        self._open_until = 0.0
        self._last_reason = ""

    async def __aenter__(self) -> SkyHookClient:
        await self.fetcher.__aenter__()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.fetcher.aclose()

    def counters(self) -> dict[str, int]:
        out = dict(self.fetcher.counters())
        if self.cache is not None:
            out |= {"cache_hits": self.cache.hits, "cache_misses": self.cache.misses}
        return out

    async def search(self, term: str) -> list[ShowSummary]:
        path = f"/v1/tvdb/search/en/?term={quote(term, safe='')}"
        data = await self._get_json(path)
        if data is None:
            return []
        if not isinstance(data, list):
            self._forget(path)
            raise SkyHookBadAnswer(f"SkyHook answered a search with {type(data).__name__}, not a list")
        found = [s for doc in data if isinstance(doc, dict) and (s := parse_summary(doc)) is not None]
        if data and not found:
            self._forget(path)
            raise SkyHookBadAnswer(f"SkyHook answered a search with {len(data)} results, none with a valid"
                                   " tvdbId and title")
        return found

    async def show(self, tvdb_id: int) -> Show | None:
        """The show with its episodes; None when SkyHook does not know the id; SkyHookBadAnswer when the
        answer has the wrong shape (the title fails and is retried later, nothing hangs)."""
        path = f"/v1/tvdb/shows/en/{int(tvdb_id)}"
        data = await self._get_json(path, self.show_ttl)
        if data is None:
            return None
        try:
            if not isinstance(data, dict):
                raise SkyHookBadAnswer(f"SkyHook answered show {tvdb_id} with {type(data).__name__}, not an object")
            return parse_show(data)
        except SkyHookBadAnswer:
            self._forget(path)
            raise

    def _forget(self, path: str) -> None:
        if self.cache is not None:
            self.cache.drop(self.fetcher.url_for(path))

    async def prune_cache(self) -> int:
        return 0 if self.cache is None else await asyncio.to_thread(self.cache.prune)

    async def _get_json(self, path: str, ttl: float | None = None) -> Any:
        url = self.fetcher.url_for(path)
        if self.cache is not None and (cached := self.cache.get(url, ttl)) is not None:
            return orjson.loads(cached)
        if time.monotonic() < self._open_until:
            raise SkyHookUnavailable(f"SkyHook unavailable ({self._last_reason}); not asking again for a while")
        try:
            page = await self.fetcher.get(url)
        except NotFound:
            raw = b"null"
        except FetchError as exc:
            self._failed(exc.reason if exc.url in exc.reason else f"{exc.url}: {exc.reason}")
            raise SkyHookUnavailable(self._last_reason) from None
        else:
            raw = page.text.encode()
            try:
                orjson.loads(raw)
            except orjson.JSONDecodeError:
                self._failed(f"{url}: answer is not JSON")
                raise SkyHookUnavailable(self._last_reason) from None
        self._consecutive_failures = 0
        if self.cache is not None:
            self.cache.put(url, raw)
        return orjson.loads(raw)

    def _failed(self, reason: str) -> None:
        self._last_reason = reason
        self._consecutive_failures += 1
        if self._consecutive_failures >= BREAKER_FAILURES:
            self._open_until = time.monotonic() + BREAKER_COOLDOWN_S
