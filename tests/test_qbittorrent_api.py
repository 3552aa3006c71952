"""qBittorrent WebUI API v2 against a real AniBridge on loopback (downloads off: tasks stay queued)."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import qbittorrentapi

from anibridge.releases import build_magnet, info_hash
from anibridge.testing import Harness, running_anibridge

API = "/api/v2"


def magnet(slug: str = "one-piece", season: int = 1, episode: int = 1, language: str = "German Dub",
           site: str = "aniworld.to") -> str:
    return build_magnet(site, slug, season, episode, language, f"{slug}.S{season:02d}E{episode:02d}-ANIWORLD")


def btih(m: str) -> str:
    return m.split("btih:", 1)[1].split("&", 1)[0]


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with running_anibridge(tmp_path_factory.mktemp("qbit"), downloads=False, CATALOG_ENABLED="false") as h:
        yield h


@pytest.fixture()
def http(open_server: Harness) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=open_server.base_url, timeout=10) as client:
        yield client
        client.post(f"{API}/torrents/delete", data={"hashes": "all", "deleteFiles": "true"})


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with running_anibridge(tmp_path_factory.mktemp("qbit-auth"), downloads=False, CATALOG_ENABLED="false",
                           QBIT_USERNAME="sonarr", QBIT_PASSWORD="s3cret pass") as h:
        yield h


def info(http: httpx.Client, **params: str) -> list[dict]:
    r = http.post(f"{API}/torrents/info", data=params)
    assert r.status_code == 200, r.text
    return r.json()


# --- auth -------------------------------------------------------------------------------------------
def test_login_required_when_credentials_are_set(locked_server: Harness) -> None:
    with httpx.Client(base_url=locked_server.base_url, timeout=10) as c:
        r = c.get(f"{API}/app/version")
        assert (r.status_code, r.text) == (403, "Forbidden")
        assert c.post(f"{API}/torrents/info").status_code == 403
        assert c.post(f"{API}/torrents/add", data={"urls": magnet()}).status_code == 403
        r = c.post(f"{API}/auth/login", data={"username": "sonarr", "password": "wrong"})
        assert (r.status_code, r.text) == (200, "Fails.")
        assert "SID" not in r.cookies
        r = c.post(f"{API}/auth/login", data={"username": "radarr", "password": "s3cret pass"})
        assert r.text == "Fails."
        r = c.post(f"{API}/auth/login", data={"username": "sonarr", "password": "s3cret pass"})
        assert r.text == "Ok." and r.cookies.get("SID")
        assert c.get(f"{API}/app/version").text == "v5.0.5"
        c.post(f"{API}/auth/logout")
        assert c.get(f"{API}/app/version").status_code == 403
    with httpx.Client(base_url=locked_server.base_url, timeout=10, cookies={"SID": "forged"}) as c:
        assert c.get(f"{API}/app/version").status_code == 403


def test_qbittorrentapi_login(locked_server: Harness) -> None:
    bad = qbittorrentapi.Client(host=locked_server.base_url, username="sonarr", password="nope")
    with pytest.raises(qbittorrentapi.LoginFailed):
        bad.auth_log_in()
    good = qbittorrentapi.Client(host=locked_server.base_url, username="sonarr", password="s3cret pass")
    good.auth_log_in()
    assert good.app_web_api_version() == "2.11.2"
    m = magnet("locked-show")
    assert good.torrents_add(urls=m, category="sonarr") == "Ok."
    assert [t.hash for t in good.torrents_info(torrent_hashes=btih(m))] == [btih(m)]


def test_no_credentials_means_no_login_needed(http: httpx.Client) -> None:
    assert http.get(f"{API}/app/version").text == "v5.0.5"
    r = http.post(f"{API}/auth/login", data={"username": "any", "password": "thing"})
    assert r.text == "Ok." and r.cookies.get("SID")


# --- app ----------------------------------------------------------------------------------------------
def test_versions_preferences_and_head(open_server: Harness, http: httpx.Client) -> None:
    assert http.head("/").status_code == 200
    r = http.get(f"{API}/app/webapiVersion")
    assert (r.text, r.headers["content-type"].split(";")[0]) == ("2.11.2", "text/plain")
    assert http.post(f"{API}/app/version").text == "v5.0.5"
    prefs = http.get(f"{API}/app/preferences").json()
    local = str(open_server.settings.downloads_path.resolve())
    assert prefs["save_path"] == local
    assert prefs["max_ratio_enabled"] is False and prefs["queueing_enabled"] is True
    assert prefs["max_active_downloads"] == 3
    assert http.get(f"{API}/app/defaultSavePath").text == local
    assert "libtorrent" in http.get(f"{API}/app/buildInfo").json()
    assert http.post(f"{API}/app/setPreferences", data={"json": "{}"}).status_code == 200


def test_unknown_endpoints_and_methods(http: httpx.Client) -> None:
    r = http.get(f"{API}/torrents/nonsense")
    assert (r.status_code, r.text) == (404, "Not Found")
    assert http.post(f"{API}/nothing/here").status_code == 404
    assert http.get(f"{API}/torrents/delete", params={"hashes": "all"}).status_code == 405
    r = http.get(f"{API}/torrents/properties", params={"hash": "0" * 40})
    assert (r.status_code, r.text) == (404, "Not Found")
    assert http.get(f"{API}/torrents/files", params={"hash": "nothex"}).status_code == 404


# --- adding -------------------------------------------------------------------------------------------
def test_add_is_visible_at_once(http: httpx.Client, open_server: Harness) -> None:
    client = qbittorrentapi.Client(host=open_server.base_url)
    m = magnet("frieren", 1, 3, "German Sub")
    assert client.torrents_add(urls=m, category="sonarr") == "Ok."
    found = client.torrents_info(torrent_hashes=btih(m).upper())
    assert len(found) == 1
    t = found[0]
    assert t.hash == btih(m) == info_hash("frieren", 1, 3, "German Sub")
    assert t.name == "frieren.S01E03-ANIWORLD"
    assert t.state == "queuedDL" and t.category == "sonarr" and t.progress == 0
    assert t.eta == 8640000 and t.ratio_limit == -2 and t.magnet_uri == m
    assert t.save_path.endswith("/sonarr") and t.content_path != t.save_path
    assert t.content_path.startswith(t.save_path + "/")
    # raw POST with an upper-case hash, as Sonarr sends
    assert [x["hash"] for x in info(http, hashes=btih(m).upper())] == [btih(m)]
    # the category was created on the fly, as qBittorrent does
    assert "sonarr" in http.get(f"{API}/torrents/categories").json()
    props = http.get(f"{API}/torrents/properties", params={"hash": btih(m).upper()}).json()
    assert props["save_path"] == t.save_path and props["total_size"] > 0
    files = http.get(f"{API}/torrents/files", params={"hash": btih(m)}).json()
    assert files[0]["progress"] == 0 and files[0]["name"]
    # adding the same magnet again fails and changes nothing, as in qBittorrent 5 (AddTorrentManager::processTorrent)
    assert client.torrents_add(urls=m) == "Fails."
    assert len(info(http)) == 1


def test_add_multipart_several_urls_and_paused(http: httpx.Client) -> None:
    urls = "\n".join([magnet("a-show", 1, 1), magnet("a-show", 1, 2), magnet("b-show", 0, 1, "English Sub")])
    r = http.post(f"{API}/torrents/add", files={"urls": (None, urls), "category": (None, "tv"),
                                                  "stopped": (None, "true")})
    assert r.text == "Ok."
    items = info(http, category="tv")
    assert len(items) == 3 and {t["state"] for t in items} == {"stoppedDL"}


@pytest.mark.parametrize(("url", "expected"), [
    (magnet("show").replace("aw_site=aniworld.to", "aw_site=evil.example"), "unknown site"),
    ("https://evil.example/file.torrent", "not http(s) URLs"),
    ("magnet:?xt=urn:btih:" + "a" * 40 + "&dn=x&aw_slug=..%2F..%2Fetc&aw_s=1&aw_e=1&aw_lang=German+Dub",
     "invalid slug"),
    ("magnet:?xt=urn:btih:" + "a" * 40 + "&dn=x&aw_slug=show&aw_s=-1&aw_e=1&aw_lang=German+Dub",
     "season must be a non-negative integer"),
    ("magnet:?xt=urn:btih:" + "a" * 40 + "&dn=x&aw_slug=show&aw_s=1&aw_e=99999999&aw_lang=German+Dub",
     "episode must be"),
    ("magnet:?xt=urn:btih:" + "a" * 40 + "&dn=x&aw_slug=show&aw_s=1&aw_e=1&aw_lang=Klingon", "unknown language"),
    ("magnet:?xt=urn:btih:" + "a" * 40 + "&dn=x&aw_slug=show&aw_s=1&aw_e=1&aw_lang=German+Dub", "btih does not match"),
    ("magnet:?xt=urn:btih:" + "a" * 40 + "&dn=some.ordinary.torrent", "no AniBridge parameters"),
])
def test_bad_magnets_are_refused_with_a_reason(http: httpx.Client, url: str, expected: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    # qBittorrent 5 answers a link it cannot add with 200 "Fails."; the reason goes to the log
    with caplog.at_level("WARNING", logger="anibridge.qbittorrent"):
        r = http.post(f"{API}/torrents/add", data={"urls": url})
    assert (r.status_code, r.text) == (200, "Fails.")
    assert any(expected in rec.getMessage() for rec in caplog.records), caplog.text
    assert info(http) == []


def test_partly_valid_add_keeps_the_good_links(http: httpx.Client) -> None:
    good = magnet("good-show")
    r = http.post(f"{API}/torrents/add", data={"urls": f"magnet:?xt=broken\n{good}"})
    assert r.text == "Ok."
    assert [t["hash"] for t in info(http)] == [btih(good)]


def test_torrent_files_are_refused(http: httpx.Client) -> None:
    r = http.post(f"{API}/torrents/add", files={"torrents": ("x.torrent", b"d4:infod4:name1:xee",
                                                               "application/x-bittorrent")})
    assert (r.status_code, r.text) == (200, "Fails.")


def test_refused_torrent_files_are_closed_after_the_request(http: httpx.Client) -> None:
    with warnings.catch_warnings(record=True) as seen:  # (the server runs in this process)
        warnings.simplefilter("always", ResourceWarning)
        r = http.post(f"{API}/torrents/add", files={"torrents": ("x.torrent", b"d4:infod4:name1:xee",
                                                                   "application/x-bittorrent")})
        assert (r.status_code, r.text) == (200, "Fails.")
        gc.collect()
    assert [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)] == []


def test_bad_category_name_is_refused(http: httpx.Client) -> None:
    r = http.post(f"{API}/torrents/add", data={"urls": magnet(), "category": "../up"})
    assert r.status_code == 400 and info(http) == []


# --- commands -----------------------------------------------------------------------------------------
def test_categories_crud_and_set_category(http: httpx.Client) -> None:
    assert http.post(f"{API}/torrents/createCategory", data={"category": "anime", "savePath": "/x"}).status_code == 200
    assert http.post(f"{API}/torrents/createCategory", data={"category": "anime"}).status_code == 409
    assert http.post(f"{API}/torrents/createCategory", data={"category": ""}).status_code == 400
    assert http.post(f"{API}/torrents/editCategory", data={"category": "anime", "savePath": "/y"}).status_code == 200
    assert http.post(f"{API}/torrents/editCategory", data={"category": "ghost"}).status_code == 409
    cats = http.get(f"{API}/torrents/categories").json()
    assert cats["anime"] == {"name": "anime", "savePath": "/y"}
    m = magnet("cat-show")
    http.post(f"{API}/torrents/add", data={"urls": m})
    assert http.post(f"{API}/torrents/setCategory", data={"hashes": btih(m), "category": "nope"}).status_code == 409
    assert http.post(f"{API}/torrents/setCategory", data={"hashes": btih(m).upper(), "category": "anime"}).text == ""
    assert info(http, hashes=btih(m))[0]["category"] == "anime"
    assert info(http, category="anime")[0]["save_path"].endswith("/anime")
    assert info(http, category="") == []
    assert http.post(f"{API}/torrents/removeCategories", data={"categories": "anime\nghost"}).status_code == 200
    assert "anime" not in http.get(f"{API}/torrents/categories").json()
    assert info(http, hashes=btih(m))[0]["category"] == ""


def test_pause_resume_stop_start(http: httpx.Client, open_server: Harness) -> None:
    client = qbittorrentapi.Client(host=open_server.base_url)
    m1, m2 = magnet("p-show", 1, 1), magnet("p-show", 1, 2)
    client.torrents_add(urls=[m1, m2])
    client.torrents_stop(torrent_hashes=btih(m1))  # webapi 2.11 -> torrents/stop
    states = {t["hash"]: t["state"] for t in info(http)}
    assert states == {btih(m1): "stoppedDL", btih(m2): "queuedDL"}
    assert [t["hash"] for t in info(http, filter="stopped")] == [btih(m1)]
    assert [t["hash"] for t in info(http, filter="paused")] == [btih(m1)]
    assert len(info(http, filter="downloading")) == 2
    http.post(f"{API}/torrents/pause", data={"hashes": "all"})
    assert {t["state"] for t in info(http)} == {"stoppedDL"}
    client.torrents_start(torrent_hashes="all")
    assert {t["state"] for t in info(http)} == {"queuedDL"}
    http.post(f"{API}/torrents/stop", data={"hashes": btih(m2)})
    http.post(f"{API}/torrents/resume", data={"hashes": btih(m2).upper()})
    assert info(http, hashes=btih(m2))[0]["state"] == "queuedDL"
    for name in ("topPrio", "bottomPrio", "increasePrio", "decreasePrio"):
        assert http.post(f"{API}/torrents/{name}", data={"hashes": btih(m1)}).status_code == 200
    assert http.post(f"{API}/torrents/setForceStart", data={"hashes": btih(m1), "value": "false"}).status_code == 200


def _queue(http: httpx.Client) -> list[str]:
    """Hashes of the waiting downloads by their ``priority`` (queue position from 1)."""
    items = [t for t in info(http) if t["priority"] > 0]
    assert sorted(t["priority"] for t in items) == list(range(1, len(items) + 1))
    return [t["hash"] for t in sorted(items, key=lambda t: t["priority"])]


def test_queue_order_and_force_start(http: httpx.Client, open_server: Harness) -> None:
    """topPrio/bottomPrio/increasePrio/decreasePrio/setForceStart and torrents/add's addToTopOfQueue and
    forced, as qBittorrent 5 (TorrentsController); the order decides which download starts next."""
    a, b, c, d = (btih(m) for m in (magnet("q-show", 1, n) for n in (1, 2, 3, 4)))
    assert http.post(f"{API}/torrents/add", data={"urls": "\n".join(magnet("q-show", 1, n) for n in (1, 2, 3, 4))}
                     ).text == "Ok."
    assert _queue(http) == [a, b, c, d], "in the order added"
    client = qbittorrentapi.Client(host=open_server.base_url)
    client.torrents_top_priority(torrent_hashes=c)
    assert _queue(http) == [c, a, b, d]
    client.torrents_increase_priority(torrent_hashes=d)
    assert _queue(http) == [c, a, d, b]
    http.post(f"{API}/torrents/decreasePrio", data={"hashes": c.upper()})
    assert _queue(http) == [a, c, d, b]
    client.torrents_bottom_priority(torrent_hashes=[a, c])
    assert _queue(http) == [d, b, a, c], "several keep their order among themselves"
    http.post(f"{API}/torrents/topPrio", data={"hashes": "0" * 40})  # unknown: ignored
    assert http.post(f"{API}/torrents/topPrio", data={}).status_code == 400
    assert _queue(http) == [d, b, a, c]

    e = btih(magnet("q-show", 1, 5))
    assert http.post(f"{API}/torrents/add", data={"urls": magnet("q-show", 1, 5), "addToTopOfQueue": "true"}
                     ).text == "Ok."
    assert _queue(http) == [e, d, b, a, c]

    client.torrents_set_force_start(enable=True, torrent_hashes=b)
    forced = info(http, hashes=b)[0]
    assert (forced["force_start"], forced["state"]) == (True, "forcedDL")
    assert _queue(http)[0] == b, "forced downloads go first"
    assert http.post(f"{API}/torrents/setForceStart", data={"hashes": b}).status_code == 400  # no value
    http.post(f"{API}/torrents/setForceStart", data={"hashes": b, "value": "false"})
    assert info(http, hashes=b)[0]["force_start"] is False
    f = btih(magnet("q-show", 1, 6))
    http.post(f"{API}/torrents/add", data={"urls": magnet("q-show", 1, 6), "forced": "true"})
    assert info(http, hashes=f)[0]["state"] == "forcedDL"
    client.torrents_start(torrent_hashes=f)  # start() makes it auto-managed again, as qBittorrent's
    assert info(http, hashes=f)[0]["force_start"] is False
    # setForceStart starts a stopped download, forced or not (torrent->start(Forced | AutoManaged))
    client.torrents_stop(torrent_hashes=[a, f])
    assert {t["state"] for t in info(http, hashes=f"{a}|{f}")} == {"stoppedDL"}
    client.torrents_set_force_start(enable=True, torrent_hashes=f)
    client.torrents_set_force_start(enable=False, torrent_hashes=a)
    assert [(t["state"], t["force_start"]) for t in info(http, hashes=f)] == [("forcedDL", True)]
    assert [(t["state"], t["force_start"]) for t in info(http, hashes=a)] == [("queuedDL", False)]
    client.torrents_stop(torrent_hashes=f)
    assert info(http, hashes=f)[0]["force_start"] is False, "a stopped torrent is not forced (isForced)"


def test_delete(http: httpx.Client) -> None:
    ms = [magnet("d-show", 1, n) for n in (1, 2, 3)]
    http.post(f"{API}/torrents/add", data={"urls": "\n".join(ms)})
    assert http.post(f"{API}/torrents/delete", data={"hashes": btih(ms[0]).upper(), "deleteFiles": "false"}).text == ""
    assert {t["hash"] for t in info(http)} == {btih(ms[1]), btih(ms[2])}
    http.post(f"{API}/torrents/delete", data={"hashes": "0" * 40})  # unknown: ignored
    http.post(f"{API}/torrents/delete", data={"hashes": "all", "deleteFiles": "true"})
    assert info(http) == []


def test_info_filters_sort_limit_offset(http: httpx.Client) -> None:
    ms = [magnet("s-show", 1, n) for n in (1, 2, 3, 4)]
    for m in ms:
        http.post(f"{API}/torrents/add", data={"urls": m, "category": "sonarr" if m != ms[3] else "radarr"})
    names = [t["name"] for t in info(http, sort="name", reverse="true")]
    assert names == sorted(names, reverse=True)
    assert len(info(http, limit="2")) == 2
    assert len(info(http, offset="3")) == 1
    assert len(info(http, category="sonarr")) == 3
    assert info(http, filter="completed") == [] and len(info(http, filter="inactive")) == 4
    # qBittorrent's TorrentFilter::setTypeByName: a name it does not know means all
    assert len(http.get(f"{API}/torrents/info", params={"filter": "bogus"}).json()) == 4
    assert len(info(http, hashes=f"{btih(ms[0])}|{btih(ms[1]).upper()}")) == 2
    assert http.get(f"{API}/torrents/count").text == "4"


def test_sync_maindata_rid_flow(http: httpx.Client) -> None:
    first = http.get(f"{API}/sync/maindata", params={"rid": 0}).json()
    assert first["full_update"] is True and first["torrents"] == {}
    assert first["server_state"]["connection_status"] == "connected"
    rid = first["rid"]
    same = http.get(f"{API}/sync/maindata", params={"rid": rid}).json()
    assert same["full_update"] is False and "torrents" not in same and same["rid"] > rid
    m = magnet("sync-show")
    http.post(f"{API}/torrents/add", data={"urls": m, "category": "sync-cat"})
    added = http.get(f"{API}/sync/maindata", params={"rid": same["rid"]}).json()
    assert added["full_update"] is False
    assert added["torrents"][btih(m)]["state"] == "queuedDL"
    assert added["categories"] == {"sync-cat": {"name": "sync-cat", "savePath": ""}}
    http.post(f"{API}/torrents/stop", data={"hashes": btih(m)})
    paused = http.get(f"{API}/sync/maindata", params={"rid": added["rid"]}).json()
    assert paused["torrents"] == {btih(m): {"state": "stoppedDL"}}
    http.post(f"{API}/torrents/delete", data={"hashes": btih(m)})
    gone = http.get(f"{API}/sync/maindata", params={"rid": paused["rid"]}).json()
    assert gone["torrents_removed"] == [btih(m)]
    assert http.get(f"{API}/sync/maindata", params={"rid": 999999}).json()["full_update"] is True
    assert set(http.get(f"{API}/transfer/info").json()) >= {"dl_info_speed", "connection_status"}


def test_public_save_path_mapping(tmp_path: Path) -> None:
    with running_anibridge(tmp_path, downloads=False, CATALOG_ENABLED="false",
                           QBIT_PUBLIC_SAVE_PATH="/downloads/") as h, httpx.Client(base_url=h.base_url) as c:
        assert c.get(f"{API}/app/preferences").json()["save_path"] == "/downloads"
        m = magnet("mapped")
        c.post(f"{API}/torrents/add", data={"urls": m, "category": "sonarr"})
        t = c.get(f"{API}/torrents/info").json()[0]
        assert t["save_path"] == "/downloads/sonarr"
        assert t["content_path"].startswith("/downloads/sonarr/") and t["content_path"] != t["save_path"]
