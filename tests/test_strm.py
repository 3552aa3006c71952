"""STRM files and the STRM proxy, end to end: a real AniBridge on loopback, the local provider world,
the real qbittorrent-api client, and players talking HTTP to AniBridge (Range requests, HLS).

A STRM grab writes ``<release>/<release>.strm`` at once (no download) and the task completes like any
other; in proxy mode the file holds AniBridge's stable URL, which streams the world's bytes.
"""

from __future__ import annotations

import asyncio
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from test_downloads_e2e import DONE, Pick, client_for, pick, wait_state

from anibridge.devworld.hosts import media
from anibridge.devworld.testing import RunningWorld, running_world
from anibridge.http.app import create_app
from anibridge.releases import build_magnet, info_hash, parse_magnet, release_title
from anibridge.runtime import Runtime
from anibridge.strm.auth import Signer
from anibridge.strm.urls import proxy_url
from anibridge.testing import Harness, crawl_now, free_port, serve_asgi, settings_for

SECRET = "correct-horse-battery-staple"
MP4_HOSTS = ("LoadX", "Vidoza", "Luluvdo", "Streamtape", "Doodstream")
HLS_HOSTS = ("VOE", "Filemoon", "Vidmoly")


@pytest.fixture(scope="module")
def world() -> Iterator[RunningWorld]:
    with running_world(seed=1, titles=20) as w:
        yield w


@contextmanager
def strm_anibridge(data_dir: Path, world: RunningWorld, **env: Any) -> Iterator[Harness]:
    """AniBridge whose STRM_PUBLIC_BASE_URL is its own loopback address (known before it starts)."""
    port = free_port()
    values = {"CATALOG_ENABLED": "false", "PROVIDER_DIRECT_LINK_TIMEOUT_SECONDS": "5",
              "STRM_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "STRM_PROXY_SECRET": SECRET,
              "STRM_PROXY_UPSTREAM_ALLOWLIST": "127.0.0.1", **world.env(), **env}
    runtime = Runtime(settings_for(data_dir, **values), crawl=False)
    with serve_asgi(create_app(runtime), port=port) as base:
        yield Harness(base, runtime)


def strm_magnet(ep: Pick, host: str, language: str | None = None) -> tuple[str, str]:
    lang = language or next(lang for lang, hosts in ep.languages.items() if host in hosts)
    name = release_title(ep.title, ep.season, ep.episode, lang, ep.site, strm=True)
    magnet = build_magnet(ep.site, ep.slug, ep.season, ep.episode, lang, name, provider=host, mode="strm")
    return magnet, info_hash(ep.slug, ep.season, ep.episode, lang, "strm")


def with_host(world: RunningWorld, hosts: tuple[str, ...], skip: int = 0) -> tuple[Pick, str]:
    ep = pick(world, want=lambda p: any(h in hs for hs in p.languages.values() for h in hosts), skip=skip)
    host = next(h for h in hosts if any(h in hs for hs in ep.languages.values()))
    return ep, host


def grab(h: Harness, magnet: str, task_hash: str, category: str = "tv-sonarr") -> tuple[dict[str, Any], Path]:
    """Add like Sonarr, wait for completion; the torrent and the local ``.strm`` file."""
    client = client_for(h.base_url)
    assert client.torrents_add(urls=magnet, category=category) == "Ok."
    info = wait_state(client, task_hash, DONE, timeout=30)
    local = h.settings.downloads_path / Path(info["content_path"]).relative_to(h.settings.downloads_path.resolve())
    return info, local


def strm_url(path: Path) -> str:
    text = path.read_text()
    assert text.endswith("\n") and text.count("\n") == 1, "a .strm file is one line: the URL"
    return text.strip()


def assert_sonarr_importable(info: dict[str, Any], local: Path, category: str = "tv-sonarr") -> None:
    """What Sonarr's import of a completed qBittorrent download needs of a STRM file: complete state and
    progress, content in its own folder below save_path (not save_path itself), a ``.strm`` extension
    (Sonarr's MediaFileExtensions list it and skip the sample check for it) and a name that carries SxxEyy."""
    assert info["state"] in DONE and info["progress"] == 1 and info["amount_left"] == 0
    assert info["content_path"] != info["save_path"] and info["save_path"].endswith(category)
    assert local.is_file() and local.suffix == ".strm" and local.stat().st_size == info["size"]
    assert local.parent.name == local.stem and local.parent.parent.name == category
    assert "[STRM]" not in local.name and re.search(r"\.S\d\dE\d\d\.", local.name), local.name


# --- direct mode ------------------------------------------------------------------------------------
def test_direct_strm_grab_writes_the_hosts_link_at_once(world: RunningWorld, tmp_path: Path) -> None:
    ep, host = with_host(world, MP4_HOSTS)
    magnet, task_hash = strm_magnet(ep, host)
    with strm_anibridge(tmp_path, world) as h:  # STRM_PROXY_MODE defaults to direct
        started = time.monotonic()
        info, local = grab(h, magnet, task_hash)
        elapsed = time.monotonic() - started
        assert_sonarr_importable(info, local)
        url = strm_url(local)
        assert url.startswith(world.base + "/hosts/"), url
        # the link plays: the world's own bytes
        assert httpx.get(url, follow_redirects=True, timeout=10).content == media("sample.mp4")
        assert not list((h.settings.downloads_path / ".incoming").glob("*/*")), "nothing downloaded or left over"
        print(f"\n[figures] STRM grab -> completed .strm file: {elapsed:.2f} s")

        # a STRM task is a task like any other: delete removes the file and its folder
        client = client_for(h.base_url)
        client.torrents_delete(delete_files=True, torrent_hashes=task_hash)
        assert not local.exists() and not local.parent.exists()
        assert client.torrents_info(torrent_hashes=task_hash) == []


# --- proxy mode -------------------------------------------------------------------------------------
def test_proxy_strm_streams_the_world_bytes_with_ranges(world: RunningWorld, tmp_path: Path) -> None:
    ep, host = with_host(world, MP4_HOSTS, skip=1)
    magnet, task_hash = strm_magnet(ep, host)
    data = media("sample.mp4")
    with strm_anibridge(tmp_path, world, STRM_PROXY_MODE="proxy") as h:
        info, local = grab(h, magnet, task_hash)
        assert_sonarr_importable(info, local)
        url = strm_url(local)
        assert url.startswith(f"{h.base_url}/strm/stream?") and "sig=" in url and "exp=" not in url
        query = dict(parse_qsl(urlsplit(url).query))
        assert (query["site"], query["slug"], query["s"], query["e"]) == (ep.site, ep.slug, str(ep.season),
                                                                          str(ep.episode))
        with httpx.Client(timeout=10) as player:
            whole = player.get(url)
            assert whole.status_code == 200 and whole.content == data
            assert whole.headers["content-type"] == "video/mp4"
            part = player.get(url, headers={"Range": "bytes=100-1099"})
            assert part.status_code == 206 and part.content == data[100:1100]
            assert part.headers["content-range"] == f"bytes 100-1099/{len(data)}"
            tail = player.get(url, headers={"Range": "bytes=-500"})
            assert tail.status_code == 206 and tail.content == data[-500:]
            head = player.head(url)
            assert head.status_code == 200 and int(head.headers["content-length"]) == len(data)
            assert player.get(url, headers={"Range": f"bytes={len(data)}-"}).status_code == 416
            # the grab resolved the link once; every play reuses it (STRM_PROXY_CACHE_TTL_SECONDS=0)
            assert h.runtime.strm_links.lookups == 0

            # no signature, a changed one, another episode with the same signature: refused
            unsigned = url.split("&sig=")[0] if "&sig=" in url else url.replace(f"sig={query['sig']}", "")
            assert player.get(unsigned).status_code == 401
            assert player.get(url.replace(query["sig"], "0" * 64)).status_code == 401
            other = url.replace(f"e={ep.episode}", f"e={ep.episode + 1}", 1)
            assert player.get(other).status_code == 401


def test_proxy_relooks_up_a_link_the_host_refuses(world: RunningWorld, tmp_path: Path) -> None:
    ep, host = with_host(world, MP4_HOSTS, skip=2)
    magnet, task_hash = strm_magnet(ep, host)
    with strm_anibridge(tmp_path, world, STRM_PROXY_MODE="proxy") as h:
        _, local = grab(h, magnet, task_hash)
        url = strm_url(local)
        (identity,) = list(h.runtime.strm_links._data)
        link = h.runtime.strm_links.get(identity)
        assert link is not None
        link.url = world.base + "/hosts/media/gone/nothing.mp4"  # an expired link: the world answers 404
        reply = httpx.get(url, timeout=10)
        assert reply.status_code == 200 and reply.content == media("sample.mp4")
        assert h.runtime.strm_links.lookups == 1


def test_proxy_cache_ttl_looks_the_link_up_again(world: RunningWorld, tmp_path: Path) -> None:
    ep, host = with_host(world, MP4_HOSTS, skip=3)
    magnet, task_hash = strm_magnet(ep, host)
    with strm_anibridge(tmp_path, world, STRM_PROXY_MODE="proxy", STRM_PROXY_CACHE_TTL_SECONDS="1") as h:
        _, local = grab(h, magnet, task_hash)
        url = strm_url(local)
        assert httpx.get(url, timeout=10).status_code == 200
        assert h.runtime.strm_links.lookups == 0
        time.sleep(1.2)

        async def players() -> list[httpx.Response]:  # several players at once share one lookup
            async with httpx.AsyncClient(timeout=20) as client:
                return await asyncio.gather(*(client.get(url, headers={"Range": f"bytes={i}-{i + 99}"})
                                              for i in range(6)))

        replies = asyncio.run(players())
        assert [r.content for r in replies] == [media("sample.mp4")[i:i + 100] for i in range(6)]
        assert h.runtime.strm_links.lookups == 1


def test_proxy_rewrites_hls_and_segment_tokens_expire(world: RunningWorld, tmp_path: Path) -> None:
    ep, host = with_host(world, HLS_HOSTS)
    magnet, task_hash = strm_magnet(ep, host)
    with strm_anibridge(tmp_path, world, STRM_PROXY_MODE="proxy", STRM_PROXY_TOKEN_TTL_SECONDS="1") as h:
        _, local = grab(h, magnet, task_hash)
        with httpx.Client(timeout=10) as player:
            playlist = player.get(strm_url(local))
            assert playlist.status_code == 200
            assert playlist.headers["content-type"].startswith("application/vnd.apple.mpegurl")
            lines = playlist.text.splitlines()
            assert lines[0] == "#EXTM3U" and "#EXT-X-ENDLIST" in lines
            segments = [ln for ln in lines if ln and not ln.startswith("#")]
            assert len(segments) == 2
            for index, segment in enumerate(segments):
                assert segment.startswith(f"{h.base_url}/strm/proxy/seg{index}.ts?")
                query = dict(parse_qsl(urlsplit(segment).query))
                assert query["u"].startswith(world.base) and query["exp"] and query["sig"]
                # the token lives for the TTL plus the playlist's length (2 s here)
                assert int(query["exp"]) - time.time() <= 1 + 2 + 1
                got = player.get(segment)
                assert got.status_code == 200 and got.content == media(f"seg{index}.ts")
                part = player.get(segment, headers={"Range": "bytes=188-375"})
                assert part.status_code in (200, 206)
            time.sleep(4.2)
            expired = player.get(segments[0])
            assert expired.status_code == 401 and "expired" in expired.text


def test_proxy_refuses_foreign_upstreams_and_bad_tokens(world: RunningWorld, tmp_path: Path) -> None:
    with strm_anibridge(tmp_path, world, STRM_PROXY_MODE="proxy") as h:
        signer = Signer("token", SECRET, 60)
        good = proxy_url(h.base_url, signer, world.base + "/hosts/media/x/seg0.ts")
        with httpx.Client(timeout=10) as player:
            assert player.get(good).content == media("seg0.ts")
            # signed by AniBridge's secret, but not on STRM_PROXY_UPSTREAM_ALLOWLIST
            port = urlsplit(world.base).port
            for foreign in (f"http://localhost:{port}/hosts/media/x/seg0.ts",
                            f"http://127.0.0.2:{port}/hosts/media/x/seg0.ts", "file:///etc/passwd"):
                refused = player.get(proxy_url(h.base_url, signer, foreign))
                assert refused.status_code == 403, (foreign, refused.text)
            # another secret, no expiry, an expiry in the past, no signature at all
            assert player.get(proxy_url(h.base_url, Signer("token", "other", 60), world.base)).status_code == 401
            query = dict(parse_qsl(urlsplit(good).query))
            no_exp = f"{h.base_url}/strm/proxy/seg0.ts?u={query['u']}&sig={query['sig']}"
            assert player.get(no_exp).status_code == 401
            past = proxy_url(h.base_url, Signer("token", SECRET, -10), world.base + "/hosts/media/x/seg0.ts")
            assert player.get(past).status_code == 401
            assert player.get(f"{h.base_url}/strm/proxy/seg0.ts", params={"u": query["u"]}).status_code == 401


def test_proxy_redirects_are_checked_hop_by_hop(world: RunningWorld, tmp_path: Path) -> None:
    """A permitted upstream that redirects elsewhere: the target is checked like the first URL."""
    with strm_anibridge(tmp_path, world, STRM_PROXY_MODE="proxy",
                        STRM_PROXY_UPSTREAM_ALLOWLIST="localhost") as h:
        signer = Signer("token", SECRET, 60)
        port = urlsplit(world.base).port
        # Streamtape's get_video answers 302 to {origin}/hosts/media/<vid>.mp4: localhost -> localhost is fine
        from anibridge.devworld.hosts import token

        start = f"http://localhost:{port}/hosts/streamtape/get_video?id=abc&token={token('streamtape', 'abc')}"
        assert httpx.get(proxy_url(h.base_url, signer, start), timeout=10).content == media("sample.mp4")
        # 127.0.0.1 is not on this allow-list: refused, even as a direct URL
        direct = proxy_url(h.base_url, signer, f"{world.base}/hosts/media/abc.mp4")
        assert httpx.get(direct, timeout=10).status_code == 403


def test_proxy_connects_only_where_the_check_looked(world: RunningWorld, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: the name resolves to a public address when checked, to a LAN one when connected.
    The connection itself passes the address check, so the second answer is refused too."""
    import ipaddress

    from anibridge.strm import upstream

    async def public(host: str, port: int) -> list[ipaddress.IPv4Address]:
        return [ipaddress.ip_address("93.184.216.34")]  # what the first look-up said; never connected to

    monkeypatch.setattr(upstream, "_addresses", public)
    with strm_anibridge(tmp_path, world, STRM_PROXY_MODE="proxy", STRM_PROXY_UPSTREAM_ALLOWLIST="",
                        DOWNLOAD_ALLOWED_HOSTS="") as h:
        signer = Signer("token", SECRET, 60)
        reply = httpx.get(proxy_url(h.base_url, signer, world.base + "/hosts/media/x/seg0.ts"), timeout=10)
        assert reply.status_code == 403, reply.text
        assert "127.0.0.1" in reply.text and media("seg0.ts") not in reply.content


def test_apikey_and_none_auth(world: RunningWorld, tmp_path: Path) -> None:
    ep, host = with_host(world, MP4_HOSTS, skip=4)
    magnet, task_hash = strm_magnet(ep, host)
    with strm_anibridge(tmp_path / "a", world, STRM_PROXY_MODE="proxy", STRM_PROXY_AUTH="apikey") as h:
        _, local = grab(h, magnet, task_hash)
        url = strm_url(local)
        assert f"apikey={SECRET}" in url and "sig=" not in url
        assert httpx.get(url, timeout=10).content == media("sample.mp4")
        assert httpx.get(url.replace(SECRET, "wrong"), timeout=10).status_code == 401
    with strm_anibridge(tmp_path / "n", world, STRM_PROXY_MODE="proxy", STRM_PROXY_AUTH="none",
                        STRM_PROXY_SECRET="") as h:
        _, local = grab(h, magnet, task_hash)
        url = strm_url(local)
        assert "sig=" not in url and "apikey=" not in url
        assert httpx.get(url, timeout=10).content == media("sample.mp4")


def test_strm_public_base_url_host_is_answered(world: RunningWorld, tmp_path: Path) -> None:
    """Jellyfin plays by STRM_PUBLIC_BASE_URL's name: Host validation answers it (and still refuses others)."""
    with strm_anibridge(tmp_path, world, STRM_PROXY_MODE="proxy",
                        STRM_PUBLIC_BASE_URL="https://anibridge.media.example.com") as h:
        url = proxy_url(h.base_url, Signer("token", SECRET, 60), world.base + "/hosts/media/x/seg0.ts")
        ok = httpx.get(url, headers={"Host": "anibridge.media.example.com"}, timeout=10)
        assert ok.status_code == 200 and ok.content == media("seg0.ts")
        assert httpx.get(url, headers={"Host": "evil.example.net"}, timeout=10).status_code == 401


def test_proxy_endpoints_are_off_in_direct_mode(world: RunningWorld, tmp_path: Path) -> None:
    with strm_anibridge(tmp_path, world) as h:
        reply = httpx.get(f"{h.base_url}/strm/stream", params={"slug": "x", "s": 1, "e": 1, "lang": "German Dub"})
        assert reply.status_code == 404 and "STRM_PROXY_MODE" in reply.text


# --- Torznab -> grab, as Sonarr does it -----------------------------------------------------------------
TORZNAB = "{http://torznab.com/schemas/2015/feed}attr"


def _items(xml: bytes) -> list[ET.Element]:
    return ET.fromstring(xml).findall("./channel/item")


@pytest.mark.parametrize("mode", ["only", "both"])
def test_strm_files_mode_in_torznab_and_the_grab(tmp_path: Path, mode: str) -> None:
    with running_world(seed=4, titles=8) as world, strm_anibridge(
            tmp_path, world, CATALOG_ENABLED="true", CATALOG_SITES="aniworld.to", STRM_FILES_MODE=mode) as h:
        crawl_now(h.runtime, stages=("titles", "details"))
        title = h.runtime.catalog.conn().execute(
            "SELECT t.title FROM titles t JOIN episodes e USING (site, slug) WHERE e.season = 1 AND e.episode = 1"
            " ORDER BY t.slug LIMIT 1").fetchone()[0]
        feed = httpx.get(f"{h.base_url}/torznab/api", params={"t": "tvsearch", "q": title, "season": 1, "ep": 1},
                         timeout=30)
        items = _items(feed.content)
        assert items
        strm = [i for i in items if i.findtext("title", "").endswith(" [STRM]")]
        plain = [i for i in items if not i.findtext("title", "").endswith(" [STRM]")]
        if mode == "only":
            assert strm and not plain
        else:
            assert len(strm) == len(plain) > 0
            for a, b in zip(plain, strm, strict=True):  # each language: the download, then its STRM twin
                assert b.findtext("title") == a.findtext("title", "") + " [STRM]"
        item = strm[0]
        magnet = item.find("enclosure").get("url", "")  # type: ignore[union-attr]
        ref = parse_magnet(magnet)
        assert ref.mode == "strm" and "&aw_mode=strm" in magnet
        assert ref.info_hash == info_hash(ref.slug, ref.season, ref.episode, ref.language, "strm")
        assert next(a.get("value") for a in item.iter(TORZNAB) if a.get("name") == "infohash") == ref.info_hash

        info, local = grab(h, magnet, ref.info_hash)
        assert_sonarr_importable(info, local)
        assert info["name"] == item.findtext("title")
        assert strm_url(local).startswith(world.base + "/hosts/")
