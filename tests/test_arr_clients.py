"""Sonarr's, Radarr's and Prowlarr's request sequences replayed against a real AniBridge on loopback.

The sequences and the decisions taken on the answers follow the clients' C# source (see ``arr_rules``,
which names the file and method of every rule).
"""

from __future__ import annotations

from collections.abc import Iterator

import arr_rules as arr
import httpx
import pytest

from anibridge.releases import build_magnet, info_hash
from anibridge.testing import Harness, running_anibridge

API = "/api/v2"


@pytest.fixture(scope="module")
def client_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """qBittorrent API only: no catalogue, no downloads (tasks stay queued)."""
    with running_anibridge(tmp_path_factory.mktemp("arr-qbit"), downloads=False, CATALOG_ENABLED="false") as h:
        yield h


# --- grab ---------------------------------------------------------------------------------------------
def test_sonarr_accepts_anibridge_magnets_new_and_old(client_only: Harness) -> None:
    """Sonarr/Radarr refuse a tracker-less magnet unless app/preferences says DHT is on."""
    with httpx.Client(base_url=client_only.base_url, timeout=10) as c:
        prefs = c.get(f"{API}/app/preferences").json()
        new = build_magnet("aniworld.to", "frieren", 1, 2, "German Sub", "Frieren.S01E02.WEB.H264.GER.SUB-ANIWORLD")
        # a magnet as releases before `aw_site` existed wrote it (still in Sonarr's history)
        old = (f"magnet:?xt=urn:btih:{info_hash('frieren', 1, 3, 'German Dub')}&dn=Frieren.S01E03.1080p.WEB.H264"
               ".GER-ANIWORLD&aw_slug=frieren&aw_s=1&aw_e=3&aw_lang=German+Dub")
        for magnet in (new, old):
            assert arr.accepts_magnet(prefs, magnet), "Sonarr would refuse this magnet before torrents/add"
            assert c.post(f"{API}/torrents/add", data={"urls": magnet, "category": "tv-sonarr"}).text == "Ok."
            wanted = arr.magnet_hash(magnet)
            listed = c.get(f"{API}/torrents/info", params={"category": "tv-sonarr"}).json()
            assert wanted in [t["hash"].upper() for t in listed], "Sonarr tracks the download by the magnet's hash"
        assert arr.magnet_hash(old) == info_hash("frieren", 1, 3, "German Dub").upper()
