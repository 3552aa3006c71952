"""Sonarr's, Radarr's and Prowlarr's Torznab requests replayed against a real AniBridge and its catalogue.

Requests are built as NewznabRequestGenerator builds them (tiers, categories, paging), answers read as
TorznabRssParser and the title parsers read them (``arr_rules`` names each C# method).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import arr_rules as arr
import httpx
import pytest

from anibridge.devworld.testing import running_world
from anibridge.releases import parse_magnet
from anibridge.testing import Harness, crawl_now, running_anibridge

SONARR_CATS = "5000"  # Sonarr's default Categories are 5030,5040; users add 5000
ANIME_CATS = "5070"  # "Anime Categories": empty by default (then Sonarr sends no anime search at all)


@dataclass
class Env:
    h: Harness
    http: httpx.Client


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with running_world(seed=4, titles=30) as world, running_anibridge(
            tmp_path_factory.mktemp("arr-indexers"), downloads=False, **world.env()) as h:
        crawl_now(h.runtime, stages=("titles", "details", "canonical"))
        with httpx.Client(base_url=h.base_url, timeout=30) as http:
            yield Env(h, http)


def _rows(env: Env, sql: str, *args: object) -> list[tuple]:
    return list(env.h.runtime.catalog.conn().execute(sql, args))


def _check(release: arr.Release) -> None:
    """What Sonarr needs of every release it is to grab."""
    assert release.download_url.startswith("magnet:?xt=urn:btih:")
    assert release.magnet_url == release.download_url
    assert arr.magnet_hash(release.download_url) == release.info_hash.upper()
    assert release.size > 0 and (release.seeders or 0) >= 1
    assert arr.title_quality(release.title) == "WEBDL-480p", "the resolution is not known before the download"


# --- indexer test and RSS sync --------------------------------------------------------------------------
def test_sonarr_and_prowlarr_indexer_tests(env: Env) -> None:
    caps = ET.fromstring(env.http.get("/torznab/api/api", params={"t": "caps"}).content)
    tv = caps.find("./searching/tv-search")
    assert tv is not None and {"q", "season", "ep", "tvdbid"} <= set(tv.get("supportedParams", "").split(","))
    # Sonarr: the first request of GetRecentRequests; Prowlarr: t=search&extended=1
    sonarr_test = arr.paged({"t": "tvsearch", "cat": f"{SONARR_CATS},{ANIME_CATS}"})[0]
    for params in (sonarr_test, {"t": "search", "extended": 1}):
        releases = arr.parse_torznab(env.http.get("/torznab/api", params=params))
        assert releases, f"the indexer test fails on an empty feed: {params}"
        for release in releases:
            _check(release)


def test_sonarr_rss_sync_pages_until_the_release_it_saw_last(env: Env) -> None:
    recent = arr.paged({"t": "tvsearch", "cat": f"{SONARR_CATS},{ANIME_CATS}"})
    everything: list[arr.Release] = []
    for params in recent[:3]:
        everything += arr.parse_torznab(env.http.get("/torznab/api", params=params))
    assert len(everything) > 150, "the world is too small to page"
    assert len({r.download_url for r in everything}) == len(everything), "pages overlap"
    assert all("Connectivity" not in r.title for r in everything)
    # first sync: one page is enough (HttpIndexerBase: no release seen before)
    releases, pages = arr.fetch_releases(env.http, [[recent]], is_recent=True)
    assert pages == 1 and releases
    # a later sync, 150 releases since the last one: Sonarr must reach it on page two
    last = everything[150]
    releases, pages = arr.fetch_releases(env.http, [[recent]], is_recent=True, last=last)
    assert pages == 2, "Sonarr stopped paging before the release it saw last"
    assert last.download_url in {r.download_url for r in releases}


# --- searches --------------------------------------------------------------------------------------------
def _mapped_episode(env: Env, site: str) -> tuple[str, int, int, int, int, int | None]:
    rows = _rows(env, "SELECT c.slug, c.tvdb_id, m.season, m.episode, m.tvdb_season, m.tvdb_episode, m.absolute"
                      " FROM canonical c JOIN episode_map m USING (site, slug) WHERE c.site = ?"
                      " AND c.status = 'matched' AND m.tvdb_season > 0 ORDER BY c.slug, m.season, m.episode LIMIT 1",
                 site)
    if not rows:
        pytest.fail(f"no mapped episode on {site} in this world")
    slug, tvdb, _season, _episode, tvdb_season, tvdb_episode, absolute = rows[0]
    return slug, tvdb, tvdb_season, tvdb_episode, absolute or 0, None


def test_sonarr_episode_search_by_tvdbid_reads_the_right_episode_and_language(env: Env) -> None:
    slug, tvdb, season, episode, _abs, _ = _mapped_episode(env, "s.to")
    tiers = [[arr.paged({"t": "tvsearch", "cat": SONARR_CATS, "tvdbid": tvdb, "season": season, "ep": episode})]]
    releases, _ = arr.fetch_releases(env.http, tiers)
    assert releases
    for release in releases:
        _check(release)
        assert arr.episode_numbers(release.title) == (season, episode)
        language = parse_magnet(release.download_url).language
        # a dub names its audio; a sub has the original audio (for s.to series: English)
        expected = {"German Dub": ["German"], "English Dub": ["English"]}.get(language, ["English"])
        assert arr.release_languages(release, arr.title_languages(release.title), "English") == expected, \
            (release.title, language)


def test_sonarr_anime_searches(env: Env) -> None:
    """AnimeEpisodeSearchCriteria: tvdbid&q=<absolute:00> on the anime categories, then t=search&q=<title> NN."""
    slug, tvdb, season, episode, absolute, _ = _mapped_episode(env, "aniworld.to")
    assert absolute, "no absolute number"
    releases, _ = arr.fetch_releases(env.http, [[arr.paged({"t": "tvsearch", "cat": ANIME_CATS, "tvdbid": tvdb,
                                                            "q": f"{absolute:02d}"})]])
    assert releases, "the tvdbid + absolute anime search found nothing"
    assert {parse_magnet(r.download_url).slug for r in releases} == {slug}
    assert {arr.episode_numbers(r.title) for r in releases} == {(season, episode)}, "not just that episode"
    for release in releases:
        _check(release)
        language = parse_magnet(release.download_url).language
        # anime subs have Japanese audio: no language attribute, 'GER.SUB' is not German, so the original
        expected = {"German Dub": ["German"], "English Dub": ["English"]}.get(language, ["Japanese"])
        assert arr.release_languages(release, arr.title_languages(release.title), "Japanese") == expected
    title = _rows(env, "SELECT title FROM titles WHERE site = 'aniworld.to' AND slug = ?", slug)[0][0]
    query = f"{arr.clean_scene_title(title)} {absolute:02d}"
    releases, _ = arr.fetch_releases(env.http, [[arr.paged({"t": "search", "cat": ANIME_CATS, "q": query})]])
    assert releases and {arr.episode_numbers(r.title) for r in releases} == {(season, episode)}


def test_sonarr_season_and_daily_searches(env: Env) -> None:
    slug, tvdb, season, _episode, _abs, _ = _mapped_episode(env, "s.to")
    releases, _ = arr.fetch_releases(env.http, [[arr.paged({"t": "tvsearch", "cat": SONARR_CATS, "tvdbid": tvdb,
                                                            "season": season})]])
    assert releases and {arr.episode_numbers(r.title)[0] for r in releases} == {season}  # type: ignore[index]
    # specials go out as season=00 (NewznabifySeasonNumber); a daily search as season=YYYY&ep=MM/DD
    for extra in ({"season": "00"}, {"season": "2024", "ep": "03/15"}):
        r = env.http.get("/torznab/api", params={"t": "tvsearch", "cat": SONARR_CATS, "tvdbid": tvdb, **extra})
        arr.parse_torznab(r)  # no indexer failure


def test_title_search_takes_sonarrs_clean_scene_titles(env: Env) -> None:
    """Title tier: q=<CleanSceneTitle>&season&ep ('Hank's Miracle' -> 'Hanks Miracle'), and the TVDB form
    'Title (Year)' -> 'Title Year', with season/ep and without (a trailing year is no absolute number)."""
    apostrophe = _rows(env, "SELECT slug, title FROM titles WHERE site = 's.to' AND title LIKE '%''s %'")
    assert apostrophe, "this world has no title with an apostrophe"
    slug, title = apostrophe[0]
    query = arr.clean_scene_title(title)
    assert "'" not in query
    releases = arr.parse_torznab(env.http.get("/torznab/api", params={
        "t": "tvsearch", "cat": SONARR_CATS, "q": query, "season": 1, "ep": 1, "extended": 1}))
    assert releases and {parse_magnet(r.download_url).slug for r in releases} == {slug}

    slug, title, year = _rows(env, "SELECT slug, title, year FROM titles WHERE site = 's.to' AND year IS NOT NULL"
                                   " AND media_type = 'series' ORDER BY slug LIMIT 1")[0]
    query = arr.clean_scene_title(f"{title} ({year})")
    for extra in ({"season": 1, "ep": 1}, {}):
        releases = arr.parse_torznab(env.http.get("/torznab/api", params={
            "t": "tvsearch", "cat": SONARR_CATS, "q": query, "extended": 1, **extra}))
        assert releases, (query, extra)
        assert parse_magnet(releases[0].download_url).slug == slug


def test_megakino_series_answer_tv_searches(env: Env) -> None:
    rows = _rows(env, "SELECT t.slug, t.title, e.season, e.episode FROM titles t JOIN episodes e USING (site, slug)"
                      " WHERE t.site = 'megakino' AND t.media_type = 'series' ORDER BY t.slug, e.season, e.episode")
    assert rows, "no Megakino series in this world"
    slug, title, season, episode = rows[0]
    releases = arr.parse_torznab(env.http.get("/torznab/api", params={
        "t": "tvsearch", "cat": SONARR_CATS, "q": arr.clean_scene_title(title), "season": season, "ep": episode,
        "extended": 1}))
    assert releases and {parse_magnet(r.download_url).slug for r in releases} == {slug}
    assert all(5000 in r.categories for r in releases)


# --- Radarr --------------------------------------------------------------------------------------------
def test_radarr_movie_search_tiers_and_categories(env: Env) -> None:
    """Tier one t=movie&imdbid; tier two (only when it found nothing) t=search&q=<title> <year>."""
    slug, title, year = _rows(env, "SELECT slug, title, year FROM titles WHERE site = 'megakino'"
                                   " AND media_type = 'movie' AND year IS NOT NULL ORDER BY slug LIMIT 1")[0]
    tiers = [[arr.paged({"t": "movie", "cat": "2000", "imdbid": "9999999"})],
             [arr.paged({"t": "search", "cat": "2000", "q": f"{arr.clean_scene_title(title)} {year}"})]]
    releases, _ = arr.fetch_releases(env.http, tiers)
    assert releases, f"Radarr's fallback found nothing for {title} {year}"
    assert parse_magnet(releases[0].download_url).slug == slug
    assert all(2000 in r.categories for r in releases), "only the requested categories"
    for release in releases:
        assert arr.title_quality(release.title) == "WEBDL-480p"
    # a movie search for TV categories only answers nothing (and no failure)
    assert arr.parse_torznab(env.http.get("/torznab/api", params={"t": "movie", "cat": "5000", "q": title})) == []


def test_radarr_and_prowlarr_rss(env: Env) -> None:
    releases = arr.parse_torznab(env.http.get("/torznab/api", params=arr.paged({"t": "movie", "cat": "2000"})[0]))
    assert releases
    prowlarr = arr.parse_torznab(env.http.get("/torznab/api", params={"t": "search", "extended": 1, "limit": 100}))
    assert prowlarr


def test_initializing_answer_is_no_indexer_failure(tmp_path: Path) -> None:
    """While the catalogue is not searchable yet Sonarr must not back off (any status >= 400 or Newznab
    error is a failure in HttpIndexerBase.FetchReleases); its test still passes."""
    with running_anibridge(tmp_path, downloads=False, CATALOG_ENABLED="false") as h, \
            httpx.Client(base_url=h.base_url, timeout=10) as http:
        for params in ({"t": "tvsearch", "cat": SONARR_CATS, "q": "Anything", "season": 1, "ep": 1},
                       {"t": "tvsearch", "cat": ANIME_CATS, "tvdbid": 12345, "q": "05"},
                       {"t": "movie", "cat": "2000", "imdbid": "1234567"},
                       arr.paged({"t": "tvsearch", "cat": f"{SONARR_CATS},{ANIME_CATS}"})[0]):
            releases = arr.parse_torznab(http.get("/torznab/api", params=params))
            assert len(releases) <= 1 and all(arr.episode_numbers(r.title) is None for r in releases), \
                "nothing Sonarr could mistake for a release"
