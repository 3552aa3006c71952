"""Canonical stage: provider titles -> TVDB (via the devworld's SkyHook) and movies -> year/IMDb.

Real sockets: the devworld serves provider pages and SkyHook; AniBridge crawls titles, details
and canonical against it, and the results are compared with ``world.truth``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anibridge.crawlers import canonical, matching
from anibridge.crawlers.skyhook import DiskCache, Show, ShowEpisode, ShowSummary
from anibridge.crawlers.stages import StageRunner
from anibridge.devworld.testing import RunningWorld, running_world
from anibridge.events.types import SeriesUnmatched
from anibridge.projections.catalog import CatalogProjection
from anibridge.projections.projector import catch_up, open_projection
from anibridge.testing import Harness, crawl_now, running_anibridge, world_env
from anibridge.text import normalize

SITES = ["aniworld.to", "s.to", "megakino"]
WORLD_SITE = {"aniworld.to": "aniworld", "s.to": "sto", "megakino": "megakino"}
STAGES = ("titles", "details", "canonical")


def truth(world: RunningWorld, site: str, slug: str) -> dict[str, Any]:
    # Megakino page slugs are <id>-<slug>, and a serial's (one season) ends in -1-staffel
    wslug = slug.split("-", 1)[1].removesuffix("-1-staffel") if site == "megakino" else slug
    found = world.truth(WORLD_SITE[site], wslug)
    assert found is not None, (site, slug)
    return found


def canonical_row(h: Harness, site: str, slug: str) -> dict[str, Any]:
    cur = h.runtime.catalog.conn().execute("SELECT * FROM canonical WHERE site = ? AND slug = ?", (site, slug))
    cols = [d[0] for d in cur.getdescription()]
    row = cur.fetchone()
    assert row is not None, f"no canonical row for {site}/{slug}"
    return dict(zip(cols, row, strict=True))


def episode_map(h: Harness, site: str, slug: str) -> dict[tuple[int, int], tuple[int, int, int | None]]:
    rows = h.runtime.catalog.conn().execute(
        "SELECT season, episode, tvdb_season, tvdb_episode, absolute FROM episode_map WHERE site = ? AND slug = ?",
        (site, slug))
    return {(s, e): (ts, te, ab) for s, e, ts, te, ab in rows}


def provider_episodes(h: Harness, site: str, slug: str) -> list[tuple[int, int]]:
    return list(h.runtime.catalog.conn().execute(
        "SELECT season, episode FROM episodes WHERE site = ? AND slug = ? ORDER BY season, episode", (site, slug)))


def series_rows(h: Harness, sites: list[str] | None = None) -> Iterator[tuple[str, str, str]]:
    for site in sites or ["aniworld.to", "s.to"]:
        for slug, title in h.runtime.catalog.conn().execute(
                "SELECT slug, title FROM titles WHERE site = ? AND media_type = 'series' ORDER BY slug", (site,)):
            yield site, slug, title


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningWorld, Harness, list[Any]]]:
    """One world (60 titles a site) crawled through titles, details and canonical."""
    with running_world(seed=1, titles=60) as world, \
            running_anibridge(tmp_path_factory.mktemp("canon"), **world_env(world)) as h:
        results = crawl_now(h.runtime, sites=SITES, stages=STAGES)
        yield world, h, results


# --- the stage as a whole ------------------------------------------------------------------------
def test_stage_completes_with_counts(crawled: tuple[RunningWorld, Harness, list[Any]]) -> None:
    _, h, results = crawled
    canon = [r for r in results if r.stage == "canonical"]
    assert [r.site for r in canon] == SITES
    assert all(r.ok and r.failed == 0 and r.done == 60 for r in canon), canon
    status = h.runtime.catalog.stage_status()
    for site in SITES:
        st = status[site]["canonical"]
        assert st["state"] == "ready" and st["total"] == 60 and st["done"] == 60 and st["failed"] == 0
    counts = h.runtime.catalog.conn().execute("SELECT count(*) FROM canonical").fetchone()[0]
    assert counts == 180


def test_unchanged_titles_are_not_remapped_and_progress_is_reported(
        crawled: tuple[RunningWorld, Harness, list[Any]]) -> None:
    _, h, _ = crawled
    head = h.runtime.journal.head()
    runner = StageRunner(h.settings, h.runtime.journal, h.runtime.catalog_projector, h.runtime.catalog)
    seen: list[tuple[str, int, int | None, str]] = []
    res = asyncio.run(canonical.run_canonical(runner, "aniworld.to", lambda *a: seen.append(a)))
    assert res.ok and res.done == 0 and res.unchanged == 60
    assert seen and seen[-1] == ("aniworld.to", 0, 0, "canonical")
    assert h.runtime.journal.head() == head + 2  # only CanonicalRunStarted + CanonicalRunCompleted


# --- series matching -----------------------------------------------------------------------------
def test_exact_title_matches(crawled: tuple[RunningWorld, Harness, list[Any]]) -> None:
    world, h, _ = crawled
    checked = 0
    for site, slug, title in series_rows(h):
        t = truth(world, site, slug)
        if t["status"] != "match" or normalize(t["tvdb_title"]) != normalize(title):
            continue
        row = canonical_row(h, site, slug)
        if h.runtime.catalog.title(site, slug).year is None:  # type: ignore[union-attr]
            # without a year a same-named show cannot be told apart: unmatched is allowed, a wrong id is not
            assert row["tvdb_id"] in (None, t["tvdb_id"]), row
            continue
        assert (row["status"], row["tvdb_id"]) == ("matched", t["tvdb_id"]), row
        assert row["source"] == "skyhook" and row["confidence"] >= matching.MATCH_THRESHOLD
        assert "equals the TVDB title" in row["reason"]
        checked += 1
    assert checked >= 20


def test_alternative_title_matches(crawled: tuple[RunningWorld, Harness, list[Any]]) -> None:
    """TVDB knows the show under another name (English vs romaji vs German): found through aliases."""
    world, h, _ = crawled
    checked = 0
    for site, slug, title in series_rows(h):
        t = truth(world, site, slug)
        if t["status"] != "match" or normalize(t["tvdb_title"]) == normalize(title):
            continue
        row = canonical_row(h, site, slug)
        assert (row["status"], row["tvdb_id"]) == ("matched", t["tvdb_id"]), (slug, row)
        assert row["tvdb_title"] == t["tvdb_title"]
        assert "alternat" in row["reason"], row["reason"]
        checked += 1
    assert checked >= 10


def test_ambiguous_names_are_never_guessed(crawled: tuple[RunningWorld, Harness, list[Any]]) -> None:
    """Titles with a same-named decoy on TVDB: either resolved to the real show or left ambiguous."""
    world, h, _ = crawled
    resolved = left = 0
    for site, slug, _ in series_rows(h):
        t = truth(world, site, slug)
        if t["status"] != "ambiguous":
            continue
        row = canonical_row(h, site, slug)
        assert row["tvdb_id"] != t["decoy_tvdb_id"], row
        if row["status"] == "matched":
            assert row["tvdb_id"] == t["tvdb_id"]
            assert "next best" in row["reason"]  # the rival is named in the explanation
            resolved += 1
        else:
            assert row["status"] == "ambiguous" and "fit about equally" in row["reason"], row
            assert not episode_map(h, site, slug)
            left += 1
    assert resolved >= 5 and left >= 1
    events = [ev.event for ev in h.runtime.journal.read(types=["canonical.series_unmatched"])]
    ambiguous = [ev for ev in events if isinstance(ev, SeriesUnmatched) and ev.status == "ambiguous"]
    assert ambiguous and all(len(ev.candidates) >= 2 for ev in ambiguous)


def test_unmatched_titles_stay_unmatched(crawled: tuple[RunningWorld, Harness, list[Any]]) -> None:
    world, h, _ = crawled
    checked = 0
    for site, slug, _ in series_rows(h):
        if truth(world, site, slug)["status"] != "unmatched":
            continue
        row = canonical_row(h, site, slug)
        assert row["status"] == "unmatched" and row["tvdb_id"] is None and row["reason"], row
        assert not episode_map(h, site, slug)
        assert h.runtime.catalog.title(site, slug).tvdb_id is None  # type: ignore[union-attr]
        checked += 1
    assert checked >= 8


# --- episode numbering ---------------------------------------------------------------------------
def _mapped_titles(world: RunningWorld, h: Harness, sites: list[str]) -> Iterator[tuple[str, str, dict[Any, Any]]]:
    for site, slug, _ in series_rows(h, sites):
        t = truth(world, site, slug)
        row = canonical_row(h, site, slug)
        if row["status"] == "matched" and row["tvdb_id"] == t["tvdb_id"]:
            yield site, slug, t["episode_map"]


def test_provider_season_split_across_tvdb_seasons(crawled: tuple[RunningWorld, Harness, list[Any]]) -> None:
    world, h, _ = crawled
    checked = 0
    for site, slug, want in _mapped_titles(world, h, ["aniworld.to"]):
        if not any(ps > 0 and ps != ts for (ps, _), (ts, _, _) in want.items()):
            continue
        got = episode_map(h, site, slug)
        for key in provider_episodes(h, site, slug):
            assert got.get(key) == want[key], (slug, key, got.get(key), want[key])
        assert "broadcast order" in canonical_row(h, site, slug)["reason"]
        # Sonarr asks in TVDB numbers: TVDB S2E1 is a provider S1 episode
        split_key = next(k for k, v in sorted(want.items()) if k[0] > 0 and v[0] != k[0])
        tvdb_s, tvdb_e, _ = want[split_key]
        hits = h.runtime.catalog.episodes(site, slug, tvdb_s, tvdb_e, canonical=True)
        assert [(e.season, e.episode) for e in hits] == [split_key]
        checked += 1
    assert checked >= 3


def test_absolute_numbers(crawled: tuple[RunningWorld, Harness, list[Any]]) -> None:
    world, h, _ = crawled
    checked = 0
    for site, slug, want in _mapped_titles(world, h, ["aniworld.to"]):
        got = episode_map(h, site, slug)
        regular = [k for k in provider_episodes(h, site, slug) if k[0] > 0]
        for key in regular:
            assert got[key][2] == want[key][2] and got[key][2] is not None, (slug, key)
        last = regular[-1]
        hits = h.runtime.catalog.episode_by_absolute(site, slug, want[last][2])
        assert [(e.season, e.episode) for e in hits] == [last]
        checked += 1
    assert checked >= 20
    # s.to has no absolute numbering on TVDB: none is invented
    for site, slug, _ in _mapped_titles(world, h, ["s.to"]):
        assert all(v[2] is None for v in episode_map(h, site, slug).values())


def test_specials_map_to_tvdb_season_zero(crawled: tuple[RunningWorld, Harness, list[Any]]) -> None:
    world, h, _ = crawled
    checked = 0
    for site, slug, want in _mapped_titles(world, h, ["aniworld.to", "s.to"]):
        specials = [k for k in provider_episodes(h, site, slug) if k[0] == 0]
        if not specials:
            continue
        got = episode_map(h, site, slug)
        for key in specials:
            assert got.get(key) == want[key], (slug, key)
            assert got[key][0] == 0
        checked += 1
    assert checked >= 5


def test_every_mapped_episode_agrees_with_truth(crawled: tuple[RunningWorld, Harness, list[Any]]) -> None:
    world, h, _ = crawled
    total = 0
    for site, slug, want in _mapped_titles(world, h, ["aniworld.to", "s.to"]):
        got = episode_map(h, site, slug)
        for key in provider_episodes(h, site, slug):
            assert got.get(key) == want.get(key), (site, slug, key)
            total += 1
    assert total > 1000


# --- movies --------------------------------------------------------------------------------------
def test_movies_identified_with_year(crawled: tuple[RunningWorld, Harness, list[Any]]) -> None:
    world, h, _ = crawled
    conn = h.runtime.catalog.conn()
    has_imdb_column = any(r[1] == "imdb_id" for r in conn.execute("PRAGMA table_info(titles)"))
    films = conn.execute("SELECT slug FROM titles WHERE site = 'megakino' AND media_type = 'movie'").fetchall()
    assert len(films) >= 30
    for (slug,) in films:
        t = truth(world, "megakino", slug)
        info = world.world.info("megakino", slug.split("-", 1)[1])
        assert info is not None
        row = canonical_row(h, "megakino", slug)
        assert row["status"] == "movie" and row["year"] == t["year"], row
        assert row["tvdb_title"] == info.title  # the page's title, not the slug's words
        if has_imdb_column:
            assert row["imdb_id"] == (t["imdb_id"] if t["status"] == "match" else None)
        else:
            assert row["imdb_id"] is None  # never invented
        assert h.runtime.catalog.title("megakino", slug).canon_year == t["year"]  # type: ignore[union-attr]


def test_megakino_serials_are_matched_as_series(crawled: tuple[RunningWorld, Harness, list[Any]]) -> None:
    world, h, _ = crawled
    checked = 0
    for site, slug, _ in series_rows(h, ["megakino"]):
        t = truth(world, site, slug)
        row = canonical_row(h, site, slug)
        if t["status"] == "match":
            assert (row["status"], row["tvdb_id"]) == ("matched", t["tvdb_id"]), row
        elif t["status"] == "unmatched":
            assert row["status"] == "unmatched"
        checked += 1
    assert checked >= 3


# --- SkyHook down --------------------------------------------------------------------------------
def test_skyhook_down_fails_titles_then_a_later_run_maps_them(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(canonical, "RETRY_AFTER_S", 0.0)
    with running_world(seed=3, titles=20, faults=[{"mode": "503", "site": "skyhook"}]) as world, \
            running_anibridge(tmp_path, **world_env(world)) as h:
        results = crawl_now(h.runtime, sites=["aniworld.to"], stages=STAGES)
        titles, details, canon = results
        assert titles.ok and details.ok and details.done == 20 and details.failed == 0
        assert not canon.ok and canon.done == 0 and canon.failed == 20 and "503" in canon.reason
        status = h.runtime.catalog.stage_status()["aniworld.to"]
        assert status["canonical"]["state"] == "ready" and status["canonical"]["failed"] == 20
        assert status["details"]["state"] == "ready" and status["titles"]["state"] == "ready"
        rows = h.runtime.catalog.conn().execute(
            "SELECT status, retry_at, reason FROM canonical WHERE site = 'aniworld.to'").fetchall()
        assert len(rows) == 20 and all(r[0] == "failed" and r[1] is not None and r[2] for r in rows)
        assert h.runtime.catalog.counts("aniworld.to")["episodes"] > 0  # the catalogue still serves
        assert sum(world.fault_hits()) <= 30  # the breaker stopped hammering a dead API

        world.clear_faults()
        (canon2,) = crawl_now(h.runtime, sites=["aniworld.to"], stages=("canonical",))
        assert canon2.ok and canon2.failed == 0 and canon2.done == 20
        statuses = {s for (s,) in h.runtime.catalog.conn().execute(
            "SELECT status FROM canonical WHERE site = 'aniworld.to'")}
        assert "failed" not in statuses and "matched" in statuses


def test_failed_titles_wait_for_their_retry_time(tmp_path: Path) -> None:
    with running_world(seed=3, titles=10, faults=[{"mode": "503", "site": "skyhook"}]) as world, \
            running_anibridge(tmp_path, **world_env(world)) as h:
        crawl_now(h.runtime, sites=["aniworld.to"], stages=STAGES)
        world.clear_faults()
        (again,) = crawl_now(h.runtime, sites=["aniworld.to"], stages=("canonical",))
        assert again.done == 0 and again.failed == 0 and again.unchanged == 10


# --- pins ----------------------------------------------------------------------------------------
def _pin(h: Harness, site: str, slug: str, value: str, capsys: pytest.CaptureFixture[str]) -> str:
    from anibridge import commands

    rc = commands.pin(argparse.Namespace(site=site, slug=slug, tvdb_id=value), h.settings)
    out = capsys.readouterr().out
    assert rc == 0, out
    return out


def _table(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(sql)]


def test_pin_wins_and_survives_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with running_world(seed=1, titles=30) as world, \
            running_anibridge(tmp_path / "data", **world_env(world)) as h:
        crawl_now(h.runtime, sites=["aniworld.to"], stages=STAGES)
        matched = [(slug, tvdb) for slug, tvdb in h.runtime.catalog.conn().execute(
            "SELECT slug, tvdb_id FROM canonical WHERE site = 'aniworld.to' AND status = 'matched' ORDER BY slug")]
        (slug, own), (other_slug, other) = matched[0], matched[1]
        out = _pin(h, "aniworld", slug, str(other), capsys)
        assert f"pinned aniworld.to/{slug} to TVDB {other}" in out and f"TVDB {own}" in out

        crawl_now(h.runtime, sites=["aniworld.to"], stages=("canonical",))
        row = canonical_row(h, "aniworld.to", slug)
        assert (row["status"], row["tvdb_id"], row["source"], row["confidence"]) == ("matched", other, "override", 1.0)
        assert "pinned" in row["reason"]
        # the episode map is the pinned show's
        doc = world.world.canonical.show(other)
        assert doc is not None
        pinned_eps = {(e["seasonNumber"], e["episodeNumber"], e["absoluteEpisodeNumber"]) for e in doc["episodes"]}
        mapped = set(episode_map(h, "aniworld.to", slug).values())
        assert mapped and mapped <= pinned_eps
        assert h.runtime.catalog.title("aniworld.to", slug).pinned  # type: ignore[union-attr]
        assert {t.slug for t in h.runtime.catalog.titles_by_tvdb(other, ["aniworld.to"])} == {slug, other_slug}

        # another run keeps the pin (no automatic match overrides it)
        (again,) = crawl_now(h.runtime, sites=["aniworld.to"], stages=("canonical",))
        assert again.done == 0 and canonical_row(h, "aniworld.to", slug)["tvdb_id"] == other

        # replay: a projection rebuilt from the journal has the same canonical tables
        rebuilt = open_projection(tmp_path / "rebuilt.db", CatalogProjection())
        catch_up(h.runtime.journal, rebuilt, CatalogProjection())
        live = h.runtime.catalog.conn()
        for sql in ("SELECT * FROM canonical ORDER BY site, slug",
                    "SELECT * FROM canonical_overrides ORDER BY site, slug",
                    "SELECT * FROM episode_map ORDER BY site, slug, season, episode"):
            assert _table(rebuilt, sql) == _table(live, sql), sql
        pinned_row = rebuilt.execute("SELECT tvdb_id, source FROM canonical WHERE slug = ?", (slug,)).fetchall()
        assert [tuple(r) for r in pinned_row] == [(other, "override")]
        rebuilt.close()

        # removing the pin returns the title to automatic matching
        assert "removed the pin" in _pin(h, "aniworld.to", slug, "none", capsys)
        crawl_now(h.runtime, sites=["aniworld.to"], stages=("canonical",))
        row = canonical_row(h, "aniworld.to", slug)
        assert (row["tvdb_id"], row["source"]) == (own, "skyhook")


def test_pin_command_rejects_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from anibridge import commands
    from anibridge.testing import settings_for

    settings = settings_for(tmp_path)
    assert commands.pin(argparse.Namespace(site="nowhere", slug="x", tvdb_id="1"), settings) == 2
    assert commands.pin(argparse.Namespace(site="aniworld", slug="x", tvdb_id="abc"), settings) == 2
    assert commands.pin(argparse.Namespace(site="aniworld", slug="x", tvdb_id="123"), settings) == 0
    assert "pinned aniworld.to/x to TVDB 123" in capsys.readouterr().out


# --- units: scoring, ambiguity, numbering, cache -------------------------------------------------
def _summary(tvdb: int, title: str, year: int | None, alts: tuple[str, ...] = ()) -> ShowSummary:
    return ShowSummary(tvdb, title, year, None, alts)


def _show(summary: ShowSummary, seasons: dict[int, int], titles: dict[tuple[int, int], str] | None = None) -> Show:
    eps = []
    absolute = 0
    for s in sorted(seasons):
        for e in range(1, seasons[s] + 1):
            if s > 0:
                absolute += 1
            eps.append(ShowEpisode(s, e, absolute if s > 0 else None, (titles or {}).get((s, e), "")))
    return Show(summary, tuple(eps))


def test_near_tie_between_different_shows_is_ambiguous() -> None:
    provider = matching.ProviderTitle(("Kage no Hoshi",), None)
    a, b = _summary(1, "Kage no Hoshi", 2001), _summary(2, "Kage no Hoshi", 2015)
    decision = matching.decide(matching.rank(provider, [a, b]))
    assert decision.status == "ambiguous" and decision.candidates == [1, 2]
    # a year tells them apart
    dated = matching.ProviderTitle(("Kage no Hoshi",), 2015)
    decision = matching.decide(matching.rank(dated, [a, b]))
    assert decision.status == "matched" and decision.best and decision.best.show.tvdb_id == 2
    assert "year 2015 agrees" in decision.reason and "next best 1" in decision.reason


def test_loose_resemblance_is_not_a_match() -> None:
    provider = matching.ProviderTitle(("Kage no Hoshi Kai",), 2010)
    decision = matching.decide(matching.rank(provider, [_summary(1, "Kage no Tsuki", 2010)]))
    assert decision.status == "unmatched" and decision.candidates == [1]
    assert matching.decide([]).status == "unmatched"


def test_year_qualified_tvdb_title() -> None:
    provider = matching.ProviderTitle(("Neko",), 2011)
    plain, dated = _summary(1, "Neko", 1999), _summary(2, "Neko (2011)", 2011)
    decision = matching.decide(matching.rank(provider, [plain, dated]))
    assert decision.best and decision.best.show.tvdb_id == 2 and decision.status == "matched"


def test_episode_count_breaks_ties() -> None:
    eps = tuple(matching.ProviderEpisode(1, e) for e in range(1, 13))
    provider = matching.ProviderTitle(("Neko",), None, eps)
    a, b = _summary(1, "Neko", None), _summary(2, "Neko", None)
    cands = matching.rank(provider, [a, b])
    for cand, show in zip(cands, [_show(a, {1: 12}), _show(b, {1: 5})], strict=True):
        matching.add_episodes(cand, provider, show)
    decision = matching.decide(cands)
    assert decision.status == "matched" and decision.best and decision.best.show.tvdb_id == 1


def test_episode_map_layouts() -> None:
    show = _show(_summary(1, "X", 2000), {0: 3, 1: 12, 2: 12}, {(0, 2): "The Movie"})
    # same numbering
    same = [matching.ProviderEpisode(s, e) for s in (1, 2) for e in range(1, 13)]
    entries, why = matching.map_episodes(same, show)
    assert entries[0] == (1, 1, 1, 1, 1) and entries[-1] == (2, 12, 2, 12, 24) and "same season" in why
    # one long provider season -> two TVDB seasons
    long = [matching.ProviderEpisode(1, e) for e in range(1, 25)]
    entries, why = matching.map_episodes(long, show)
    assert (1, 13, 2, 1, 13) in entries and len(entries) == 24 and "broadcast order" in why
    # specials: by title first, then by number
    specials = [matching.ProviderEpisode(0, 1, "The Movie"), matching.ProviderEpisode(0, 3, "")]
    entries, why = matching.map_episodes(specials, show)
    assert entries == [(0, 1, 0, 2, None), (0, 3, 0, 3, None)] and "1 by title, 1 by number" in why


def test_disk_cache_expires(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, ttl=3600)
    assert cache.get("http://x/a") is None
    cache.put("http://x/a", b"[1]")
    assert cache.get("http://x/a") == b"[1]"
    assert cache.get("http://x/a", ttl=-1) is None  # a shorter per-kind TTL (show documents)
    old = DiskCache(tmp_path, ttl=-1)
    assert old.get("http://x/a") is None
    assert old.prune() == 1 and cache.get("http://x/a") is None


def test_far_more_provider_episodes_than_tvdb_is_another_show() -> None:
    eps = tuple(matching.ProviderEpisode(1, e) for e in range(1, 41))
    provider = matching.ProviderTitle(("Neko",), 2011, eps)
    show = _summary(1, "Neko", 2011)
    (cand,) = matching.rank(provider, [show])
    matching.add_episodes(cand, provider, _show(show, {1: 12}))
    decision = matching.decide([cand])
    assert decision.status == "unmatched" and "more than TVDB" in decision.reason


def test_season_layout_fit_outweighs_a_bare_count() -> None:
    provider = matching.ProviderTitle(("Neko",), None, tuple(
        matching.ProviderEpisode(s, e) for s, n in ((1, 12), (2, 5)) for e in range(1, n + 1)))
    a, b = _summary(1, "Neko", None), _summary(2, "Neko", None)
    cands = matching.rank(provider, [a, b])
    by_id = {c.show.tvdb_id: c for c in cands}
    matching.add_episodes(by_id[1], provider, _show(a, {1: 12, 2: 12}))  # airing: seasons line up
    matching.add_episodes(by_id[2], provider, _show(b, {1: 10, 2: 10, 3: 20}))  # whole seasons missing
    decision = matching.decide(cands)
    assert decision.status == "matched" and decision.best is by_id[1] and "seasons line up" in decision.reason
