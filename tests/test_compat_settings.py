"""AniBridge 2.5's settings, each changing what it should, on a real AniBridge over loopback.

One small world is crawled once; each test serves a copy of that data folder with its own settings.
"""

from __future__ import annotations

import logging
import shutil
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_downloads_e2e import DONE, Pick, client_for, pick, wait_state

from anibridge.config import ConfigError, load_settings
from anibridge.devworld.testing import RunningWorld, running_world
from anibridge.events import Journal
from anibridge.http.torznab.season import strict_walk
from anibridge.releases import build_magnet, info_hash, parse_magnet, release_title
from anibridge.testing import Harness, crawl_now, running_anibridge

TORZNAB = "{http://torznab.com/schemas/2015/feed}attr"
SITES = "aniworld.to,s.to"


@pytest.fixture(scope="module")
def world() -> Iterator[RunningWorld]:
    with running_world(seed=4, titles=8) as w:
        yield w


@pytest.fixture(scope="module")
def crawled(world: RunningWorld, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("crawled")
    with running_anibridge(data, CATALOG_SITES=SITES, downloads=False, **world.env()) as h:
        crawl_now(h.runtime, stages=("titles", "details"))
    return data


@contextmanager
def served(crawled: Path, tmp_path: Path, world: RunningWorld, **env: Any) -> Iterator[Harness]:
    data = tmp_path / "data"
    shutil.copytree(crawled, data)
    with running_anibridge(data, CATALOG_SITES=SITES, PROVIDER_DIRECT_LINK_TIMEOUT_SECONDS="5",
                           **world.env(), **env) as h:
        h.runtime.catalog_projector.wait_until(h.runtime.journal.head(), 30)
        yield h


def items(h: Harness, **params: Any) -> list[ET.Element]:
    reply = httpx.get(f"{h.base_url}/torznab/api", params=params, timeout=30)
    assert reply.status_code == 200, reply.text
    return ET.fromstring(reply.content).findall("./channel/item")


def attr(item: ET.Element, name: str) -> str | None:
    return next((a.get("value") for a in item.iter(TORZNAB) if a.get("name") == name), None)


def titles(found: list[ET.Element]) -> list[str]:
    return [i.findtext("title", "") for i in found]


def a_title(h: Harness, site: str) -> str:
    row = h.runtime.catalog.conn().execute(
        "SELECT t.title FROM titles t JOIN episodes e USING (site, slug) WHERE t.site = ? AND e.season = 1"
        " GROUP BY t.slug HAVING count(*) >= 3 ORDER BY t.slug LIMIT 1", (site,)).fetchone()
    assert row is not None
    return str(row[0])


# --- release naming and peers --------------------------------------------------------------------------
def test_release_naming_and_fake_peers(world: RunningWorld, crawled: Path, tmp_path: Path) -> None:
    with served(crawled, tmp_path / "default", world) as h:
        aw, st = a_title(h, "aniworld.to"), a_title(h, "s.to")
        found = items(h, t="search", q=aw)
        # no resolution is claimed before the download (it is not known)
        assert found and all(t.endswith("-ANIWORLD") and ".WEB.H264." in t and "1080p" not in t for t in titles(found))
        assert all(t.endswith("-STO") for t in titles(items(h, t="search", q=st)))
        assert (attr(found[0], "seeders"), attr(found[0], "peers")) == ("999", str(999 + 787))
    with served(crawled, tmp_path / "custom", world, SOURCE_TAG="WEB-DL", RELEASE_GROUP="subsplease",
                RELEASE_GROUP_STO="", TORZNAB_FAKE_SEEDERS="5", TORZNAB_FAKE_LEECHERS="3") as h:
        found = items(h, t="search", q=aw)
        assert all(t.endswith(".WEB-DL.H264.GER-SUBSPLEASE") or "-SUBSPLEASE" in t for t in titles(found))
        assert all(".WEB-DL." in t for t in titles(found))
        sto = titles(items(h, t="search", q=st))
        assert sto and all("-" not in t.rsplit(".", 1)[-1] for t in sto), sto  # no group at all
        assert (attr(found[0], "seeders"), attr(found[0], "peers")) == ("5", "8")
        # the magnet is still one torrents/add takes, with the name Sonarr shows
        ref = parse_magnet(found[0].find("enclosure").get("url", ""))  # type: ignore[union-attr]
        assert ref.name == found[0].findtext("title")
    with served(crawled, tmp_path / "aw", world, RELEASE_GROUP="x", RELEASE_GROUP_ANIWORLD="AniGroup") as h:
        assert all(t.endswith("-ANIGROUP") for t in titles(items(h, t="search", q=aw)))


# --- the connectivity item -----------------------------------------------------------------------------
def test_connectivity_item_settings(world: RunningWorld, crawled: Path, tmp_path: Path) -> None:
    # The test item answers an RSS-style request only when nothing else would (a movie feed for TV
    # categories here): among real releases its old date would stop Sonarr's RSS paging.
    empty = {"t": "movie", "cat": "5000"}
    with served(crawled, tmp_path / "default", world) as h:
        assert "Connectivity" not in " ".join(titles(items(h, t="search", limit=5)))
        first = items(h, **empty, limit=5)[0]
        assert first.findtext("title") == "AniBridge Connectivity Test"
        magnet = first.find("enclosure").get("url", "")  # type: ignore[union-attr]
        assert magnet == build_magnet("aniworld.to", "connectivity-test", 1, 1, "German Dub",
                                      "AniBridge Connectivity Test")
    with served(crawled, tmp_path / "custom", world, TORZNAB_TEST_TITLE="Is it on", TORZNAB_TEST_SLUG="ping",
                TORZNAB_TEST_SEASON="2", TORZNAB_TEST_EPISODE="7", TORZNAB_TEST_LANGUAGE="German Sub",
                STRM_FILES_MODE="both") as h:
        found = items(h, **empty, limit=5)
        assert titles(found)[:2] == ["Is it on", "Is it on [STRM]"]
        plain, strm = (parse_magnet(i.find("enclosure").get("url", "")) for i in found[:2])  # type: ignore[union-attr]
        assert (plain.slug, plain.season, plain.episode, plain.language, plain.mode) == ("ping", 2, 7, "German Sub",
                                                                                        None)
        assert strm.mode == "strm" and strm.info_hash == info_hash("ping", 2, 7, "German Sub", "strm")
        # paging stays stable with two items per release: a page is a slice of the longer list
        everything = titles(items(h, t="search", limit=30))
        assert titles(items(h, t="search", offset=3, limit=7)) == everything[3:10]
        assert titles(items(h, t="search", offset=1, limit=4)) == everything[1:5]
    with served(crawled, tmp_path / "off", world, TORZNAB_RETURN_TEST_RESULT="false") as h:
        found = items(h, t="search", limit=5)
        assert found and "Connectivity" not in " ".join(titles(found))
        assert items(h, **empty, limit=5) == []


# --- season searches -----------------------------------------------------------------------------------
def test_season_search_mode_strict_and_max_episodes(world: RunningWorld, crawled: Path, tmp_path: Path) -> None:
    with served(crawled, tmp_path / "fast", world) as h:
        title = a_title(h, "aniworld.to")
        fast = items(h, t="tvsearch", q=title, season=1)
        fast_eps = {int(attr(i, "episode") or 0) for i in fast}
        assert len(fast_eps) >= 3
    with served(crawled, tmp_path / "strict", world, TORZNAB_SEASON_SEARCH_MODE="strict",
                TORZNAB_SEASON_SEARCH_MAX_EPISODES="2") as h:
        strict = items(h, t="tvsearch", q=title, season=1)
        assert {int(attr(i, "episode") or 0) for i in strict} == {1, 2} & fast_eps
        # an episode search is not a season search: untouched
        assert items(h, t="tvsearch", q=title, season=1, ep=3)


def test_strict_walk_stops_after_consecutive_misses() -> None:
    rows = [(1, n, "", "", "German Dub", 0.0, None, None) for n in (1, 2, 4, 8, 9)]
    numbers = [r[1] for r in strict_walk(rows, max_episodes=60, max_misses=3)]
    assert numbers == [1, 2, 4]  # 5, 6, 7 missing: stop
    assert [r[1] for r in strict_walk(rows, 60, 4)] == [1, 2, 4, 8, 9]
    assert [r[1] for r in strict_walk(rows, 8, 10)] == [1, 2, 4, 8]
    mapped = [(1, 30, "", "", "German Dub", 0.0, 2, 1), (1, 31, "", "", "German Dub", 0.0, 2, 2)]
    assert [r[7] for r in strict_walk(mapped, 60, 3)] == [1, 2]  # TVDB's numbers when mapped


# --- downloads ------------------------------------------------------------------------------------------
def _strm_magnet(ep: Pick) -> tuple[str, str]:
    lang = next(iter(ep.languages))
    name = release_title(ep.title, ep.season, ep.episode, lang, ep.site, strm=True)
    return (build_magnet(ep.site, ep.slug, ep.season, ep.episode, lang, name, mode="strm"),
            info_hash(ep.slug, ep.season, ep.episode, lang, "strm"))


def test_downloads_ttl_removes_finished_downloads_as_events(world: RunningWorld, tmp_path: Path) -> None:
    ep = pick(world)
    magnet, task_hash = _strm_magnet(ep)
    with running_anibridge(tmp_path, CATALOG_ENABLED="false", DOWNLOADS_TTL_HOURS="0.0005",
                           CLEANUP_SCAN_INTERVAL_MIN="0.005", **world.env()) as h:
        client = client_for(h.base_url)
        client.torrents_add(urls=magnet, category="tv")
        info = wait_state(client, task_hash, DONE, timeout=30)
        folder = h.settings.downloads_path / "tv"
        assert any(folder.rglob("*.strm"))
        deadline = time.monotonic() + 20
        while client.torrents_info(torrent_hashes=task_hash) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.torrents_info(torrent_hashes=task_hash) == []
        assert not any(folder.rglob("*.strm")), "the .strm file and its folder are removed"
        head = h.runtime.journal.head()
    journal = Journal(tmp_path / "journal.db")
    try:
        types = [e.type for e in journal.read(0, head) if e.stream == f"task:{task_hash}"]
    finally:
        journal.close()
    assert types[-1] == "task.deleted" and "task.completed" in types, types
    assert info["name"].endswith(" [STRM]")


def test_downloads_are_kept_without_ttl(world: RunningWorld, tmp_path: Path) -> None:
    ep = pick(world, skip=1)
    magnet, task_hash = _strm_magnet(ep)
    with running_anibridge(tmp_path, CATALOG_ENABLED="false", CLEANUP_SCAN_INTERVAL_MIN="0.005",
                           **world.env()) as h:
        client = client_for(h.base_url)
        client.torrents_add(urls=magnet)
        wait_state(client, task_hash, DONE, timeout=30)
        time.sleep(1.5)
        assert client.torrents_info(torrent_hashes=task_hash)[0]["state"] in DONE


def _mp4_pick(world: RunningWorld) -> tuple[Pick, str, str]:
    ep = pick(world, want=lambda p: any("LoadX" in hs for hs in p.languages.values()))
    lang = next(lang for lang, hs in ep.languages.items() if "LoadX" in hs)
    name = release_title(ep.title, ep.season, ep.episode, lang, ep.site)
    return ep, build_magnet(ep.site, ep.slug, ep.season, ep.episode, lang, name, provider="LoadX"), \
        info_hash(ep.slug, ep.season, ep.episode, lang)


def test_download_rate_limit(world: RunningWorld, tmp_path: Path) -> None:
    """yt-dlp's rate limit: a 68 kB file at 16 kB/s takes seconds; unlimited it takes a fraction."""
    _, magnet, task_hash = _mp4_pick(world)
    with running_anibridge(tmp_path, CATALOG_ENABLED="false", DOWNLOAD_RATE_LIMIT_BYTES_PER_SEC="16000",
                           **world.env()) as h:
        client = client_for(h.base_url)
        client.torrents_add(urls=magnet)
        wait_state(client, task_hash, ("downloading",), timeout=30)
        started = time.monotonic()
        info = wait_state(client, task_hash, DONE, timeout=60)
        elapsed = time.monotonic() - started
    assert info["size"] > 60_000
    assert elapsed >= 2.0, f"{info['size']} bytes at 16000 B/s took only {elapsed:.2f} s"


# --- provider redirects ---------------------------------------------------------------------------------
def test_provider_redirect_timeout_and_retries(world: RunningWorld, tmp_path: Path) -> None:
    ep = pick(world, skip=2)
    magnet, task_hash = _strm_magnet(ep)
    try:
        world.set_faults([{"site": "aniworld", "path": "^/redirect/", "mode": "latency", "seconds": 2}])
        with running_anibridge(tmp_path / "t", CATALOG_ENABLED="false", PROVIDER_REDIRECT_TIMEOUT_SECONDS="0.5",
                               **world.env()) as h:
            client = client_for(h.base_url)
            client.torrents_add(urls=magnet)
            failed = wait_state(client, task_hash, ("error",), timeout=60)
            assert "redirect did not answer within 0.5 s" in failed["comment"]
        # the preferred host's redirect answers 503 once: with retries it is still the one used
        ep, _, _ = _mp4_pick(world)
        lang = next(lang for lang, hs in ep.languages.items() if "LoadX" in hs)
        name = release_title(ep.title, ep.season, ep.episode, lang, ep.site, strm=True)
        preferred = build_magnet(ep.site, ep.slug, ep.season, ep.episode, lang, name, provider="LoadX", mode="strm")
        preferred_hash = info_hash(ep.slug, ep.season, ep.episode, lang, "strm")
        used = {}
        for retries in ("0", "2"):
            world.set_faults([{"site": "aniworld", "path": "^/redirect/", "mode": "503", "times": 1,
                               "retry_after": 0}])
            with running_anibridge(tmp_path / f"r{retries}", CATALOG_ENABLED="false",
                                   PROVIDER_REDIRECT_RETRIES=retries, **world.env()) as h:
                client = client_for(h.base_url)
                client.torrents_add(urls=preferred)
                wait_state(client, preferred_hash, DONE, timeout=60)
                used[retries] = client.torrents_properties(preferred_hash)["host"]
        assert used["2"] == "LoadX" and used["0"] != "LoadX", used
    finally:
        world.clear_faults()


# --- CORS -----------------------------------------------------------------------------------------------
def _preflight(base: str, origin: str) -> httpx.Response:
    return httpx.options(f"{base}/api/v2/app/version", headers={
        "Origin": origin, "Access-Control-Request-Method": "GET"}, timeout=10)


def test_cors_origins(tmp_path: Path) -> None:
    with running_anibridge(tmp_path / "off", CATALOG_ENABLED="false", downloads=False) as h:
        reply = httpx.get(f"{h.base_url}/health", headers={"Origin": "http://evil.example"}, timeout=10)
        assert "access-control-allow-origin" not in reply.headers
    with running_anibridge(tmp_path / "list", CATALOG_ENABLED="false", downloads=False,
                           ANIBRIDGE_CORS_ORIGINS="http://jellyfin.local:8096, http://docs.local") as h:
        ok = _preflight(h.base_url, "http://jellyfin.local:8096")
        assert ok.headers["access-control-allow-origin"] == "http://jellyfin.local:8096"
        assert ok.headers["access-control-allow-credentials"] == "true"
        assert "access-control-allow-origin" not in _preflight(h.base_url, "http://evil.example").headers
    with running_anibridge(tmp_path / "nocred", CATALOG_ENABLED="false", downloads=False,
                           ANIBRIDGE_CORS_ORIGINS="http://docs.local", ANIBRIDGE_CORS_ALLOW_CREDENTIALS="false") as h:
        assert "access-control-allow-credentials" not in _preflight(h.base_url, "http://docs.local").headers
    with running_anibridge(tmp_path / "any", CATALOG_ENABLED="false", downloads=False,
                           ANIBRIDGE_CORS_ORIGINS="*") as h:
        reply = httpx.get(f"{h.base_url}/health", headers={"Origin": "http://x.example", "Cookie": "SID=1"},
                          timeout=10)
        assert reply.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in reply.headers


# --- settings that are dropped, and checked --------------------------------------------------------------
def test_dropped_settings_warn_once_at_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    dropped = {"PROXY_URL": "socks5://vpn:1080", "PUBLIC_IP_CHECK_ENABLED": "true", "ANIWORLD_ALPHABET_URL": "x",
               "AVAILABILITY_TTL_HOURS": "24", "DB_MIGRATE_ON_STARTUP": "true", "ANIBRIDGE_UPDATE_CHECK": "1",
               "STRM_PROXY_MODE": "redirect", "STRM_PUBLIC_BASE_URL": "http://ab:8000", "STRM_PROXY_SECRET": "s"}
    with caplog.at_level(logging.WARNING, logger="anibridge"), \
            running_anibridge(tmp_path, CATALOG_ENABLED="false", downloads=False, **dropped) as h:
        assert h.settings.strm_proxy_mode == "proxy"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for name in ("PROXY_URL", "PUBLIC_IP_CHECK_ENABLED", "ANIWORLD_ALPHABET_URL", "AVAILABILITY_TTL_HOURS",
                 "DB_MIGRATE_ON_STARTUP", "ANIBRIDGE_UPDATE_CHECK", "STRM_PROXY_MODE=redirect"):
        assert sum(name in w for w in warnings) == 1, (name, warnings)
    assert any("VPN" in w for w in warnings if "PROXY_URL" in w)


def test_every_25_setting_is_read_or_warned_about() -> None:
    """The table of AniBridge 2.5's config.py: each name is a setting here, handled by another setting's
    owner, or in compat.DROPPED."""
    from anibridge.compat import DROPPED
    from anibridge.config import Settings

    original = (
        "PUBLIC_IP_CHECK_ENABLED", "PUBLIC_IP_CHECK_INTERVAL_MIN", "QBIT_PUBLIC_SAVE_PATH", "DOWNLOAD_DIR",
        "DATA_DIR", "CATALOG_SITES", "ANIWORLD_BASE_URL", "ANIWORLD_ALPHABET_HTML", "ANIWORLD_ALPHABET_URL",
        "STO_BASE_URL", "STO_ALPHABET_HTML", "STO_ALPHABET_URL", "MEGAKINO_BASE_URL",
        "MEGAKINO_TITLES_REFRESH_HOURS", "ANIWORLD_TITLES_REFRESH_HOURS", "STO_TITLES_REFRESH_HOURS",
        "SOURCE_TAG", "RELEASE_GROUP", "RELEASE_GROUP_ANIWORLD", "RELEASE_GROUP_STO", "PROVIDER_ORDER",
        "PROVIDER_REDIRECT_TIMEOUT_SECONDS", "PROVIDER_REDIRECT_RETRIES", "MAX_CONCURRENCY",
        "DOWNLOAD_RATE_LIMIT_BYTES_PER_SEC", "INDEXER_NAME", "INDEXER_API_KEY", "TORZNAB_CAT_ANIME",
        "TORZNAB_CAT_MOVIE", "AVAILABILITY_TTL_HOURS", "TORZNAB_FAKE_SEEDERS", "TORZNAB_FAKE_LEECHERS",
        "TORZNAB_RETURN_TEST_RESULT", "TORZNAB_TEST_TITLE", "TORZNAB_TEST_SLUG", "TORZNAB_TEST_SEASON",
        "TORZNAB_TEST_EPISODE", "TORZNAB_TEST_LANGUAGE", "TORZNAB_SEASON_SEARCH_MODE",
        "TORZNAB_SEASON_SEARCH_MAX_EPISODES", "TORZNAB_SEASON_SEARCH_MAX_CONSECUTIVE_MISSES",
        "SPECIALS_METADATA_ENABLED", "SPECIALS_METADATA_TIMEOUT_SECONDS", "SPECIALS_METADATA_CACHE_TTL_MINUTES",
        "SPECIALS_MATCH_CONFIDENCE_THRESHOLD", "DELETE_FILES_ON_TORRENT_DELETE", "DOWNLOADS_TTL_HOURS",
        "CLEANUP_SCAN_INTERVAL_MIN", "STRM_FILES_MODE", "STRM_PROXY_MODE", "STRM_PUBLIC_BASE_URL",
        "STRM_PROXY_AUTH", "STRM_PROXY_SECRET", "STRM_PROXY_UPSTREAM_ALLOWLIST", "STRM_PROXY_CACHE_TTL_SECONDS",
        "STRM_PROXY_TOKEN_TTL_SECONDS", "PROGRESS_FORCE_BAR", "PROGRESS_STEP_PERCENT", "ANIBRIDGE_RELOAD",
        "ANIBRIDGE_TEST_MODE", "DB_MIGRATE_ON_STARTUP", "ANIBRIDGE_HOST", "ANIBRIDGE_PORT",
        "ANIBRIDGE_CORS_ORIGINS", "ANIBRIDGE_CORS_ALLOW_CREDENTIALS", "LOG_LEVEL", "PROXY_ENABLED", "PROXY_URL",
        "PROXY_SCOPE"
    )
    others = {"PROVIDER_CHALLENGE_BACKOFF_SECONDS", "MEGAKINO_DOMAIN_CHECK_INTERVAL_MIN"}  # sto / megakino
    read = {name.upper() for name in Settings.model_fields}
    missing = [n for n in original if n not in read and n not in DROPPED and n not in others]
    assert not missing


def test_strm_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="STRM_PUBLIC_BASE_URL is required"):
        load_settings({"STRM_PROXY_MODE": "proxy"})
    with pytest.raises(ConfigError, match="STRM_PROXY_SECRET is required"):
        load_settings({"STRM_PROXY_MODE": "proxy", "STRM_PUBLIC_BASE_URL": "http://ab:8000"})
    assert load_settings({"STRM_PROXY_MODE": "proxy", "STRM_PUBLIC_BASE_URL": "http://ab:8000/",
                          "STRM_PROXY_AUTH": "NONE"}).strm_public_base_url == "http://ab:8000"
    for name, bad in (("STRM_FILES_MODE", "yes"), ("STRM_PROXY_AUTH", "hmac"), ("STRM_PUBLIC_BASE_URL", "ab:8000"),
                      ("TORZNAB_SEASON_SEARCH_MODE", "slow"), ("TORZNAB_TEST_LANGUAGE", "Klingon"),
                      ("TORZNAB_FAKE_SEEDERS", "0"), ("STRM_PROXY_TOKEN_TTL_SECONDS", "0")):
        with pytest.raises(ConfigError, match=name):
            load_settings({name: bad})
    s = load_settings({"RELEASE_GROUP": "", "RELEASE_GROUP_STO": ""})
    assert s.release_group_of("aniworld.to") == "" and s.release_group_of("s.to") == ""
    assert load_settings({"STO_TITLES_REFRESH_HOURS": "6"}).refresh_hours("s.to") == 6
    assert load_settings({"STO_TITLES_REFRESH_HOURS": "6", "STO_INDEX_REFRESH_HOURS": "3"}).refresh_hours("s.to") == 3
    assert load_settings({"MEGAKINO_TITLES_REFRESH_HOURS": "0"}).refresh_hours("megakino") == 0


# --- specials and metadata ---------------------------------------------------------------------------
def test_specials_metadata_enabled_and_threshold() -> None:
    from anibridge.crawlers.canonical import _specials
    from anibridge.crawlers.matching import ProviderEpisode, map_episodes
    from anibridge.crawlers.skyhook import Show, ShowEpisode, ShowSummary

    summary = ShowSummary(tvdb_id=1, title="Show", year=2020, imdb_id=None, alternate_titles=())
    show = Show(summary, (ShowEpisode(1, 1, 1, "Pilot"), ShowEpisode(0, 5, None, "The Movie Begins Again"),
                          ShowEpisode(0, 6, None, "Something Else")))
    provider = [ProviderEpisode(1, 1, "Pilot"), ProviderEpisode(0, 1, "The Movie Begins")]

    def specials(env: dict[str, str]) -> list[tuple[int, int, int, int, int | None]]:
        entries, _ = map_episodes(provider, show, **_specials(load_settings(env)))
        return [e for e in entries if e[0] == 0]

    assert specials({}) == [(0, 1, 0, 5, None)]  # 3 of 4 words alike >= 0.5
    assert specials({"SPECIALS_MATCH_CONFIDENCE_THRESHOLD": "0.9"}) == []
    assert specials({"SPECIALS_METADATA_ENABLED": "false"}) == []
    regular, _ = map_episodes(provider, show, **_specials(load_settings({"SPECIALS_METADATA_ENABLED": "false"})))
    assert (1, 1, 1, 1, 1) in regular  # regular episodes are mapped either way


def test_skyhook_cache_ttl_and_timeout(world: RunningWorld, tmp_path: Path) -> None:
    import asyncio

    from anibridge.crawlers.skyhook import SkyHookClient, SkyHookUnavailable

    async def show_twice(ttl_minutes: str, folder: str) -> tuple[int, int]:
        settings = load_settings({"SPECIALS_METADATA_CACHE_TTL_MINUTES": ttl_minutes})
        ttl = settings.specials_metadata_cache_ttl_minutes * 60.0
        async with SkyHookClient(world.skyhook, tmp_path / folder, show_ttl=ttl) as sky:
            found = await sky.search(world.world.entries("aniworld")[0].title)
            assert found, "the world's SkyHook knows its titles"
            await sky.show(found[0].tvdb_id)
            await sky.show(found[0].tvdb_id)
            assert sky.cache is not None
            return sky.cache.hits, sky.cache.misses

    kept = asyncio.run(show_twice("360", "kept"))
    fresh = asyncio.run(show_twice("0", "fresh"))
    assert kept[0] == fresh[0] + 1  # the second show() came from the cache only with a TTL

    async def slow(timeout: str) -> None:
        settings = load_settings({"SPECIALS_METADATA_TIMEOUT_SECONDS": timeout})
        async with SkyHookClient(world.skyhook, None, max_retries=0,
                                 read_timeout=settings.specials_metadata_timeout_seconds) as sky:
            await sky.search("anything")

    world.set_faults([{"site": "skyhook", "path": ".*", "mode": "latency", "seconds": 2}])
    try:
        started = time.monotonic()
        with pytest.raises(SkyHookUnavailable):
            asyncio.run(slow("0.3"))
        assert time.monotonic() - started < 1.8
        asyncio.run(slow("8"))  # waits the 2 s out
    finally:
        world.clear_faults()


def test_titles_refresh_hours_zero_means_no_scheduled_refresh(world: RunningWorld, tmp_path: Path) -> None:
    with running_anibridge(tmp_path, crawl=True, downloads=False, CATALOG_SITES="aniworld.to",
                           ANIWORLD_TITLES_REFRESH_HOURS="0", **world.env()) as h:
        rt = h.runtime
        deadline = time.monotonic() + 60
        while not rt.catalog.titles_ready("aniworld.to"):
            assert time.monotonic() < deadline, "the first crawl never finished"
            time.sleep(0.2)
        assert rt.scheduler is not None and rt.scheduler.next_run("aniworld.to") is None
        time.sleep(2)
        gens = list(rt.journal.read(types=["titles.generation_completed"]))
        assert len(gens) == 1
