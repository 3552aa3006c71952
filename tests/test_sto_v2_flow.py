"""s.to v2 end to end: a real AniBridge on loopback against the local world serving serienstream.to's
shapes. Searches return the right languages (English Dub included), challenges (DDoS-Guard, a captcha
on the play URL) are counted in health and never read as a broken page or "no redirect", and a blocked
or unreachable s.to host name gives way to the next one, which health then shows.
"""

from __future__ import annotations

import io
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import qbittorrentapi

from anibridge.devworld.model import LANGUAGES
from anibridge.devworld.testing import RunningWorld, running_world
from anibridge.releases import build_magnet, info_hash, parse_magnet, release_title
from anibridge.status import print_status
from anibridge.testing import Harness, crawl_now, free_port, running_anibridge

API = "/torznab/api"
DONE = ("stoppedUP", "uploading")
DDOS_GUARD = {"mode": "challenge", "kind": "ddos-guard", "site": "sto"}


@pytest.fixture(scope="module")
def world() -> Iterator[RunningWorld]:
    with running_world(seed=5, titles=12) as w:
        yield w


@pytest.fixture(autouse=True)
def _no_faults(world: RunningWorld) -> Iterator[None]:
    world.clear_faults()
    yield
    world.clear_faults()


def _episode_with(world: RunningWorld, want: Any) -> tuple[Any, Any]:
    for entry in world.world.entries("sto"):
        info = world.world.info("sto", entry.slug)
        for season in info.regular_seasons if info else []:
            for ep in world.world.season_episodes(info, season):
                if want(ep):
                    return info, ep
    raise LookupError("no s.to episode fits")


def _languages(ep: Any) -> set[str]:
    return {LANGUAGES[lang] for lang in ep.languages}


def _magnets(feed: str) -> list[str]:
    root = ET.fromstring(feed)
    return [item.find("enclosure").attrib["url"] for item in root.iter("item")]  # type: ignore[union-attr]


def test_torznab_search_for_an_sto_title_returns_its_languages_incl_english_dub(world: RunningWorld,
                                                                                 tmp_path: Path) -> None:
    info, ep = _episode_with(world, lambda e: 4 in e.languages and len(e.languages) >= 2)
    # count requests to season 1 pages: /serie/<slug> is season 1's page, read once, not twice
    world.set_faults([{"mode": "latency", "seconds": 0, "site": "sto", "path": "/staffel-1$"}])
    with running_anibridge(tmp_path, CATALOG_SITES="s.to", downloads=False, **world.env()) as h, \
            httpx.Client(base_url=h.base_url, timeout=15) as client:
        results = crawl_now(h.runtime, ["s.to"])
        assert all(r.ok for r in results), results
        assert world.fault_hits() == [0]
        health = client.get("/health/catalog").json()["sites"]["s.to"]
        feed = client.get(API, params={"t": "tvsearch", "q": info.title, "season": ep.season,
                                       "ep": ep.number}).text
    assert health["stages"]["details"]["state"] == "ready" and health["parse_problems"] == []
    refs = [parse_magnet(m) for m in _magnets(feed)]
    assert refs, feed
    mine = {r.language for r in refs if (r.slug, r.season, r.episode) == (info.slug, ep.season, ep.number)}
    assert mine == _languages(ep)
    assert "English Dub" in mine
    assert all(r.site == "s.to" for r in refs)


def test_the_older_sto_layout_is_still_read(tmp_path: Path) -> None:
    with running_world(seed=5, titles=6, sto_layout="v1") as old, \
            running_anibridge(tmp_path, CATALOG_SITES="s.to", downloads=False, **old.env()) as h, \
            httpx.Client(base_url=h.base_url, timeout=15) as client:
        results = crawl_now(h.runtime, ["s.to"])
        assert all(r.ok for r in results), results
        detail = client.get("/health/catalog").json()["sites"]["s.to"]
        info, ep = _episode_with(old, lambda e: True)
        row = h.runtime.catalog.conn().execute(
            "SELECT languages, path FROM episodes WHERE site = 's.to' AND slug = ? AND season = ? AND episode = ?",
            (info.slug, ep.season, ep.number)).fetchone()
    assert detail["parse_problems"] == [] and detail["stages"]["details"]["state"] == "ready"
    assert set(row[0].split(",")) == _languages(ep)
    assert row[1] == f"/serie/{info.slug}/staffel-{ep.season}/episode-{ep.number}"


def test_ddos_guard_is_a_challenge_with_the_configured_back_off_not_a_broken_page(world: RunningWorld,
                                                                                  tmp_path: Path) -> None:
    world.set_faults([{**DDOS_GUARD, "path": "^/serien$", "times": 1}])
    with running_anibridge(tmp_path, CATALOG_SITES="s.to", downloads=False, PROVIDER_CHALLENGE_BACKOFF_SECONDS="0.6",
                           **world.env()) as h, httpx.Client(base_url=h.base_url, timeout=15) as client:
        started = time.monotonic()
        [result] = crawl_now(h.runtime, ["s.to"], stages=("titles",))
        took = time.monotonic() - started
        health = client.get("/health").json()
        detail = client.get("/health/catalog").json()["sites"]["s.to"]
        page = client.get("/").text
        out = io.StringIO()
        print_status(h.settings, out)
    assert result.ok, result.reason
    assert "challenges: 1 (DDoS-Guard 1; last " in out.getvalue()
    assert f"host in use: {world.sto}" in out.getvalue()
    assert "challenges met: <span" in page and "1 (DDoS-Guard 1)" in page
    assert took >= 0.3  # at least half of PROVIDER_CHALLENGE_BACKOFF_SECONDS before the retry
    assert health["challenges"]["s.to"] == 1
    assert detail["stages"]["titles"]["state"] == "ready"
    [kind] = detail["challenges"]["kinds"]
    assert (kind["kind"], kind["count"], kind["stage"]) == ("DDoS-Guard", 1, "titles")
    assert kind["last_url"].endswith("/serien")


def test_blocked_or_unreachable_sto_host_gives_way_to_the_next_and_health_shows_it(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}/sto"  # nothing listens: like a name that does not resolve
    with running_world(seed=5, titles=8, faults=[{**DDOS_GUARD, "path": ".*"}]) as blocked, \
            running_world(seed=5, titles=8) as working, \
            running_anibridge(tmp_path, CATALOG_SITES="s.to", downloads=False, STO_BASE_URL=blocked.sto,
                              STO_FALLBACK_BASE_URLS=f"{closed},{working.sto}",
                              PROVIDER_CHALLENGE_BACKOFF_SECONDS="30", ANIWORLD_BASE_URL=working.aniworld,
                              MEGAKINO_BASE_URL=working.megakino, SKYHOOK_BASE_URL=working.skyhook) as h, \
            httpx.Client(base_url=h.base_url, timeout=15) as client:
        started = time.monotonic()
        results = crawl_now(h.runtime, ["s.to"])
        took = time.monotonic() - started
        assert all(r.ok for r in results), results
        health = client.get("/health").json()
        detail = client.get("/health/catalog").json()["sites"]["s.to"]
        blocked_hits = blocked.fault_hits()
        crawl_now(h.runtime, ["s.to"], stages=("titles",))  # the next crawl starts at the host that worked
        assert blocked.fault_hits() == blocked_hits
    assert took < 15  # no 30 s challenge back-off: the next host name was tried at once
    assert health["hosts"]["s.to"] == working.sto
    assert detail["host"] == working.sto
    assert detail["host_change"]["previous"] == closed and "could not connect" in detail["host_change"]["reason"]
    assert detail["challenges"]["kinds"][0]["kind"] == "DDoS-Guard"
    assert detail["stages"]["details"]["state"] == "ready"


# --- downloads ------------------------------------------------------------------------------------
def _client(base: str) -> qbittorrentapi.Client:
    client = qbittorrentapi.Client(host=base, username="sonarr", password="x", REQUESTS_ARGS={"timeout": 15})
    client.auth_log_in()
    return client


def _wait(client: qbittorrentapi.Client, task_hash: str, states: tuple[str, ...], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        found = client.torrents_info(torrent_hashes=task_hash)
        if found:
            last = dict(found[0])
            if last["state"] in states:
                return last
        time.sleep(0.1)
    raise AssertionError(f"{task_hash} never reached {states}; last seen {last}")


@pytest.fixture()
def downloader(world: RunningWorld, tmp_path: Path) -> Iterator[Harness]:
    with running_anibridge(tmp_path, CATALOG_ENABLED="false", PROVIDER_DIRECT_LINK_TIMEOUT_SECONDS="3",
                           **world.env()) as h:
        yield h


def _magnet(info: Any, ep: Any, language: str) -> tuple[str, str]:
    name = release_title(info.title, ep.season, ep.number, language, "s.to")
    return (build_magnet("s.to", info.slug, ep.season, ep.number, language, name),
            info_hash(info.slug, ep.season, ep.number, language))


def test_sto_v2_magnet_downloads_through_the_play_url_and_an_encoded_voe_page(
        world: RunningWorld, downloader: Harness) -> None:
    info, ep = _episode_with(world, lambda e: any(s.hoster == "VOE" for s in e.streams))
    stream = next(s for s in ep.streams if s.hoster == "VOE")
    voe_page = httpx.get(f"{world.hosts}/voe/e/{stream.video_id}", timeout=5).text
    if "window.location.href" in voe_page:  # this video sits behind VOE's mirror interstitial
        voe_page = httpx.get(f"{world.hosts}/voe-mirror/e/{stream.video_id}", timeout=5).text
    assert '<script type="application/json">' in voe_page and "var sources" not in voe_page
    # count the requests to s.to's play URL (a zero-second latency rule only counts)
    world.set_faults([{"mode": "latency", "seconds": 0, "site": "sto", "path": "^/r$"}])
    language = LANGUAGES[stream.language]
    name = release_title(info.title, ep.season, ep.number, language, "s.to")
    magnet = build_magnet("s.to", info.slug, ep.season, ep.number, language, name, provider="VOE")
    client = _client(downloader.base_url)
    assert client.torrents_add(urls=magnet) == "Ok."
    task_hash = info_hash(info.slug, ep.season, ep.number, language)
    done = _wait(client, task_hash, DONE + ("error",))
    props = client.torrents_properties(task_hash)
    assert done["state"] in DONE, props["comment"]
    assert props["host"] == "VOE"
    assert world.fault_hits() == [1]  # one /r?t= play URL followed to the VOE page
    head = Path(done["content_path"]).read_bytes()[:200]
    assert head[4:8] == b"ftyp" or (head[0] == 0x47 and head[188] == 0x47)


def test_captcha_on_the_play_url_tries_the_next_hoster_and_counts_as_a_challenge(
        world: RunningWorld, downloader: Harness) -> None:
    info, ep = _episode_with(world, lambda e: len([s for s in e.streams if s.language == e.languages[0]]) >= 2)
    language = LANGUAGES[ep.languages[0]]
    world.set_faults([{"mode": "captcha", "site": "sto", "path": "^/r$", "times": 1}])
    magnet, task_hash = _magnet(info, ep, language)
    client = _client(downloader.base_url)
    assert client.torrents_add(urls=magnet) == "Ok."
    done = _wait(client, task_hash, DONE)
    assert Path(done["content_path"]).is_file()
    assert world.fault_hits() == [1]
    with httpx.Client(base_url=downloader.base_url, timeout=10) as http:
        assert downloader.runtime.catalog_projector.wait_until(downloader.runtime.journal.head(), 10)
        health = http.get("/health").json()
        detail = http.get("/health/catalog").json()["sites"]["s.to"]
    assert health["challenges"]["s.to"] == 1
    [kind] = detail["challenges"]["kinds"]
    assert (kind["kind"], kind["stage"]) == ("captcha page", "download")
    assert urllib.parse.urlsplit(kind["last_url"]).path.endswith("/r")


@pytest.mark.parametrize(("mode", "words"), [("captcha", "captcha page"),
                                              ("preparing", "'Stream wird vorbereitet' page")])
def test_play_url_challenges_everywhere_fail_the_task_saying_so(world: RunningWorld, downloader: Harness,
                                                               mode: str, words: str) -> None:
    info, ep = _episode_with(world, lambda e: True)
    language = LANGUAGES[ep.languages[0]]
    world.set_faults([{"mode": mode, "site": "sto", "path": "^/r$"}])
    magnet, task_hash = _magnet(info, ep, language)
    client = _client(downloader.base_url)
    assert client.torrents_add(urls=magnet) == "Ok."
    failed = _wait(client, task_hash, ("error",))
    reason = downloader.runtime.tasks_reader.connection().execute(
        "SELECT error FROM tasks WHERE hash = ?", (task_hash,)).fetchone()[0]
    hosters = [s.hoster for s in ep.streams if LANGUAGES[s.language] == language]
    assert failed["state"] == "error"
    assert f"all {len(hosters)} hoster(s) failed" in reason
    assert reason.count(f"challenge: s.to's play URL answered a {words}") == len(hosters)
    assert "expected a redirect" not in reason and "no redirect" not in reason
