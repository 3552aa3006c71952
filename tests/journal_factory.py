"""Synthetic but realistic journals for the projection tests, built with the real event models.

A scenario per site: a first titles generation, a details run, a canonical run (matches, episode
maps, an unmatched series, a movie, a failure, an override set and removed), a second generation
(changes, new titles, removals), a failed generation, and finally an interrupted generation and an
interrupted details run (started, some events, no end). Download tasks and categories come along.
Sites are interleaved in chunks, as concurrent crawls would append them.
"""

from __future__ import annotations

import random
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from anibridge.config import SITES
from anibridge.events import Journal
from anibridge.events.registry import Event
from anibridge.events.types import (
    CanonicalFailed,
    CanonicalOverrideSet,
    CanonicalRunCompleted,
    CanonicalRunStarted,
    CategoryCreated,
    CategoryEdited,
    CategoryRemoved,
    DetailsRunCompleted,
    DetailsRunProgress,
    DetailsRunStarted,
    EpisodeInfo,
    EpisodeMapRecorded,
    MovieIdentified,
    SeriesMatched,
    SeriesUnmatched,
    TaskCategorySet,
    TaskCompleted,
    TaskDeleted,
    TaskFailed,
    TaskForceStartSet,
    TaskPaused,
    TaskProgress,
    TaskQueueMoved,
    TaskRequested,
    TaskResumed,
    TaskStarted,
    TitleDetailsFailed,
    TitleDetailsRecorded,
    TitleRemoved,
    TitlesGenerationCompleted,
    TitlesGenerationFailed,
    TitlesGenerationStarted,
    TitleUpserted,
)

_WORDS = ("Shingeki", "no", "Kyojin", "Kimetsu", "Yaiba", "Bär", "Straße", "Über", "Café", "Großstadt", "Tōkyō",
          "Ghoul", "Hunter", "One", "Piece", "Naruto", "Dr.", "Stone", "Frieren", "Sousou", "Ränder", "Nacht")
LANGS = ("German Dub", "German Sub", "English Sub", "English Dub")
HOSTERS = ("VOE", "Filemoon", "Vidoza", "Streamtape", "Doodstream")
_T0 = 1_700_000_000.0


def title_name(rng: random.Random, k: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 4))) + f" {k}"


def upsert(site: str, gen: int, k: int, rng: random.Random, rev: int = 0) -> TitleUpserted:
    slug = f"title-{k}"
    name = title_name(rng, k)
    movie = site == "megakino"
    return TitleUpserted(
        site=site, generation=gen, slug=slug, title=name,
        alt_titles=[f"{name} Alt", title_name(rng, k)][: rng.randint(0, 2)],
        path=f"/{'film' if movie else 'anime/stream'}/{slug}", media_type="movie" if movie else "series",
        content_hash=f"{zlib.crc32(f'{site}/{k}/{rev}'.encode()):08x}",
    )


def details(site: str, run: int, k: int, rng: random.Random, episodes: int | None = None) -> TitleDetailsRecorded:
    n = episodes if episodes is not None else rng.randint(5, 14)
    eps = [
        EpisodeInfo(season=1 + i // 12, episode=1 + i % 12, title_de=f"Folge {i + 1} {rng.choice(_WORDS)}",
                    title_en=f"Episode {i + 1}", languages=sorted(rng.sample(LANGS, rng.randint(1, 3))),
                    hosters=sorted(rng.sample(HOSTERS, rng.randint(1, 3))),
                    path=f"/anime/stream/title-{k}/staffel-{1 + i // 12}/episode-{1 + i % 12}")
        for i in range(n)
    ]
    return TitleDetailsRecorded(site=site, run=run, slug=f"title-{k}", content_hash=f"d{run}-{k}-{n}",
                                description=f"Beschreibung {k} {rng.choice(_WORDS)}",
                                year=rng.choice([None, 1999 + k % 25]), episodes=eps)


@dataclass
class Scenario:
    events: list[Event] = field(default_factory=list)
    # per site: events of the interrupted (last, unfinished) generation and details run
    pending_title_events: Counter[str] = field(default_factory=Counter)
    pending_details_recorded: Counter[str] = field(default_factory=Counter)
    live_titles: dict[str, set[str]] = field(default_factory=dict)

    def count(self, type_name: str) -> int:
        return sum(1 for e in self.events if e.type_name == type_name)


def site_events(site: str, titles: int, rng: random.Random, sc: Scenario) -> Iterator[Event]:
    live = set(range(titles))
    yield TitlesGenerationStarted(site=site, generation=1, url=f"https://{site}/alle")
    for k in range(titles):
        yield upsert(site, 1, k, rng)
    yield TitlesGenerationCompleted(site=site, generation=1, total=titles, added=titles, changed=0, removed=0,
                                    duration_s=1.5)
    # details run 1: most titles, a few failures, progress checkpoints
    yield DetailsRunStarted(site=site, run=1, total=titles)
    done = failed = 0
    for k in range(titles):
        if k % 17 == 5:
            failed += 1
            yield TitleDetailsFailed(site=site, run=1, slug=f"title-{k}", url=f"https://{site}/x/title-{k}",
                                     reason="HTTP 503", retry_at=_T0 + k)
        else:
            done += 1
            yield details(site, 1, k, rng)
        if k % 50 == 49:
            yield DetailsRunProgress(site=site, run=1, cursor=f"title-{k}", done=done, failed=failed, unchanged=0)
    yield DetailsRunCompleted(site=site, run=1, done=done, failed=failed, unchanged=0, changed=done, duration_s=9.0)
    # canonical run
    yield CanonicalRunStarted(site=site, run=1, total=titles)
    for k in range(titles):
        slug = f"title-{k}"
        if site == "megakino":
            yield MovieIdentified(site=site, slug=slug, title=f"Movie {k}", year=2000 + k % 20,
                                  imdb_id=f"tt{1000000 + k}", tmdb_id=500 + k, details_hash=f"d1-{k}")
        elif k % 11 == 3:
            yield SeriesUnmatched(site=site, slug=slug, status="ambiguous" if k % 2 else "unmatched",
                                  reason="two candidates", candidates=[k, k + 1])
        elif k % 13 == 4:
            yield CanonicalFailed(site=site, slug=slug, reason="skyhook timeout", retry_at=_T0 + 60)
        else:
            yield SeriesMatched(site=site, slug=slug, tvdb_id=70000 + k, tvdb_title=f"Series {k}", year=2010,
                                imdb_id=None, confidence=0.93, source="skyhook", reason="title+year")
            yield EpisodeMapRecorded(site=site, slug=slug, tvdb_id=70000 + k,
                                     entries=[(1, e, 1, e, e if k % 2 else None) for e in range(1, 6)])
    yield CanonicalOverrideSet(site=site, slug="title-1", tvdb_id=424242)
    yield CanonicalOverrideSet(site=site, slug="title-2", tvdb_id=777)
    yield CanonicalOverrideSet(site=site, slug="title-2", tvdb_id=None)
    yield CanonicalRunCompleted(site=site, run=1, matched=titles // 2, unmatched=3, ambiguous=2, failed=1,
                                duration_s=4.0)
    # generation 2: some changed, some new, some removed
    yield TitlesGenerationStarted(site=site, generation=2, url=f"https://{site}/alle")
    changed = [k for k in range(titles) if k % 7 == 0]
    removed = [k for k in range(titles) if k % 9 == 8]
    new = list(range(titles, titles + titles // 10))
    for k in changed:
        yield upsert(site, 2, k, rng, rev=2)
    for k in new:
        yield upsert(site, 2, k, rng)
    for k in removed:
        yield TitleRemoved(site=site, generation=2, slug=f"title-{k}")
    live = (live | set(new)) - set(removed)
    yield TitlesGenerationCompleted(site=site, generation=2, total=len(live), added=len(new), changed=len(changed),
                                    removed=len(removed), duration_s=2.0)
    # generation 3 fails: nothing of it may become visible
    yield TitlesGenerationStarted(site=site, generation=3, url=f"https://{site}/alle")
    for k in range(0, titles, 5):
        yield upsert(site, 3, k, rng, rev=3)
    yield TitleRemoved(site=site, generation=3, slug="title-0")
    yield TitlesGenerationFailed(site=site, generation=3, reason="alphabet page returned 500")
    # generation 4 is interrupted (the crawler was killed): staged, never live
    yield TitlesGenerationStarted(site=site, generation=4, url=f"https://{site}/alle")
    for k in range(1, titles, 6):
        sc.pending_title_events[site] += 1
        yield upsert(site, 4, k, rng, rev=4)
    sc.pending_title_events[site] += 1
    yield TitleRemoved(site=site, generation=4, slug="title-1")
    # details run 2 is interrupted too, after recording a few titles (one of them removed meanwhile)
    yield DetailsRunStarted(site=site, run=2, total=len(live))
    for k in sorted(live)[:: max(1, titles // 15)]:
        sc.pending_details_recorded[site] += 1
        yield details(site, 2, k, rng)
    yield details(site, 2, removed[0], rng)  # removed meanwhile: ignored, not counted
    sc.live_titles[site] = {f"title-{k}" for k in live}


def task_events(n: int, rng: random.Random) -> Iterator[Event]:
    yield CategoryCreated(name="sonarr", save_path="/downloads/sonarr")
    yield CategoryCreated(name="radarr", save_path="/downloads/radarr")
    yield CategoryEdited(name="sonarr", save_path="/downloads/tv")
    yield CategoryCreated(name="tmp")
    for i in range(n):
        h = f"{i:040x}"
        yield TaskRequested(hash=h, site="aniworld.to", slug=f"title-{i}", season=1, episode=1 + i % 12,
                            language="German Dub", name=f"Title {i} S01E{1 + i % 12:02d}", magnet=f"magnet:?xt={h}",
                            category="sonarr" if i % 3 else "tmp", paused=i % 10 == 9, added_on=_T0 + i)
        if i % 10 == 9:
            continue
        yield TaskStarted(hash=h, host=rng.choice(HOSTERS))
        for step in (1, 2):
            yield TaskProgress(hash=h, downloaded=step * 1000, total=3000, speed=100.0)
        match i % 6:
            case 0:
                yield TaskCompleted(hash=h, path=f"Title {i}/S01E01.mp4", size=3000, quality="1080p",
                                    completed_on=_T0 + i + 5)
            case 1:
                yield TaskFailed(hash=h, reason="hoster gone")
                yield TaskResumed(hash=h)
            case 2:
                yield TaskPaused(hash=h)
            case 3:
                yield TaskDeleted(hash=h, delete_files=True)
            case 4:
                yield TaskCategorySet(hash=h, category="radarr")
                yield TaskQueueMoved(hash=h, rank=-float(i))
                yield TaskForceStartSet(hash=h, forced=i % 12 == 4)
            case _:  # failed for good, with the marker file Sonarr and Radarr fail it by
                yield TaskFailed(hash=h, reason="every hoster failed", marker_size=321,
                                 marker_path=f"Title {i}/S01E01.anibridge-failed.sh")
    yield CategoryRemoved(name="tmp")


def catalog_scenario(titles: int = 120, tasks: int = 40, seed: int = 7, chunk: int = 25) -> Scenario:
    """All events of the scenario, sites interleaved ``chunk`` events at a time."""
    rng = random.Random(seed)
    sc = Scenario()
    streams = [site_events(site, titles, rng, sc) for site in SITES] + [task_events(tasks, rng)]
    while streams:
        for it in list(streams):
            for _ in range(chunk):
                ev = next(it, None)
                if ev is None:
                    streams.remove(it)
                    break
                sc.events.append(ev)
    return sc


def write(journal: Journal, events: list[Event], batch: int = 500) -> int:
    """Append in batches as crawlers do; returns the head."""
    for i in range(0, len(events), batch):
        journal.append(events[i:i + batch])
    return journal.head()
