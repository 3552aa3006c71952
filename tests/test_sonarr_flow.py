"""The whole path as Sonarr drives it, on real sockets: crawl, Torznab search, grab, download, import, delete.

Credentials and an API key are set, as a careful self-hoster would; the magnet is taken from the
Torznab item exactly as Sonarr would take it, and handed to the qBittorrent API with the real
``qbittorrent-api`` client.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import qbittorrentapi

from anibridge.devworld.testing import running_world
from anibridge.releases import parse_magnet
from anibridge.testing import crawl_now, running_anibridge

TORZNAB = "{http://torznab.com/schemas/2015/feed}attr"
API_KEY = "sonarr-key-123"


def _items(xml: bytes) -> list[ET.Element]:
    return ET.fromstring(xml).findall("./channel/item")


def _attr(item: ET.Element, name: str) -> str | None:
    return next((a.get("value") for a in item.iter(TORZNAB) if a.get("name") == name), None)


def test_sonarr_searches_grabs_downloads_imports_and_deletes(tmp_path: Path) -> None:
    with running_world(seed=4, titles=12) as world, running_anibridge(
            tmp_path, CATALOG_SITES="aniworld.to", INDEXER_API_KEY=API_KEY, QBIT_USERNAME="sonarr",
            QBIT_PASSWORD="s3cret", QBIT_PUBLIC_SAVE_PATH="/downloads", **world.env()) as h:
        crawl_now(h.runtime, stages=("titles", "details", "canonical"))
        row = h.runtime.catalog.conn().execute(
            "SELECT t.title, c.tvdb_id FROM titles t JOIN canonical c USING (site, slug)"
            " WHERE c.status = 'matched' ORDER BY t.slug LIMIT 1").fetchone()
        assert row is not None, "the canonical stage matched no series in this world"
        title, tvdb_id = row

        # Sonarr: a tvdbid search for S01E01, with its API key.
        feed = httpx.get(f"{h.base_url}/torznab/api", params={
            "t": "tvsearch", "tvdbid": tvdb_id, "season": 1, "ep": 1, "cat": "5070,5000", "extended": 1,
            "apikey": API_KEY}, timeout=30)
        assert feed.status_code == 200, feed.text
        items = _items(feed.content)
        assert items, f"no release for {title} S01E01 (tvdb {tvdb_id})"
        item = items[0]
        enclosure = item.find("enclosure")
        assert enclosure is not None and enclosure.get("type") == "application/x-bittorrent"
        magnet = enclosure.get("url", "")
        assert _attr(item, "tvdbid") == str(tvdb_id)
        ref = parse_magnet(magnet)
        assert _attr(item, "infohash") == ref.info_hash

        # Sonarr: log in, add the magnet with its category, track it by the upper-case hash.
        client = qbittorrentapi.Client(host=h.base_url, username="sonarr", password="s3cret",
                                       REQUESTS_ARGS={"timeout": 15})
        client.auth_log_in()
        assert client.torrents_add(urls=magnet, category="tv-sonarr") == "Ok."
        visible = client.torrents_info(torrent_hashes=ref.info_hash.upper())
        assert [t["hash"] for t in visible] == [ref.info_hash], "an added torrent must be visible at once"

        deadline = time.monotonic() + 90
        info = visible[0]
        while info["state"] not in ("stoppedUP", "uploading", "pausedUP") and time.monotonic() < deadline:
            assert info["state"] != "error", client.torrents_properties(ref.info_hash)["comment"]
            time.sleep(0.2)
            info = client.torrents_info(torrent_hashes=ref.info_hash)[0]
        assert info["progress"] == 1, info

        # Sonarr sees the public path; the file is where that path maps to locally.
        assert info["save_path"].startswith("/downloads/tv-sonarr")
        assert info["content_path"] != info["save_path"]
        relative = Path(info["content_path"]).relative_to("/downloads")
        local = h.settings.downloads_path / relative
        assert local.is_file() and local.stat().st_size == info["size"] > 0
        head = local.read_bytes()[:200]
        assert head[4:8] == b"ftyp" or head[0] == 0x47, "the download is not a media file"
        assert "S01E01" in local.name

        # Sonarr removes the torrent after import, with its files.
        client.torrents_delete(delete_files=True, torrent_hashes=ref.info_hash)
        assert not local.exists()
        assert client.torrents_info() == []
