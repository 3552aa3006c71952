"""Acceptance tests for the local provider world: real uvicorn on loopback, httpx, parsel, yt-dlp."""

from __future__ import annotations

import base64
import codecs
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from parsel import Selector

from anibridge.devworld.testing import RunningWorld, running_world
from anibridge.devworld.world import World
from anibridge.text import normalize

EPISODE_ROW = 'table.seasonEpisodesList tr[itemtype="http://schema.org/Episode"]'


@pytest.fixture(scope="module")
def world() -> Iterator[RunningWorld]:
    with running_world(seed=1, titles=80) as running:
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


@pytest.fixture(autouse=True)
def _no_faults(world: RunningWorld) -> Iterator[None]:
    world.clear_faults()
    world.set_day(0)
    yield
    world.clear_faults()
    world.set_day(0)


def _get(client: httpx.Client, url: str, **kwargs: Any) -> httpx.Response:
    response = client.get(url, **kwargs)
    response.raise_for_status()
    return response


def _bare(title: str) -> str:
    return normalize(re.sub(r"\s*\(\d{4}\)$", "", title))


def _first_series_with(world: RunningWorld, site: str, predicate: Any) -> Any:
    for entry in world.world.entries(site):
        info = world.world.info(site, entry.slug)
        if info is not None and predicate(info):
            return info
    raise AssertionError(f"no {site} title matches")


# -- AniWorld --------------------------------------------------------------------------------------


def test_aniworld_alphabet_series_season_episode_redirect(world: RunningWorld, client: httpx.Client) -> None:
    alphabet = Selector(_get(client, f"{world.aniworld}/animes-alphabet").text)
    anchors = alphabet.css('a[href^="/anime/stream/"]')
    assert len(anchors) == 80
    assert all(a.attrib.get("data-alternative-title") is not None for a in anchors)

    info = _first_series_with(world, "aniworld", lambda i: 0 in i.seasons and len(i.regular_seasons) >= 1)
    series = Selector(_get(client, f"{world.aniworld}/anime/stream/{info.slug}").text)
    assert series.css("h1 span::text").get() == info.title
    assert series.css("p.seri_des::text").get()
    assert series.css('span[itemprop="startDate"] a::text').get() == str(info.year)
    nav = series.css(f'a[href^="/anime/stream/{info.slug}/"]::attr(href)').getall()
    assert f"/anime/stream/{info.slug}/filme" in nav
    assert f"/anime/stream/{info.slug}/staffel-1" in nav

    season = Selector(_get(client, f"{world.aniworld}/anime/stream/{info.slug}/staffel-1").text)
    rows = season.css(EPISODE_ROW)
    assert len(rows) == info.seasons[1]
    row = rows[0]
    assert row.css('meta[itemprop="episodeNumber"]::attr(content)').get() == "1"
    href = row.css('a[itemprop="url"]::attr(href)').get()
    assert href == f"/anime/stream/{info.slug}/staffel-1/episode-1"
    assert row.css("td.seasonEpisodeTitle strong::text").get()
    assert row.css("i.icon::attr(title)").get().startswith("Hoster ")
    flags = row.css("td.editFunctions img.flag::attr(src)").getall()
    assert flags and all(re.fullmatch(r"/public/img/(german|japanese-german|japanese-english|english)\.svg", f)
                         for f in flags)

    films = Selector(_get(client, f"{world.aniworld}/anime/stream/{info.slug}/filme").text)
    film_href = films.css(EPISODE_ROW).css('a[itemprop="url"]::attr(href)').get()
    assert film_href == f"/anime/stream/{info.slug}/filme/film-1"
    assert _get(client, world.aniworld + film_href).status_code == 200

    episode = Selector(_get(client, world.aniworld + href).text)
    items = episode.css("li[data-lang-key][data-link-target]")
    assert items
    for item in items:
        assert item.attrib["data-lang-key"] in {"1", "2", "3", "4"}
        assert item.attrib["data-link-target"].startswith("/redirect/")
        hoster = item.css("h4::text").get()
        redirect = client.get(world.aniworld + item.attrib["data-link-target"])
        assert redirect.status_code == 302
        location = redirect.headers["location"]
        assert location.startswith(f"{world.base}/hosts/{hoster.lower()}/e/")
        assert _get(client, location).text.startswith("<!DOCTYPE html>")

    assert client.get(f"{world.aniworld}/anime/stream/{info.slug}/staffel-99").status_code == 404
    assert client.get(f"{world.aniworld}/anime/stream/no-such-title").status_code == 404


def test_root_relative_hrefs_also_resolve(world: RunningWorld, client: httpx.Client) -> None:
    entry = world.world.entries("aniworld")[0]
    assert _get(client, f"{world.base}/anime/stream/{entry.slug}").status_code == 200
    assert _get(client, f"{world.base}/serien-alphabet").status_code == 200


# -- s.to ------------------------------------------------------------------------------------------


def test_sto_v2_pages_and_play_urls(world: RunningWorld, client: httpx.Client) -> None:
    """The default s.to pages have the real v2 shapes (real-pages/sto, PROVIDERS.md)."""
    listing = Selector(_get(client, f"{world.sto}/serien").text)
    assert len(listing.css('li.series-item > a[href^="/serie/"]')) == 80

    info = _first_series_with(world, "sto", lambda i: 0 in i.seasons and 4 in i.structure.languages)
    series = Selector(_get(client, f"{world.sto}/serie/{info.slug}").text)
    assert series.css("h1::text").get() == info.title
    assert series.css('link[rel="canonical"]::attr(href)').get() == f"/serie/{info.slug}/staffel-1"
    assert series.css('a[href^="/jahr/"]::text').get() == str(info.year)
    assert series.css(".series-description .description-text::text").get() == info.description
    links = series.css(f'#season-nav a[href^="/serie/{info.slug}/staffel-"]::attr(href)').getall()
    assert f"/serie/{info.slug}/staffel-0" in links and f"/serie/{info.slug}/staffel-1" in links

    season = Selector(_get(client, f"{world.sto}/serie/{info.slug}/staffel-1").text)
    rows = season.css("tr.episode-row")
    assert len(rows) == info.seasons[1]
    assert rows[0].attrib["onclick"] == f"window.location='/serie/{info.slug}/staffel-1/episode-1'"
    first = world.world.episode(info, 1, 1)
    assert rows[0].css("strong.episode-title-ger::text").get() == first.title_de
    assert rows[0].css("img.watch-link::attr(alt)").getall() == first.hosters
    flags = {1: "svg-flag-german", 3: "svg-flag-english-german", 4: "svg-flag-english"}
    assert [c.split()[-1] for c in rows[0].css("svg::attr(class)").getall()] == [flags[lang]
                                                                                 for lang in first.languages]

    episode = Selector(_get(client, f"{world.sto}/serie/{info.slug}/staffel-1/episode-1").text)
    buttons = episode.css("#episode-links button[data-play-url][data-provider-name]")
    placeholders = [b for b in buttons if b.attrib["data-provider-name"] == "Provider"]
    assert len(placeholders) == len(first.languages)
    for button in buttons:
        assert button.attrib["data-play-url"].startswith("/r?t=")
        assert button.attrib["data-language-id"] in {"1", "2", "3"}
        play = client.get(world.sto + button.attrib["data-play-url"])
        if button in placeholders:
            assert play.status_code == 404
            continue
        assert play.status_code == 302
        assert f"/hosts/{button.attrib['data-provider-name'].lower()}/e/" in play.headers["location"]
    english = [b for b in buttons if b.attrib["data-language-label"] == "Englisch"]
    assert english and all(b.attrib["data-language-id"] == "2" for b in english)
    # root-relative play URLs, as a client resolving them against the host would send them
    assert client.get(world.base + buttons[0].attrib["data-play-url"]).status_code == 302


def test_sto_v1_layout_is_kept_as_an_option(client: httpx.Client) -> None:
    with running_world(seed=1, titles=20, sto_layout="v1") as old:
        alphabet = Selector(_get(client, f"{old.sto}/serien-alphabet").text)
        assert len(alphabet.css('a[href^="/serie/"][data-alternative-title]')) == 20
        info = _first_series_with(old, "sto", lambda i: 1 in i.seasons)
        season = Selector(_get(client, f"{old.sto}/serie/{info.slug}/staffel-1").text)
        hrefs = season.css(f'{EPISODE_ROW} a[itemprop="url"]::attr(href)').getall()
        assert hrefs[0] == f"/serie/{info.slug}/staffel-1/episode-1"
        episode = Selector(_get(client, old.sto + hrefs[0]).text)
        for button in episode.css("button[data-play-url][data-provider-name]"):
            assert button.attrib["data-play-url"].startswith("/redirect/")
            assert client.get(old.sto + button.attrib["data-play-url"]).status_code == 302


# -- Megakino --------------------------------------------------------------------------------------


def _open_gate(client: httpx.Client, base: str) -> None:
    gate = _get(client, f"{base}/sitemap.xml").text
    assert "yg=token" in gate and "<sitemapindex" not in gate  # a first visit meets the token gate
    _get(client, f"{base}/index.php?yg=token")


def test_megakino_sitemap_film_and_serial(world: RunningWorld, client: httpx.Client) -> None:
    base = world.megakino_domain()
    _open_gate(client, base)
    index = Selector(_get(client, f"{base}/sitemap.xml").text, type="xml")
    index.remove_namespaces()
    children = index.xpath("//sitemap/loc/text()").getall()
    assert children == [f"{base}/sitemap-films.xml", f"{base}/sitemap-serials.xml"]
    locs = []
    for child in children:
        sitemap = Selector(_get(client, child).text, type="xml")
        sitemap.remove_namespaces()
        locs += sitemap.xpath("//url/loc/text()").getall()
    assert len(locs) == 80
    films = [u for u in locs if re.search(r"/films/\d+-[a-z0-9-]+\.html$", u)]
    serials = [u for u in locs if re.search(r"/serials/\d+-[a-z0-9-]+-1-staffel\.html$", u)]
    assert films and serials and len(films) + len(serials) == 80 and all(u.startswith(base) for u in locs)

    with_imdb = 0
    for url in films[:10]:
        film = Selector(_get(client, url).text)
        assert film.css("div.page__subcols h1::text").get()
        assert re.fullmatch(r"\d{4}", film.css('div.pmovie__year [itemprop="dateCreated"] a::text').get())
        with_imdb += bool(film.css('a[href^="https://www.imdb.com/title/tt"]'))
        tabs = film.css("div.tabs-block__select span::text").getall()
        frames = film.css("div.pmovie__player div.tabs-block__content iframe::attr(data-src)").getall()
        assert tabs[-1] == "Trailer" and frames[-1].startswith("https://www.youtube.com/embed/")
        assert len(tabs) == len(frames) >= 3
        for tab, frame in zip(tabs[:-1], frames[:-1], strict=True):
            assert frame.startswith(f"{world.base}/hosts/{tab.lower()}/e/")
    assert with_imdb

    serial = Selector(_get(client, serials[0]).text)
    assert serial.css("div.page__subcols h1::text").get().endswith(" - 1. Staffel")
    choices = serial.css("select#se-select option::attr(value)").getall()
    assert choices and choices == [f"ep{n}" for n in range(1, len(choices) + 1)]
    for choice in choices:
        options = serial.css(f"select#{choice} option")
        assert options and all(o.attrib["value"].startswith(f"{world.base}/hosts/{o.css('::text').get().lower()}/e/")
                               for o in options)


def test_megakino_token_gate_is_per_domain(world: RunningWorld) -> None:
    with httpx.Client(timeout=5) as fresh:
        film = next(e for e in world.world.entries("megakino") if e.kind == "film")
        url = f"{world.megakino_domain()}{film.path}"
        assert "yg=token" in _get(fresh, url).text
        opened = _get(fresh, f"{world.megakino_domain()}/index.php?yg=token")
        assert "yg" in opened.cookies
        assert "pmovie__player" in _get(fresh, url).text
        assert "yg=token" in _get(fresh, f"{world.megakino}{film.path}").text  # another domain: its own gate


def test_megakino_moves_domain_old_one_redirects_then_stops_answering(world: RunningWorld,
                                                                     client: httpx.Client) -> None:
    first = world.megakino_domain()
    assert first == world.megakino_candidates[0]
    try:
        second = world.move_megakino()
        assert second == world.megakino_candidates[1]
        moved = client.get(f"{first}/sitemap.xml?x=1")
        assert moved.status_code == 301 and moved.headers["location"] == f"{second}/sitemap.xml?x=1"
        _open_gate(client, second)
        assert "<sitemapindex" in _get(client, f"{second}/sitemap.xml").text
        world.move_megakino()
        with pytest.raises(httpx.TransportError):  # two moves ago: the domain no longer answers at all
            client.get(f"{first}/sitemap.xml")
        assert client.get(f"{second}/sitemap.xml").status_code == 301
        world.set_day(7)  # and it moves weekly on its own
        assert world.megakino_domain() == world.megakino_candidates[3]
    finally:
        world.app.megakino_moves = 0


# -- SkyHook and the truth -------------------------------------------------------------------------


def test_skyhook_search_and_show_agree_with_truth(world: RunningWorld, client: httpx.Client) -> None:
    statuses: set[str] = set()
    for entry in world.world.entries("aniworld")[:40]:
        truth = world.truth("aniworld", entry.slug)
        assert truth is not None
        statuses.add(truth["status"])
        results = _get(client, f"{world.skyhook}/v1/tvdb/search/en/", params={"term": entry.title}).json()
        ids = [r["tvdbId"] for r in results]
        if truth["status"] == "unmatched":
            assert truth["tvdb_id"] is None
            continue
        assert truth["tvdb_id"] in ids, (entry.title, truth)
        for r in results:
            assert {"tvdbId", "title", "year", "slug", "imdbId", "alternateTitles", "status"} <= r.keys()
        if truth["status"] == "ambiguous":
            wanted = {_bare(truth["tvdb_title"]), _bare(entry.title)}
            same = [r for r in results
                    if wanted & {_bare(t) for t in [r["title"], *(a["title"] for a in r["alternateTitles"])]}]
            assert len(same) >= 2, (entry.title, truth, results)
        show = _get(client, f"{world.skyhook}/v1/tvdb/shows/en/{truth['tvdb_id']}").json()
        assert show["year"] == truth["year"]
        by_number = {(e["seasonNumber"], e["episodeNumber"]): e for e in show["episodes"]}
        for (ts, te, absolute) in truth["episode_map"].values():
            assert by_number[(ts, te)]["absoluteEpisodeNumber"] == absolute
    assert statuses >= {"match", "unmatched"}
    assert client.get(f"{world.skyhook}/v1/tvdb/shows/en/1").status_code == 404
    api = _get(client, f"{world.base}/_world/truth/aniworld/{world.world.entries('aniworld')[0].slug}").json()
    assert {"tvdb_id", "status", "episode_map"} <= api.keys()


def test_truth_covers_split_seasons_specials_and_films() -> None:
    world = World(seed=3, titles=600)
    split = specials = films = ambiguous = 0
    for site in ("aniworld", "sto"):
        for entry in world.entries(site):
            truth = world.truth(site, entry.slug)
            assert truth is not None
            ambiguous += truth["status"] == "ambiguous"
            if truth["tvdb_id"] is None:
                assert truth["episode_map"] == {}
                continue
            seasons_by_provider: dict[int, set[int]] = {}
            for (ps, _), (ts, _, _) in truth["episode_map"].items():
                seasons_by_provider.setdefault(ps, set()).add(ts)
            split += any(len(v) > 1 for p, v in seasons_by_provider.items() if p > 0)
            specials += site == "sto" and 0 in seasons_by_provider
            films += site == "aniworld" and 0 in seasons_by_provider
    assert split and specials and films and ambiguous
    film = next(e for e in world.entries("megakino") if e.kind == "film")
    assert world.truth("megakino", film.slug)["imdb_id"].startswith("tt")


# -- Determinism and time --------------------------------------------------------------------------


def test_same_seed_same_bytes(world: RunningWorld, client: httpx.Client) -> None:
    with running_world(seed=1, titles=80) as other:
        info = _first_series_with(world, "aniworld", lambda i: 1 in i.seasons)
        paths = [
            "/aniworld/animes-alphabet", f"/aniworld/anime/stream/{info.slug}",
            f"/aniworld/anime/stream/{info.slug}/staffel-1", f"/aniworld/anime/stream/{info.slug}/staffel-1/episode-1",
            "/sto/serien-alphabet", f"/skyhook/v1/tvdb/search/en/?term={info.title}",
        ]
        for path in paths:
            assert _get(client, world.base + path).content == _get(client, other.base + path).content, path
        _open_gate(client, world.megakino)  # cookies ignore the port: the gate is open on both worlds
        mine = _get(client, f"{world.megakino}/sitemap-films.xml").text.replace(world.base, "")
        theirs = _get(client, f"{other.megakino}/sitemap-films.xml").text.replace(other.base, "")
        assert mine == theirs and "/films/" in mine
    different = World(seed=2, titles=80)
    assert [e.slug for e in different.entries("aniworld")] != [e.slug for e in world.world.entries("aniworld")]


def test_day_changes_are_small_and_known(world: RunningWorld, client: httpx.Client) -> None:
    def catalogue() -> dict[str, tuple[str, str]]:
        page = Selector(_get(client, f"{world.aniworld}/animes-alphabet").text)
        return {a.attrib["href"].rsplit("/", 1)[1]: (a.css("::text").get(), a.attrib["data-alternative-title"])
                for a in page.css('a[href^="/anime/stream/"]')}

    before = catalogue()
    changes = world.world.changes("aniworld", 1)
    client.post(f"{world.base}/_world/day", json={"day": 1}).raise_for_status()
    after = catalogue()
    assert set(after) - set(before) == set(changes["added"])
    assert set(before) - set(after) == set(changes["removed"])
    renamed = {slug for slug in set(before) & set(after) if before[slug] != after[slug]}
    assert renamed == set(changes["renamed"])
    assert 0 < len(renamed) + len(changes["added"]) + len(changes["removed"]) < 10
    for slug in changes["new_episodes"]:
        day0, day1 = world.world.info("aniworld", slug, day=0), world.world.info("aniworld", slug, day=1)
        assert sum(day1.seasons.values()) == sum(day0.seasons.values()) + 1
    assert client.get(f"{world.base}/_world/changes/aniworld/1").json() == changes


def test_episodes_per_title_knob() -> None:
    world = World(seed=5, titles=400, episodes_per_title=10)
    totals = [sum(world.info("sto", e.slug).seasons.values()) for e in world.entries("sto")]
    assert 6 <= sum(totals) / len(totals) <= 15


# -- Faults ----------------------------------------------------------------------------------------


def test_fault_status_modes_and_counters(world: RunningWorld, client: httpx.Client) -> None:
    alphabet = f"{world.aniworld}/animes-alphabet"
    world.set_faults([{"site": "aniworld", "path": "^/animes-alphabet$", "mode": "429", "retry_after": 7, "times": 2}])
    assert client.get(alphabet).status_code == 429
    assert client.get(alphabet).headers["retry-after"] == "7"
    assert client.get(alphabet).status_code == 200
    assert world.fault_hits() == [2]

    rules = [{"site": "sto", "path": ".*", "mode": "503", "retry_after": 3},
             {"site": "*", "path": "alphabet", "mode": "challenge"}]
    assert client.post(f"{world.base}/_world/faults", json=rules).status_code == 200
    assert client.get(f"{world.sto}/serien").status_code == 503
    challenge = client.get(alphabet)
    assert challenge.status_code == 403
    assert "<title>Just a moment...</title>" in challenge.text and "cf-turnstile" in challenge.text
    listed = client.get(f"{world.base}/_world/faults").json()
    assert [r["hits"] for r in listed] == [1, 1]
    client.delete(f"{world.base}/_world/faults").raise_for_status()
    assert client.get(alphabet).status_code == 200

    world.set_faults([{"site": "skyhook", "mode": "503", "probability": 0.5}])
    codes = [client.get(f"{world.skyhook}/v1/tvdb/shows/en/1").status_code for _ in range(20)]
    assert 0 < codes.count(503) < 20

    world.set_faults([{"site": "aniworld", "mode": "latency", "seconds": 0.3}])
    started = time.perf_counter()
    assert client.get(alphabet).status_code == 200
    assert time.perf_counter() - started >= 0.3
    assert client.post(f"{world.base}/_world/faults", json=[{"mode": "explode"}]).status_code == 400


def test_fault_reset_truncate_slow(world: RunningWorld, client: httpx.Client) -> None:
    alphabet = f"{world.aniworld}/animes-alphabet"
    world.set_faults([{"site": "aniworld", "mode": "reset", "times": 1}])
    with pytest.raises(httpx.TransportError):
        client.get(alphabet)
    assert client.get(alphabet).status_code == 200

    world.set_faults([{"site": "aniworld", "mode": "truncate", "times": 1}])
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(alphabet)

    world.set_faults([{"site": "hosts", "path": "^/media/", "mode": "slow"}])  # a byte a second
    started = time.perf_counter()
    with pytest.raises(httpx.ReadTimeout):
        client.get(f"{world.hosts}/media/abc.mp4", timeout=httpx.Timeout(5, read=0.5))
    assert time.perf_counter() - started < 5

    # A faster trickle defeats a per-read timeout: only an overall deadline ends it.
    world.set_faults([{"site": "hosts", "path": "^/media/", "mode": "slow", "interval": 0.05}])
    received = b""
    with client.stream("GET", f"{world.hosts}/media/abc.mp4", timeout=httpx.Timeout(0.5)) as response:
        deadline = time.perf_counter() + 0.5
        for chunk in response.iter_raw():
            received += chunk
            if time.perf_counter() > deadline:
                break
    assert 3 <= len(received) <= 20 and set(received) == {ord("<")}


def test_fault_malformed_kinds(world: RunningWorld, client: httpx.Client) -> None:
    info = _first_series_with(world, "aniworld", lambda i: any("ä" in n or "ü" in n or "ö" in n for n in (
        e.title_de for e in world.world.season_episodes(i, 1))) if 1 in i.seasons else False)
    url = f"{world.aniworld}/anime/stream/{info.slug}/staffel-1"
    world.set_faults([{"site": "aniworld", "path": "staffel-1$", "mode": "malformed", "kind": "no_table", "times": 1},
                      {"site": "aniworld", "path": "staffel-1$", "mode": "malformed", "kind": "no_numbers",
                       "times": 1},
                      {"site": "aniworld", "path": "staffel-1$", "mode": "malformed", "kind": "latin1", "times": 1},
                      {"site": "aniworld", "path": "staffel-1$", "mode": "malformed", "kind": "garbage", "times": 1}])
    no_table = Selector(_get(client, url).text)
    assert not no_table.css("table.seasonEpisodesList") and no_table.css("h1")
    no_numbers = Selector(_get(client, url).text)
    assert set(no_numbers.css('meta[itemprop="episodeNumber"]::attr(content)').getall()) == {""}
    latin1 = _get(client, url)
    assert "charset=utf-8" in latin1.headers["content-type"]
    with pytest.raises(UnicodeDecodeError):
        latin1.content.decode("utf-8")
    garbage = _get(client, url)
    assert "</html>" not in garbage.text
    assert client.get(url).text == _get(client, url).text


# -- Video hosts and yt-dlp ------------------------------------------------------------------------


def _voe_source(html: str) -> str:
    """Decode a VOE page's JSON blob the way a player does (ROT13, markers out, base64, shift, reverse, base64)."""
    blob = json.loads(re.search(r'<script type="application/json">(.+?)</script>', html).group(1))
    text = codecs.decode(blob, "rot13")
    for marker in ("@$", "^^", "~@", "%?", "*~", "!!", "#&"):
        text = text.replace(marker, "")
    shifted = "".join(chr(ord(c) - 3) for c in base64.b64decode(text).decode())[::-1]
    return str(json.loads(base64.b64decode(shifted))["source"])


def test_voe_serves_encoded_pages_and_an_interstitial_to_a_mirror(world: RunningWorld, client: httpx.Client) -> None:
    pages = {vid: _get(client, f"{world.hosts}/voe/e/{vid}").text for vid in (f"v{n}" for n in range(1, 13))}
    interstitials = [vid for vid, html in pages.items() if "window.location.href" in html]
    assert 0 < len(interstitials) < len(pages)  # some videos go through the mirror, most do not
    for vid, html in pages.items():
        if vid in interstitials:
            target = re.search(r"window\.location\.href = '([^']+)'", html).group(1)
            assert target == f"{world.hosts}/voe-mirror/e/{vid}"
            html = _get(client, target).text
        assert "var sources" not in html and "master.m3u8" not in html  # the source only in the blob
        assert _voe_source(html) == f"{world.base}/hosts/media/{vid}/master.m3u8"
    world.set_shapes({"voe": "legacy"})
    try:
        legacy = _get(client, f"{world.hosts}/voe/e/{interstitials[0]}").text
        encoded = re.search(r"'hls': '([^']+)'", legacy).group(1)
        assert base64.b64decode(encoded).decode() == f"{world.base}/hosts/media/{interstitials[0]}/master.m3u8"
        world.set_shapes({"voe": "interstitial"})
        assert all("window.location.href" in _get(client, f"{world.hosts}/voe/e/{vid}").text for vid in pages)
    finally:
        world.set_shapes({"voe": "encoded"})


def test_filemoon_serves_packed_and_byse_pages(world: RunningWorld, client: httpx.Client) -> None:
    m3u8 = f'file:"{world.base}/hosts/media/v1/master.m3u8"'
    pages = {vid: _get(client, f"{world.hosts}/filemoon/e/{vid}").text for vid in (f"v{n}" for n in range(1, 10))}
    byse = [vid for vid, html in pages.items() if 'id="root"' in html]
    assert 0 < len(byse) < len(pages)
    for vid, html in pages.items():
        assert "master.m3u8" not in html  # packed or sealed, never in the clear
        api = client.get(f"{world.hosts}/filemoon/api/videos/{vid}")
        if vid in byse:
            playback = api.json()["playback"]
            assert playback["algorithm"] == "AES-256-GCM" and len(playback["key_parts"]) == 2
        else:
            assert "eval(function(p,a,c,k,e,d)" in html and api.status_code == 404
    try:
        world.set_shapes({"filemoon": "plain"})
        assert m3u8 in _get(client, f"{world.hosts}/filemoon/e/v1").text
        world.set_shapes({"filemoon": "byse"})
        assert all('id="root"' in _get(client, f"{world.hosts}/filemoon/e/{vid}").text for vid in pages)
        bad = client.post(f"{world.base}/_world/shapes", json={"voe": "nope"})
        assert bad.status_code == 400 and "one of encoded, interstitial, legacy" in bad.json()["error"]
    finally:
        client.delete(f"{world.base}/_world/shapes")
    assert client.get(f"{world.base}/_world/shapes").json() == {"voe": "encoded", "filemoon": "mixed"}


def test_host_flows_streamtape_doodstream_voe_range(world: RunningWorld, client: httpx.Client) -> None:
    page = _get(client, f"{world.hosts}/streamtape/e/abc123").text
    prefix, scrambled, cut = re.search(r"innerHTML = '([^']+)' \+ \('([^']+)'\)\.substring\((\d+)\)", page).groups()
    assert client.get(world.base + prefix + "WRONG").status_code == 403
    resolved = client.get(world.base + prefix + scrambled[int(cut):])
    assert resolved.status_code == 302 and resolved.headers["location"].endswith("/hosts/media/abc123.mp4")

    embed = f"{world.hosts}/doodstream/e/xyz789"
    page = _get(client, embed).text
    pass_path = re.search(r"\$\.get\('([^']+)'", page).group(1)
    token = re.search(r"token=([0-9a-f]+)&expiry=", page).group(1)
    assert client.get(world.base + pass_path).status_code == 403
    base_url = _get(client, world.base + pass_path, headers={"Referer": embed}).text
    assert base_url == f"{world.base}/hosts/doodstream/stream/xyz789/"
    video = _get(client, f"{base_url}AbCdEfGhIj?token={token}&expiry=123")
    assert video.content[4:8] == b"ftyp"
    assert client.get(f"{base_url}AbCdEfGhIj?token=nope&expiry=1").status_code == 403

    assert f'file:"{world.base}/hosts/media/v1/master.m3u8"' in _get(client, f"{world.hosts}/vidmoly/e/v1").text
    for host in ("loadx", "luluvdo", "vidoza"):
        assert f'<source src="{world.base}/hosts/media/v1.mp4"' in _get(client, f"{world.hosts}/{host}/e/v1").text

    full = _get(client, f"{world.hosts}/media/v1.mp4").content
    part = client.get(f"{world.hosts}/media/v1.mp4", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == full[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(full)}"
    assert client.get(f"{world.hosts}/media/v1.mp4", headers={"Range": f"bytes={len(full)}-"}).status_code == 416


def _mp4_boxes(data: bytes) -> list[bytes]:
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset:offset + 4], "big")
        boxes.append(data[offset + 4:offset + 8])
        if size < 8:
            break
        offset += size
    return boxes


def test_yt_dlp_downloads_mp4_and_hls(world: RunningWorld, tmp_path: Path) -> None:
    import yt_dlp

    options = {"outtmpl": str(tmp_path / "%(id)s.%(ext)s"), "quiet": True, "no_warnings": True,
               "hls_prefer_native": True, "noprogress": True, "socket_timeout": 10}
    with yt_dlp.YoutubeDL(options) as ydl:
        ydl.download([f"{world.hosts}/media/clip1.mp4", f"{world.hosts}/media/clip2/master.m3u8"])
    files = sorted(tmp_path.iterdir())
    mp4 = next(f for f in files if f.name.startswith("clip1"))
    boxes = _mp4_boxes(mp4.read_bytes())
    assert boxes[0] == b"ftyp" and b"moov" in boxes
    hls = next(f for f in files if not f.name.startswith("clip1"))
    data = hls.read_bytes()
    assert data and (data[0] == 0x47 or data[4:8] == b"ftyp")


# -- Scale -----------------------------------------------------------------------------------------


def test_large_alphabet_and_title_page_speed(client: httpx.Client) -> None:
    with running_world(seed=1, titles=12000) as big:
        started = time.perf_counter()
        first = _get(client, f"{big.sto}/serien-alphabet", timeout=30)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        _get(client, f"{big.sto}/serien-alphabet")
        warm = time.perf_counter() - started
        assert len(Selector(first.text).css('a[href^="/serie/"]')) == 12000
        slugs = [e.slug for e in big.world.entries("sto")[::600]]
        started = time.perf_counter()
        for slug in slugs:
            _get(client, f"{big.sto}/serie/{slug}")
        per_page = (time.perf_counter() - started) / len(slugs)
        print(f"\n12,000-title alphabet: cold {cold * 1000:.0f} ms, cached {warm * 1000:.1f} ms, "
              f"{len(first.content) / 1e6:.1f} MB; series page round trip {per_page * 1000:.2f} ms")


def test_conftest_fixture_and_per_site_sizes(devworld: RunningWorld, client: httpx.Client) -> None:
    info = _get(client, f"{devworld.base}/_world").json()
    assert info["sizes"] == {"aniworld": 60, "sto": 60, "megakino": 60}
    assert devworld.env()["ANIWORLD_BASE_URL"] == devworld.aniworld
    sized = World(seed=1, titles=10, sizes={"sto": 25})
    assert (len(sized.entries("aniworld")), len(sized.entries("sto"))) == (10, 25)
    client.post(f"{devworld.base}/_world/faults", json=[{"mode": "503"}]).raise_for_status()
    client.post(f"{devworld.base}/_world/faults?append=1", json=[{"mode": "429"}]).raise_for_status()
    assert [r["mode"] for r in client.get(f"{devworld.base}/_world/faults").json()] == ["503", "429"]
    assert client.get(f"{devworld.base}/_world").status_code == 200  # control paths are never faulted
