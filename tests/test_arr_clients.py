"""Sonarr's, Radarr's and Prowlarr's request sequences replayed against a real AniBridge on loopback.

The sequences and the decisions taken on the answers follow the clients' C# source (see ``arr_rules``,
which names the file and method of every rule).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import arr_rules as arr
import httpx
import pytest
import qbittorrentapi

from anibridge.devworld.testing import running_world
from anibridge.releases import build_magnet, info_hash
from anibridge.testing import Harness, crawl_now, running_anibridge

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


# --- download client: test, grab, poll, import-ready, removal, failure ---------------------------------
def _wait_items(qbit: arr.SonarrQbit, ids: set[str], done: Any, timeout: float = 120) -> dict[str, arr.DownloadItem]:
    deadline = time.monotonic() + timeout
    while True:
        items = {i.download_id: i for i in qbit.items() if i.download_id in ids}
        if done(items) or time.monotonic() > deadline:
            return items
        time.sleep(0.25)


def test_sonarr_download_client_sequence_with_a_password_only(tmp_path: Path) -> None:
    """Sonarr's client Test, grab, poll, import and removal against a password-only AniBridge (Sonarr
    leaves the user name empty, so it never logs in and relies on its Basic credentials)."""
    with running_world(seed=5, titles=8) as world, running_anibridge(
            tmp_path, CATALOG_SITES="aniworld.to", QBIT_PASSWORD="only-a-password",
            QBIT_PUBLIC_SAVE_PATH="/downloads", **world.env()) as h:
        crawl_now(h.runtime, stages=("titles", "details"))
        rows = h.runtime.catalog.conn().execute(
            "SELECT slug, season, episode, languages FROM episodes WHERE season > 0 ORDER BY slug, season, episode"
            " LIMIT 3").fetchall()
        assert len(rows) == 3
        magnets = [build_magnet("aniworld.to", slug, season, episode, languages.split(",")[0], f"{slug}.S{season:02d}"
                                f"E{episode:02d}.WEB.H264.GER-ANIWORLD") for slug, season, episode, languages in rows]
        failing = build_magnet("aniworld.to", "no-such-show", 1, 1, "German Dub", "No.Such.Show.S01E01-ANIWORLD")
        with httpx.Client(base_url=h.base_url, timeout=30) as http:
            assert http.get(f"{API}/app/version").status_code == 403, "nothing without credentials"
            with httpx.Client(base_url=h.base_url, timeout=30) as other, pytest.raises(PermissionError):
                arr.SonarrQbit(other, "", "wrong").test()
            qbit = arr.SonarrQbit(http, "", "only-a-password")
            assert qbit.test() == [], "Sonarr's download client test fails"
            assert http.get(f"{API}/app/version").text == "v5.0.5" and qbit.api_version() == (2, 11, 2)

            # grab: the first with no seed settings, the second asks to seed 60 minutes, the third ratio 1 with
            # priority "First" and initial state "Force Start"
            ids = [qbit.add_magnet(magnets[0]), qbit.add_magnet(magnets[1], seed_minutes=60),
                   qbit.add_magnet(magnets[2], ratio=1.0, move_to_top=True, force_start=True),
                   qbit.add_magnet(failing)]
            forced = {t["hash"].upper(): t for t in qbit.torrents()}[ids[2]]
            assert forced["force_start"] is True
            with pytest.raises(RuntimeError):  # a duplicate: qBittorrent 5 answers Fails.
                qbit.add_magnet(magnets[0])
            items = {i.download_id: i for i in qbit.items()}
            assert set(ids) <= set(items), "Sonarr must see every grab at once, by the magnet's hash"
            assert all(items[i].status in ("Queued", "Downloading") for i in ids)

            # poll until done: three import-ready, one failed (shown with its marker file, see
            # test_failed_downloads)
            items = _wait_items(qbit, set(ids), lambda its: all(
                i.status in ("Completed", "Warning") and i.message != "The download is stalled with no connections"
                for i in its.values()) and len(its) == 4)
            for download_id in ids[:3]:
                item = items[download_id]
                assert item.status == "Completed", item
                assert item.output_path and item.output_path.startswith("/downloads/tv-sonarr/")
                local = h.settings.downloads_path / Path(item.output_path).relative_to("/downloads")
                assert local.exists(), "Sonarr imports from the path qBittorrent reports"
                assert arr.import_completed(item, local, {arr.FAIL_EXECUTABLES}) == ("Imported", "")
            failed = items[ids[3]]
            assert failed.status == "Completed" and failed.output_path, failed
            marker = h.settings.downloads_path / Path(failed.output_path).relative_to("/downloads")
            state, _ = arr.import_completed(failed, marker, {arr.FAIL_EXECUTABLES})
            assert state == "FailedPending", "Sonarr fails it, blocklists the release and searches another"
            reason = qbit.properties(ids[3])["comment"]
            assert "no-such-show" in reason or "episode" in reason, reason

            # removal after import: only once the share limits Sonarr set are reached
            assert items[ids[0]].can_be_removed, "no seed settings: removable right after import"
            assert not items[ids[1]].can_be_removed, "asked to seed 60 minutes: not yet"
            assert items[ids[2]].can_be_removed, "ratio 1 cannot be reached without peers; the seeding time can"
            states = {t["hash"].upper(): t["state"] for t in qbit.torrents()}
            assert states[ids[1]] == "stalledUP" and states[ids[0]] == "stoppedUP"
            http.post(f"{API}/torrents/setShareLimits", data={"hashes": ids[1].lower(), "ratioLimit": -2,
                                                                "seedingTimeLimit": 0, "inactiveSeedingTimeLimit": -2})
            assert {i.download_id: i for i in qbit.items()}[ids[1]].can_be_removed
            for download_id, delete_data in ((ids[0], True), (ids[1], True), (ids[2], False)):
                output = items[download_id].output_path
                assert output is not None
                qbit.remove(download_id, delete_data=delete_data)
                # deleteFiles=false keeps the file (DELETE_FILES_ON_TORRENT_DELETE is not set)
                assert (h.settings.downloads_path / Path(output).relative_to("/downloads")).exists() is not delete_data
            assert [i.download_id for i in qbit.items()] == [ids[3]]
            # the failure: FailedDownloadService blocklists it, DownloadEventHub removes it with its data
            assert arr.failed_download_handling(items[ids[3]], state) == (True, True)
            qbit.remove(ids[3], delete_data=True)
            assert qbit.items() == [] and not marker.exists()


def test_qbittorrent_api_package_through_every_call(client_only: Harness) -> None:
    """The calls qbittorrent-api makes beyond Sonarr's: tags, savepath, rename, setLocation, webseeds,
    pieceStates, torrentPeers, share limits, filters - answered as qBittorrent 5 would."""
    client = qbittorrentapi.Client(host=client_only.base_url, REQUESTS_ARGS={"timeout": 15})
    root = client_only.settings.downloads_path.resolve()
    m1 = build_magnet("aniworld.to", "tag-show", 1, 1, "German Dub", "Tag.Show.S01E01.WEB.H264.GER-ANIWORLD")
    m2 = build_magnet("s.to", "tag-show", 1, 2, "English Dub", "Tag.Show.S01E02.WEB.H264.ENG-STO")
    h1, h2 = info_hash("tag-show", 1, 1, "German Dub"), info_hash("tag-show", 1, 2, "English Dub")
    try:
        assert client.app_version() == "v5.0.5" and client.app_web_api_version() == "2.11.2"
        assert client.torrents_add(urls=m1, category="anime", tags="a,b", save_path=str(root / "elsewhere"),
                                   ratio_limit=0.5, seeding_time_limit=30) == "Ok."
        assert client.torrents_add(urls=m2, save_path="/etc", is_stopped=True) == "Ok."
        assert client.torrents_add(urls="https://tracker.example/x.torrent") == "Fails."
        assert client.torrents_add(urls="magnet:?xt=urn:btih:" + "b" * 40 + "&dn=other") == "Fails."
        t1, t2 = (client.torrents_info(torrent_hashes=h)[0] for h in (h1, h2))
        assert t1.save_path == str(root / "elsewhere"), "savepath inside the download folder is honoured"
        assert t2.save_path == str(root), "a savepath outside the download folder is not"
        assert t1.tags == "a,b" and (t1.ratio_limit, t1.seeding_time_limit) == (0.5, 30)
        assert t1.max_ratio == 0.5 and t1.max_seeding_time == 30 and t1.seeding_time == 0

        client.torrents_add_tags(tags="c", torrent_hashes=[h1, h2])
        client.torrents_remove_tags(tags="a", torrent_hashes=h1)
        client.torrents_create_tags(tags=["spare"])
        assert client.torrents_info(torrent_hashes=h1)[0].tags == "b,c"
        assert client.torrents_tags() == ["b", "c", "spare"]
        client.torrents_delete_tags(tags="c")
        assert client.torrents_info(torrent_hashes=h2)[0].tags == "" and "c" not in client.torrents_tags()
        assert [t.hash for t in client.torrents_info(tag="b")] == [h1]

        client.torrents_rename(torrent_hash=h1, new_torrent_name="Renamed Release")
        assert client.torrents_info(torrent_hashes=h1)[0].name == "Renamed Release"
        client.torrents_set_location(location=str(root / "moved"), torrent_hashes=h2)
        assert client.torrents_info(torrent_hashes=h2)[0].save_path == str(root / "moved")
        with pytest.raises(qbittorrentapi.Conflict409Error):
            client.torrents_set_location(location="/etc", torrent_hashes=h2)

        assert client.torrents_webseeds(torrent_hash=h1) == []
        assert client.torrents_piece_states(torrent_hash=h1) == [0]
        assert client.sync_torrent_peers(torrent_hash=h1).peers == {}
        with pytest.raises(qbittorrentapi.NotFound404Error):
            client.sync_torrent_peers(torrent_hash="0" * 40)

        client.torrents_set_share_limits(ratio_limit=-1, seeding_time_limit=-1, inactive_seeding_time_limit=-1,
                                         torrent_hashes=h1)
        t1 = client.torrents_info(torrent_hashes=h1)[0]
        assert (t1.ratio_limit, t1.seeding_time_limit, t1.inactive_seeding_time_limit) == (-1, -1, -1)
        assert len(client.torrents_info(status_filter="no-such-filter")) == len(client.torrents_info()) >= 2
        assert h2 in [t.hash for t in client.torrents_info(status_filter="stopped")]
    finally:
        client.torrents_delete(delete_files=True, torrent_hashes="all")
        client.torrents_delete_tags(tags="spare,b")


@pytest.mark.parametrize("url", ["/torznab", "/torznab/api"])
def test_indexer_url_with_the_api_path_appended(client_only: Harness, url: str) -> None:
    """NewznabRequestGenerator.GetPagedRequests: BaseUrl.TrimEnd('/') + ApiPath ("/api") + "?t=...": both the
    documented URL and the one earlier releases documented must answer."""
    full = url.rstrip("/") + "/api"
    with httpx.Client(base_url=client_only.base_url, timeout=10) as c:
        for method in ("GET", "POST"):
            r = c.request(method, full, params={"t": "caps"})
            assert r.status_code == 200, (full, r.status_code)
            assert r.text.startswith("<?xml") and "<caps>" in r.text


def test_wrong_basic_credentials_count_towards_the_login_ban(tmp_path: Path) -> None:
    """Basic credentials are a login too: guessing them gets the address banned like auth/login does."""
    with running_anibridge(tmp_path, downloads=False, CATALOG_ENABLED="false", QBIT_PASSWORD="right",
                           QBIT_MAX_AUTH_FAIL_COUNT="3") as h, httpx.Client(base_url=h.base_url, timeout=10) as c:
        assert c.get(f"{API}/app/version", auth=("", "right")).status_code == 200
        assert c.get(f"{API}/app/version", auth=("anyone", "right")).status_code == 200  # no user name set
        for _ in range(3):
            assert c.get(f"{API}/app/version", auth=("", "guess")).status_code == 403
        assert c.get(f"{API}/app/version", auth=("", "right")).status_code == 403, "banned, even when right"
        assert c.post(f"{API}/auth/login", data={"username": "", "password": "right"}).status_code == 403
