"""Staged crawlers (titles, then details) against the local provider world: real sockets, no mocks.

Covers: full crawls of every site compared with the World object, title generations (failed,
shrunken, interrupted), kill -9 of ``anibridge crawl`` and resume, day-2 refresh appending exactly
the world's changes, the scheduler refreshing by itself, and progress derivable from the journal.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anibridge.crawlers.fetch import Fetcher
from anibridge.crawlers.parsers.megakino import token_gate_path
from anibridge.crawlers.scheduler import crawl_site
from anibridge.crawlers.stages import StageResult, StageRunner
from anibridge.devworld.model import LANGUAGES, Entry
from anibridge.devworld.testing import RunningWorld, running_world
from anibridge.devworld.world import World
from anibridge.events.journal import StoredEvent, open_connection
from anibridge.events.types import TitlesGenerationStarted, TitleUpserted
from anibridge.runtime import Runtime
from anibridge.testing import running_anibridge, settings_for, world_env

SITES = ("aniworld.to", "s.to", "megakino")
WORLD_SITE = {"aniworld.to": "aniworld", "s.to": "sto", "megakino": "megakino"}
ROOT = Path(__file__).resolve().parent.parent


# --- helpers --------------------------------------------------------------------------------------
def fast_fetcher(base: str, **overrides: Any) -> Fetcher:
    """Small timeouts and backoff: the local world answers in milliseconds."""
    kwargs: dict[str, Any] = {"concurrency": 4, "connect_timeout": 2.0, "read_timeout": 5.0, "max_retries": 3,
                              "backoff_base": 0.01, "backoff_cap": 0.05, "challenge_backoff_base": 0.01,
                              "retry_after_max": 0.05}
    kwargs.update(overrides)
    return Fetcher(base, **kwargs)


GATES: dict[str, dict[str, Any]] = {"megakino": {"gate": token_gate_path}}  # as sites.site_fetcher does


class Crawler:
    """A runtime (journal + projectors, no HTTP) and a StageRunner pointed at a world."""

    def __init__(self, data_dir: Path, world: RunningWorld, **env: Any) -> None:
        self.runtime = Runtime(settings_for(data_dir, **world_env(world), **env), crawl=False, downloads=False)
        self.runtime.start()
        self.bases = {site: self.runtime.settings.base_url(site) for site in SITES}
        self.runner = self.make_runner()

    def make_runner(self, bases: dict[str, str] | None = None, **fetch: Any) -> StageRunner:
        urls = {**self.bases, **(bases or {})}
        rt = self.runtime
        return StageRunner(rt.settings, rt.journal, rt.catalog_projector, rt.catalog,
                           fetcher_factory=lambda site: fast_fetcher(urls[site], **(GATES.get(site, {}) | fetch)))

    def crawl(self, site: str, stages: tuple[str, ...] = ("titles", "details"),
              runner: StageRunner | None = None) -> list[StageResult]:
        results = asyncio.run(crawl_site(runner or self.runner, site, stages))
        self.settle()
        return results

    def settle(self) -> None:
        assert self.runtime.catalog_projector.wait_until(self.runtime.journal.head(), 30)

    def head(self) -> int:
        return self.runtime.journal.head()

    def events(self, after: int = 0) -> list[StoredEvent]:
        return list(self.runtime.journal.read(after=after))

    def status(self, site: str, stage: str) -> dict[str, Any]:
        return self.runtime.catalog.stage_status()[site][stage]

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        return self.runtime.catalog.conn().execute(query, args).fetchall()

    def close(self) -> None:
        self.runtime.stop()


@pytest.fixture
def crawler_factory(tmp_path: Path) -> Iterator[Any]:
    made: list[Crawler] = []

    def make(world: RunningWorld, name: str = "data", **env: Any) -> Crawler:
        c = Crawler(tmp_path / name, world, **env)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def cat_slug(site: str, entry: Entry) -> str:
    """The catalogue's slug of a World entry (Megakino slugs carry the page id: ``<id>-<slug>``)."""
    return entry.page_slug if site == "megakino" else entry.slug


def types_of(events: list[StoredEvent]) -> Counter[str]:
    return Counter(ev.type for ev in events)


def slugs_of(events: list[StoredEvent], type_name: str) -> set[str]:
    return {ev.raw()["slug"] for ev in events if ev.type == type_name}


@pytest.fixture(scope="module")
def world() -> Iterator[RunningWorld]:
    with running_world(seed=1, titles=40, episodes_per_title=8) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean_world(world: RunningWorld) -> Iterator[None]:
    world.clear_faults()
    world.set_day(0)
    yield
    world.clear_faults()
    world.set_day(0)


# --- full crawl of each site, compared with the World -------------------------------------------
@pytest.fixture(scope="module")
def full_crawl(world: RunningWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawler]:
    c = Crawler(tmp_path_factory.mktemp("full"), world)
    try:
        for site in SITES:
            results = c.crawl(site)
            assert [r.stage for r in results] == ["titles", "details"]
            assert all(r.ok for r in results), results
        yield c
    finally:
        c.close()


def _world_episodes(w: World, site: str, slug: str) -> dict[tuple[int, int], tuple[str, str, set[str], set[str]]]:
    info = w.info(WORLD_SITE[site], slug)
    assert info is not None
    out = {}
    for season in sorted(info.seasons):
        for ep in w.season_episodes(info, season):
            out[(season, ep.number)] = (ep.title_de, ep.title_en, {LANGUAGES[lang] for lang in ep.languages},
                                        set(ep.hosters))
    return out


@pytest.mark.parametrize("site", SITES)
def test_full_crawl_matches_world(full_crawl: Crawler, world: RunningWorld, site: str) -> None:
    w = world.world
    entries = {cat_slug(site, e): e for e in w.entries(WORLD_SITE[site])}
    rows = {r[0]: r for r in full_crawl.sql(
        "SELECT slug, title, path, media_type, details_hash, episode_count, year FROM titles WHERE site = ?", site)}
    assert set(rows) == set(entries)
    counts = full_crawl.runtime.catalog.counts(site)
    assert counts["titles"] == counts["with_details"] == len(entries)
    titles_st, details_st = full_crawl.status(site, "titles"), full_crawl.status(site, "details")
    assert titles_st["state"] == details_st["state"] == "ready"
    assert details_st["done"] == len(entries) and details_st["failed"] == 0

    if site == "megakino":  # a film is one record (1/1); a serial records each of its episodes
        expected_episodes = sum(
            1 if e.kind == "film" else sum(len(w.season_episodes(info, s)) for s in info.regular_seasons)
            for e in entries.values() if (info := w.info(WORLD_SITE[site], e.slug)) is not None)
    else:
        expected_episodes = sum(sum(w.info(WORLD_SITE[site], e.slug).seasons.values())  # type: ignore[union-attr]
                                for e in entries.values())
    assert counts["episodes"] == expected_episodes

    sample = sorted(entries)[::4]
    for slug in sample:
        entry, row = entries[slug], rows[slug]
        assert row[2] == entry.path
        info = w.info(WORLD_SITE[site], entry.slug)
        assert info is not None
        assert row[6] == info.year, slug
        eps = {(r[0], r[1]): r[2:] for r in full_crawl.sql(
            "SELECT season, episode, title_de, title_en, languages, hosters FROM episodes"
            " WHERE site = ? AND slug = ?", site, slug)}
        if site == "megakino":
            assert row[3] == ("movie" if entry.kind == "film" else "series")
            if entry.kind == "serial":
                want = {(season, e.number): e for season in info.regular_seasons
                        for e in w.season_episodes(info, season)}
                assert set(eps) == set(want), slug
                for key, e in want.items():
                    _, _, langs, hosters = eps[key]
                    assert set(langs.split(",")) == {LANGUAGES[s.language] for s in e.streams}
                    assert set(hosters.split(",")) == {s.hoster for s in e.streams}
                continue
            (title_de, _, langs, hosters), = eps.values()
            assert title_de == entry.title
            # a film: the first language, every hoster of the title
            assert set(langs.split(",")) == {LANGUAGES[info.structure.languages[0]]}
            assert set(hosters.split(",")) == set(info.structure.hosters)
            continue
        assert row[1] == entry.title
        truth = _world_episodes(w, site, slug)
        assert set(eps) == set(truth), slug
        for key, (title_de, title_en, langs, hosters) in truth.items():
            got = eps[key]
            assert got[0] == title_de, (slug, key)
            if site == "aniworld.to":  # the s.to season table carries the German title only
                assert got[1] == title_en, (slug, key)
            assert set(got[2].split(",")) == langs, (slug, key)
            assert set(got[3].split(",")) == hosters, (slug, key)


# --- title generations ---------------------------------------------------------------------------
def test_failed_title_generation_never_goes_live(world: RunningWorld, crawler_factory: Any) -> None:
    c: Crawler = crawler_factory(world)
    assert all(r.ok for r in c.crawl("aniworld.to", ("titles",)))
    before = c.sql("SELECT slug, title, generation FROM titles WHERE site = 'aniworld.to' ORDER BY slug")
    world.set_faults([{"site": "aniworld", "path": "^/animes-alphabet$", "mode": "503"}])  # forever
    mark = c.head()
    (res,) = c.crawl("aniworld.to", ("titles",))
    assert not res.ok and "HTTP 503" in res.reason
    assert world.fault_hits() == [4]  # max_retries=3: four attempts, then give up
    new = c.events(mark)
    assert [ev.type for ev in new] == ["titles.generation_started", "titles.generation_failed"]
    assert new[1].raw()["generation"] == 2 and "503" in new[1].raw()["reason"]
    st = c.status("aniworld.to", "titles")
    assert st["state"] == "ready" and st["live_generation"] == 1 and "503" in st["last_error"]
    assert c.sql("SELECT slug, title, generation FROM titles WHERE site = 'aniworld.to' ORDER BY slug") == before
    assert c.runtime.catalog.titles_ready("aniworld.to")
    # the next good crawl completes generation 3; nothing changed, so nothing is re-upserted
    world.clear_faults()
    mark = c.head()
    (res,) = c.crawl("aniworld.to", ("titles",))
    assert res.ok and res.changed == 0
    assert types_of(c.events(mark)) == {"titles.generation_started": 1, "titles.generation_completed": 1}
    assert c.status("aniworld.to", "titles")["live_generation"] == 3


def test_title_list_shrinking_below_half_is_refused(world: RunningWorld, crawler_factory: Any) -> None:
    c: Crawler = crawler_factory(world)
    assert all(r.ok for r in c.crawl("aniworld.to", ("titles",)))
    with running_world(seed=1, titles=15, episodes_per_title=8) as small:  # 15 of 40 titles left
        runner = c.make_runner({"aniworld.to": small.aniworld})
        mark = c.head()
        (res,) = c.crawl("aniworld.to", ("titles",), runner=runner)
    assert not res.ok and "refusing to remove more than half" in res.reason
    new = c.events(mark)
    assert types_of(new) == {"titles.generation_started": 1, "titles.generation_failed": 1}  # no removals
    assert c.runtime.catalog.counts("aniworld.to")["titles"] == 40
    assert c.status("aniworld.to", "titles")["live_generation"] == 1


def test_interrupted_generation_is_failed_then_replaced(world: RunningWorld, crawler_factory: Any) -> None:
    c: Crawler = crawler_factory(world)
    assert all(r.ok for r in c.crawl("aniworld.to", ("titles",)))
    # a process killed mid-crawl: generation 2 started, one title staged, never completed
    c.runtime.journal.append([
        TitlesGenerationStarted(site="aniworld.to", generation=2, url="http://killed/animes-alphabet"),
        TitleUpserted(site="aniworld.to", generation=2, slug="ghost-title", title="Ghost", path="/anime/stream/x",
                      content_hash="0"),
    ])
    c.settle()
    assert c.status("aniworld.to", "titles")["state"] == "running"
    assert c.sql("SELECT 1 FROM titles WHERE slug = 'ghost-title'") == []  # staged, not live
    mark = c.head()
    (res,) = c.crawl("aniworld.to", ("titles",))
    assert res.ok
    new = c.events(mark)
    assert [ev.type for ev in new] == ["titles.generation_failed", "titles.generation_started",
                                       "titles.generation_completed"]
    failed, started, completed = (ev.raw() for ev in new)
    assert failed["generation"] == 2 and "interrupted" in failed["reason"]
    assert started["generation"] == completed["generation"] == 3
    st = c.status("aniworld.to", "titles")
    assert st["state"] == "ready" and st["live_generation"] == 3
    assert c.sql("SELECT 1 FROM titles WHERE slug = 'ghost-title'") == []
    assert c.sql("SELECT count(*) FROM pending_titles") == [(0,)]


# --- kill -9 during details, then resume ---------------------------------------------------------
_CLI = ("import sys, anibridge.crawlers.stages as s; s.PROGRESS_EVERY_SECONDS = 0.25;"
        " from anibridge.cli import main; sys.exit(main(sys.argv[1:]))")


def _journal_rows(path: Path) -> list[tuple[int, str, bytes]]:
    if not path.exists():
        return []
    conn = open_connection(path, readonly=True)
    try:
        return conn.execute("SELECT position, type, payload FROM events ORDER BY position").fetchall()
    except Exception:  # the file exists but the schema is not there yet
        return []
    finally:
        conn.close()


def test_kill_9_mid_details_resumes_same_run(tmp_path: Path) -> None:
    import orjson

    with running_world(seed=3, titles=40, episodes_per_title=4) as w:
        slugs = sorted(e.slug for e in w.world.entries("aniworld"))
        # one latency rule per series page: slows the crawl and counts how often each title was read
        w.set_faults([{"site": "aniworld", "path": f"^/anime/stream/{s}$", "mode": "latency", "seconds": 0.12}
                      for s in slugs])
        data = tmp_path / "data"
        env = {**os.environ, **world_env(w), "DATA_DIR": str(data), "CATALOG_SITES": "aniworld.to",
               "CRAWL_CONCURRENCY": "2", "LOG_LEVEL": "WARNING"}

        def cli(*args: str, **kw: Any) -> subprocess.Popen[bytes]:
            return subprocess.Popen([sys.executable, "-c", _CLI, *args], env=env, cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)

        with cli("crawl", "--site", "aniworld.to", "--stage", "titles") as first:
            assert first.wait(60) == 0
        proc = cli("crawl", "--site", "aniworld.to", "--stage", "details")
        journal = data / "journal.db"
        deadline = time.monotonic() + 30
        while True:  # poll the journal read-only until a checkpoint covering a few titles exists
            progress = [orjson.loads(p) for _, t, p in _journal_rows(journal) if t == "details.run_progress"]
            if progress and progress[-1]["done"] >= 4:
                break
            assert proc.poll() is None, "crawl finished before it could be killed"
            assert time.monotonic() < deadline, "no details progress within 30 s"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)  # (and closes its pipe)
        rows = _journal_rows(journal)
        before = [(t, orjson.loads(p)) for _, t, p in rows]
        assert not any(t == "details.run_completed" for t, _ in before), "killed too late"
        cursor = [p for t, p in before if t == "details.run_progress"][-1]["cursor"]
        recorded_before = {p["slug"] for t, p in before if t == "details.recorded"}
        checkpointed = {s for s in slugs if s <= cursor}
        assert cursor and checkpointed <= recorded_before
        hits_before = dict(zip(slugs, w.fault_hits(), strict=True))

        second = cli("crawl", "--site", "aniworld.to", "--stage", "details")
        _, err = second.communicate(timeout=60)
        assert second.returncode == 0, err.decode()[-2000:]

        hits = dict(zip(slugs, w.fault_hits(), strict=True))
        after = [(t, orjson.loads(p)) for _, t, p in _journal_rows(journal)[len(rows):]]
        types_after = Counter(t for t, _ in after)
        assert types_after["details.run_started"] == 0  # resumed the same run
        assert types_after["details.run_completed"] == 1
        (completed,) = [p for t, p in after if t == "details.run_completed"]
        assert completed["run"] == 1
        # nothing recorded before the kill (in particular nothing up to the checkpoint) was fetched again
        refetched = {s for s in recorded_before if hits[s] != hits_before[s]}
        assert refetched == set()
        assert all(hits[s] == 1 for s in checkpointed)
        assert all(hits[s] >= 1 for s in slugs)
        # every title read exactly once across both processes, counted once
        all_recorded = [p["slug"] for t, p in before + after if t == "details.recorded"]
        assert sorted(all_recorded) == slugs
        assert completed["done"] == 40 and completed["failed"] == 0 and completed["changed"] == 40

        status = subprocess.run([sys.executable, "-m", "anibridge.cli", "verify"], env=env, cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stderr
        assert "journal OK" in status.stdout

    # the projection agrees: every title has its details
    rt = Runtime(settings_for(data, CATALOG_SITES="aniworld.to"), crawl=False, downloads=False)
    rt.start()
    try:
        assert rt.catalog_projector.wait_until(rt.journal.head(), 30)
        counts = rt.catalog.counts("aniworld.to")
        assert counts["titles"] == counts["with_details"] == 40
        st = rt.catalog.stage_status()["aniworld.to"]["details"]
        assert st["state"] == "ready" and st["done"] == 40 and st["run"] == 1
    finally:
        rt.stop()


# --- day-2 refresh -------------------------------------------------------------------------------
def _diff(w: World, site: str, day0: int, day1: int) -> dict[str, set[str]]:
    """What changed between two days (catalogue slugs), computed from the World's content, not its log."""
    wsite = WORLD_SITE[site]
    a = {cat_slug(site, e): e for e in w.entries(wsite, day0)}
    b = {cat_slug(site, e): e for e in w.entries(wsite, day1)}
    common = set(a) & set(b)
    return {
        "added": set(b) - set(a),
        "removed": set(a) - set(b),
        "renamed": {s for s in common if (a[s].title, a[s].alts) != (b[s].title, b[s].alts)},
        "new_episodes": {s for s in common if w.info_by_uid(wsite, a[s].uid, day0).seasons  # type: ignore[union-attr]
                         != w.info_by_uid(wsite, a[s].uid, day1).seasons},  # type: ignore[union-attr]
    }


def test_day_two_refresh_appends_exactly_the_changes(tmp_path: Path) -> None:
    with running_world(seed=2, titles=30, episodes_per_title=8) as w:
        c = Crawler(tmp_path / "data", w)
        try:
            for site in SITES:
                assert all(r.ok for r in c.crawl(site))
            # unchanged world: only run bookkeeping events
            mark = c.head()
            for site in SITES:
                assert all(r.ok and r.changed == 0 for r in c.crawl(site))
            bookkeeping = {"titles.generation_started", "titles.generation_completed", "details.run_started",
                           "details.run_progress", "details.run_completed"}
            unchanged = types_of(c.events(mark))
            assert set(unchanged) <= bookkeeping, unchanged
            for t in bookkeeping - {"details.run_progress"}:
                assert unchanged[t] == 3

            w.set_day(1)
            for site in SITES:
                wsite = WORLD_SITE[site]
                diff = _diff(w.world, site, 0, 1)
                by_slug = {e.slug: cat_slug(site, e) for d in (0, 1) for e in w.world.entries(wsite, d)}
                logged = {k: {by_slug[s] for s in v} for k, v in w.world.changes(wsite, 1).items()}
                assert logged == diff  # our diff agrees with the World's own change log
                assert all(diff[k] for k in ("added", "removed", "renamed"))
                mark = c.head()
                assert all(r.ok for r in c.crawl(site))
                new = c.events(mark)
                assert set(types_of(new)) <= bookkeeping | {"titles.upserted", "titles.removed", "details.recorded"}
                assert all(ev.raw()["site"] == site for ev in new)
                assert slugs_of(new, "titles.removed") == diff["removed"]
                if site == "megakino":
                    # the sitemap shows slugs only: a rename shows on the film page (details), not the list
                    assert slugs_of(new, "titles.upserted") == diff["added"]
                    recorded = slugs_of(new, "details.recorded")
                    assert diff["added"] | diff["renamed"] <= recorded
                    assert recorded <= diff["added"] | diff["renamed"] | diff["new_episodes"]
                else:
                    assert slugs_of(new, "titles.upserted") == diff["added"] | diff["renamed"]
                    assert slugs_of(new, "details.recorded") == diff["added"] | diff["new_episodes"]
                assert c.runtime.catalog.counts(site)["titles"] == len(w.world.entries(wsite))
                if site != "megakino":
                    for slug in diff["new_episodes"]:
                        got = c.sql("SELECT count(*) FROM episodes WHERE site = ? AND slug = ?", site, slug)[0][0]
                        assert got == sum(w.world.info(wsite, slug).seasons.values())  # type: ignore[union-attr]
        finally:
            c.close()


# --- scheduled refresh ---------------------------------------------------------------------------
def test_scheduler_refreshes_by_itself(world: RunningWorld, tmp_path: Path) -> None:
    env = {**world_env(world), "CATALOG_SITES": "megakino", "PROVIDER_INDEX_REFRESH_HOURS": "0.0003"}
    with running_anibridge(tmp_path / "data", crawl=True, downloads=False, **env) as h:
        rt = h.runtime
        deadline = time.monotonic() + 40
        while True:
            done = list(rt.journal.read(types=["titles.generation_completed", "details.run_completed"]))
            per_type = types_of(done)
            if per_type["titles.generation_completed"] >= 2 and per_type["details.run_completed"] >= 2:
                break
            assert time.monotonic() < deadline, f"no second scheduled crawl: {per_type}"
            time.sleep(0.1)
        gens = [ev.raw()["generation"] for ev in done if ev.type == "titles.generation_completed"]
        assert gens[:2] == [1, 2]
        assert rt.scheduler is not None and rt.scheduler.next_run("megakino") is not None


def test_a_site_never_indexed_is_retried_soon_not_after_a_day(world: RunningWorld, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The first title crawl fails (the list page answers 503 through every retry): the scheduler
    retries after a short back-off instead of waiting for the 24 h refresh, and the site gets ready."""
    from anibridge.crawlers import scheduler

    monkeypatch.setattr(scheduler, "FIRST_RETRY_S", 1.0)
    # 5 for the first crawl's tries, 2 for the start-up domain check (the live domain, and the one
    # before it, which redirects there)
    world.set_faults([{"site": "megakino", "path": "^/sitemap", "mode": "503", "times": 7}])
    env = {**world_env(world), "CATALOG_SITES": "megakino"}
    try:
        with running_anibridge(tmp_path / "data", crawl=True, downloads=False, **env) as h:
            rt = h.runtime
            deadline = time.monotonic() + 60
            while not rt.catalog.titles_ready("megakino"):
                assert time.monotonic() < deadline, "the site was not retried"
                time.sleep(0.1)
            types = [ev.type for ev in rt.journal.read(types=["titles.generation_failed",
                                                              "titles.generation_completed"])]
            assert types[:2] == ["titles.generation_failed", "titles.generation_completed"]
    finally:
        world.clear_faults()


# --- progress derivable from the journal alone ---------------------------------------------------
def test_progress_is_derivable_from_the_journal(world: RunningWorld, crawler_factory: Any) -> None:
    c: Crawler = crawler_factory(world)
    assert all(r.ok for r in c.crawl("aniworld.to", ("titles",)))
    # a few failing titles so 'failed' is not trivially zero
    broken = sorted(e.slug for e in world.world.entries("aniworld"))[5:8]
    world.set_faults([{"site": "aniworld", "path": f"^/anime/stream/{s}$", "mode": "malformed", "kind": "garbage"}
                      for s in broken])
    (res,) = c.crawl("aniworld.to", ("details",))
    assert res.ok and res.failed == 3
    derived: dict[str, int] = {}
    for ev in c.events():
        if not ev.type.startswith("details.") or ev.raw()["site"] != "aniworld.to":
            continue
        p = ev.raw()
        if ev.type == "details.run_started":
            derived = {"run": p["run"], "total": p["total"], "changed": 0, "failed": 0, "done": 0, "unchanged": 0}
        elif ev.type == "details.recorded":
            derived["changed"] += 1
        elif ev.type == "details.failed":
            derived["failed"] += 1
        elif ev.type in ("details.run_progress", "details.run_completed"):
            # every checkpoint agrees with the per-title events before it
            assert p["failed"] == derived["failed"]
            assert p["done"] == derived["changed"] + p["unchanged"]
            derived["done"], derived["unchanged"] = p["done"], p["unchanged"]
    st = c.status("aniworld.to", "details")
    assert {k: st[k] for k in derived} == derived
    assert derived["done"] + derived["failed"] == derived["total"] == 40
    assert derived["failed"] == 3 and derived["changed"] == 37
