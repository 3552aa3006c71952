"""Downloads end to end: AniBridge on loopback, the local provider world, the real qbittorrent-api client.

No mocks: the worker fetches episode pages from the world, follows its redirects, resolves the
host's embed page and downloads the media with yt-dlp. Faults are injected in the world.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import qbittorrentapi

from anibridge.devworld.model import LANGUAGES
from anibridge.devworld.testing import RunningWorld, running_world
from anibridge.events.types import TaskFailed, TaskResumed
from anibridge.releases import build_magnet, info_hash, release_title
from anibridge.testing import Harness, crawl_now, free_port, running_anibridge

SITE_KEYS = {"aniworld.to": "aniworld", "s.to": "sto", "megakino": "megakino"}
DONE = ("stoppedUP", "uploading")


@dataclass(frozen=True)
class Pick:
    site: str
    slug: str
    title: str
    season: int
    episode: int
    languages: dict[str, list[str]]  # language -> hosters in page order

    def magnet(self, language: str | None = None, provider: str | None = None) -> str:
        lang = language or next(iter(self.languages))
        name = release_title(self.title, self.season, self.episode, lang, self.site)
        return build_magnet(self.site, self.slug, self.season, self.episode, lang, name, provider=provider)

    def hash(self, language: str | None = None) -> str:
        return info_hash(self.slug, self.season, self.episode, language or next(iter(self.languages)))


def pick(world: RunningWorld, site: str = "aniworld.to", want: Callable[[Pick], bool] = lambda p: True,
         skip: int = 0) -> Pick:
    """The ``skip``-th episode of the world satisfying ``want`` (regular seasons only)."""
    key = SITE_KEYS[site]
    for entry in world.world.entries(key):
        info = world.world.info(key, entry.slug)
        if info is None or entry.kind == "film":
            continue
        for season in info.regular_seasons:
            for ep in world.world.season_episodes(info, season):
                langs: dict[str, list[str]] = {}
                for stream in ep.streams:
                    langs.setdefault(LANGUAGES[stream.language], []).append(stream.hoster)
                candidate = Pick(site, entry.slug, entry.title, season, ep.number, langs)
                if want(candidate):
                    if skip == 0:
                        return candidate
                    skip -= 1
    raise LookupError("no episode in the world fits")


@pytest.fixture(scope="module")
def world() -> Iterator[RunningWorld]:
    with running_world(seed=1, titles=20) as w:
        yield w


@pytest.fixture()
def anibridge(world: RunningWorld, tmp_path: Path) -> Iterator[Harness]:
    world.clear_faults()
    with running_anibridge(tmp_path, CATALOG_ENABLED="false", PROVIDER_DIRECT_LINK_TIMEOUT_SECONDS="2",
                           **world.env()) as h:
        yield h
    world.clear_faults()


def client_for(base: str) -> qbittorrentapi.Client:
    client = qbittorrentapi.Client(host=base, username="sonarr", password="x", REQUESTS_ARGS={"timeout": 15})
    client.auth_log_in()
    return client


def wait_state(client: qbittorrentapi.Client, task_hash: str, states: tuple[str, ...],
               timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        found = client.torrents_info(torrent_hashes=task_hash.upper())
        if found:
            last = dict(found[0])
            if last["state"] in states:
                return last
        time.sleep(0.1)
    raise AssertionError(f"{task_hash} never reached {states}; last seen {last.get('state')}: {last}")


def is_media(path: Path) -> bool:
    head = path.read_bytes()[:200]
    return head[4:8] == b"ftyp" or (len(head) > 188 and head[0] == 0x47 and head[188] == 0x47)


# --- the happy path ---------------------------------------------------------------------------------
def test_download_completes_and_delete_removes_files(world: RunningWorld, anibridge: Harness) -> None:
    ep = pick(world)
    client = client_for(anibridge.base_url)
    started = time.monotonic()
    assert client.torrents_add(urls=ep.magnet(), category="sonarr") == "Ok."
    done = wait_state(client, ep.hash(), DONE)
    elapsed = time.monotonic() - started
    print(f"\n[figures] add -> completed for a {done['size']} byte episode: {elapsed:.2f} s")
    content = Path(done["content_path"])
    assert done["progress"] == 1 and done["amount_left"] == 0 and done["eta"] == 0
    assert content.is_file() and is_media(content)
    assert content.stat().st_size == done["size"]
    assert content.parent.parent == Path(done["save_path"]) == anibridge.settings.downloads_path.resolve() / "sonarr"
    assert content.name.startswith(ep.title.split()[0].replace("'", ""))
    assert f"S{ep.season:02d}E{ep.episode:02d}" in content.name
    files = client.torrents_files(ep.hash())
    assert Path(done["save_path"], files[0]["name"]) == content
    props = client.torrents_properties(ep.hash())
    assert props["comment"] == "" and props["host"]
    assert not (anibridge.settings.downloads_path / ".incoming" / ep.hash()).exists()
    client.torrents_delete(delete_files=True, torrent_hashes=ep.hash())
    assert not content.exists() and not content.parent.exists()
    assert content.parent.parent.is_dir()  # the category folder stays
    assert client.torrents_info() == []


def test_sto_episode_downloads(world: RunningWorld, anibridge: Harness) -> None:
    ep = pick(world, site="s.to")
    client = client_for(anibridge.base_url)
    client.torrents_add(urls=ep.magnet(), category="tv-sonarr")
    done = wait_state(client, ep.hash(), DONE + ("error",))
    assert done["state"] in DONE, client.torrents_properties(ep.hash())["comment"]
    content = Path(done["content_path"])
    assert is_media(content) and content.name.endswith(tuple(f"-STO.{x}" for x in ("mp4", "ts")))


def _voe_video(world: RunningWorld, ep: Pick, language: str) -> str:
    info = world.world.info(SITE_KEYS[ep.site], ep.slug)
    assert info is not None
    episode = world.world.episode(info, ep.season, ep.episode)
    assert episode is not None
    return next(s.video_id for s in episode.streams if s.hoster == "VOE" and LANGUAGES[s.language] == language)


@pytest.mark.parametrize("through", ["encoded page", "interstitial to a mirror"])
def test_download_through_voe_current_pages(world: RunningWorld, anibridge: Harness, through: str) -> None:
    """VOE's page holds the source only in its encoded JSON blob, sometimes behind an interstitial."""
    def voe_first(p: Pick) -> bool:
        return any(hosts[0] == "VOE" for hosts in p.languages.values())

    skip = 0
    while True:  # the first episode whose VOE page is of the wanted kind
        ep = pick(world, site="s.to", want=voe_first, skip=skip)
        language = next(lang for lang, hosts in ep.languages.items() if hosts[0] == "VOE")
        page = httpx.get(f"{world.hosts}/voe/e/{_voe_video(world, ep, language)}", timeout=5).text
        if ("window.location.href" in page) == (through != "encoded page"):
            break
        skip += 1
    assert "var sources" not in page
    client = client_for(anibridge.base_url)
    client.torrents_add(urls=ep.magnet(language, provider="VOE"), category="tv-sonarr")
    done = wait_state(client, ep.hash(language), DONE + ("error",))
    props = client.torrents_properties(ep.hash(language))
    assert done["state"] in DONE, props["comment"]
    assert props["host"] == "VOE" and props["attempts"] == 1
    assert is_media(Path(done["content_path"]))


def test_files_stay_when_deletion_keeps_them(world: RunningWorld, tmp_path: Path) -> None:
    with running_anibridge(tmp_path, CATALOG_ENABLED="false", DELETE_FILES_ON_TORRENT_DELETE="false",
                           **world.env()) as h:
        ep = pick(world, skip=8)
        client = client_for(h.base_url)
        client.torrents_add(urls=ep.magnet())
        done = wait_state(client, ep.hash(), DONE)
        client.torrents_delete(delete_files=False, torrent_hashes=ep.hash())
        assert client.torrents_info() == [] and Path(done["content_path"]).is_file()
        assert done["save_path"] == str(h.settings.downloads_path.resolve())


def test_catalogue_paths_and_megakino_film(world: RunningWorld, tmp_path: Path) -> None:
    with running_anibridge(tmp_path, CATALOG_SITES="megakino", PROVIDER_DIRECT_LINK_TIMEOUT_SECONDS="2",
                           **world.env()) as h:
        crawl_now(h.runtime, sites=["megakino"])
        films = [t for t in h.runtime.catalog.titles_page("megakino", columns="slug, media_type")
                 if t[1] == "movie"]
        assert films, "the world has films"
        slug = films[0][0]
        hit = h.runtime.catalog.title("megakino", slug)
        assert hit is not None
        m = build_magnet("megakino", slug, 1, 1, "German Dub",
                         release_title(hit.title, None, None, "German Dub", "megakino", is_movie=True))
        client = client_for(h.base_url)
        client.torrents_add(urls=m, category="radarr")
        done = wait_state(client, info_hash(slug, 1, 1, "German Dub"), DONE + ("error",))
        assert done["state"] in DONE, client.torrents_properties(done["hash"])["comment"]
        assert is_media(Path(done["content_path"]))
        assert "-MEGAKINO" in Path(done["content_path"]).name


def test_megakino_serial_episode_downloads(world: RunningWorld, tmp_path: Path) -> None:
    """A Megakino serial page is one season: episode 2's hosters come from its select#ep2, behind the token gate."""
    with running_anibridge(tmp_path, CATALOG_SITES="megakino", PROVIDER_DIRECT_LINK_TIMEOUT_SECONDS="2",
                           **world.env()) as h:
        crawl_now(h.runtime, sites=["megakino"])
        serials = [t[0] for t in h.runtime.catalog.titles_page("megakino", columns="slug, media_type")
                   if t[1] == "series"]
        assert serials, "the world has serials"
        hit = h.runtime.catalog.title("megakino", serials[0])
        assert hit is not None and "Staffel" not in hit.title
        m = build_magnet("megakino", hit.slug, 1, 2, "German Dub",
                         release_title(hit.title, 1, 2, "German Dub", "megakino"))
        client = client_for(h.base_url)
        client.torrents_add(urls=m, category="sonarr")
        done = wait_state(client, info_hash(hit.slug, 1, 2, "German Dub"), DONE + ("error",))
        assert done["state"] in DONE, client.torrents_properties(done["hash"])["comment"]
        content = Path(done["content_path"])
        assert is_media(content) and "S01E02" in content.name and "-MEGAKINO" in content.name


# --- hosts failing --------------------------------------------------------------------------------------
def test_hanging_host_is_abandoned_for_the_next(world: RunningWorld, anibridge: Harness) -> None:
    ep = pick(world, want=lambda p: any(len(h) >= 2 and h[0] == "VOE" for h in p.languages.values()))
    language = next(lang for lang, hosts in ep.languages.items() if len(hosts) >= 2 and hosts[0] == "VOE")
    world.set_faults([{"site": "hosts", "path": "^/voe/", "mode": "slow", "interval": 0.2, "max_seconds": 30}])
    client = client_for(anibridge.base_url)
    started = time.monotonic()
    client.torrents_add(urls=ep.magnet(language, provider="VOE"))
    done = wait_state(client, ep.hash(language), DONE + ("error",))
    assert done["state"] in DONE, client.torrents_properties(ep.hash(language))["comment"]
    assert time.monotonic() - started >= 2  # the VOE timeout was waited out
    props = client.torrents_properties(ep.hash(language))
    assert props["host"] != "VOE" and props["attempts"] == 1
    assert world.fault_hits()[0] >= 1


def test_all_hosts_failing_fails_the_task_with_each_reason(world: RunningWorld, anibridge: Harness) -> None:
    ep = pick(world, want=lambda p: any(len(h) >= 2 for h in p.languages.values()), skip=1)
    language = next(lang for lang, hosts in ep.languages.items() if len(hosts) >= 2)
    world.set_faults([{"site": "hosts", "path": "^/", "mode": "503"}])
    client = client_for(anibridge.base_url)
    client.torrents_add(urls=ep.magnet(language))
    failed = wait_state(client, ep.hash(language), ("error",))
    reason = client.torrents_properties(ep.hash(language))["comment"]
    assert reason.startswith(f"all {len(ep.languages[language])} hoster(s) failed")
    for host in ep.languages[language]:
        assert f"{host}: " in reason
    assert "503" in reason
    assert failed["name"].endswith("-ANIWORLD")  # the reason is not put in the name
    assert [t.hash for t in client.torrents_info(status_filter="errored")] == [ep.hash(language)]
    # once the hosts are back, resuming a failed task retries it
    world.clear_faults()
    client.torrents_start(torrent_hashes=ep.hash(language))
    wait_state(client, ep.hash(language), DONE)


def test_missing_language_fails_with_the_offered_ones(world: RunningWorld, anibridge: Harness) -> None:
    ep = pick(world, want=lambda p: "German Dub" not in p.languages)
    client = client_for(anibridge.base_url)
    client.torrents_add(urls=ep.magnet("German Dub"))
    wait_state(client, ep.hash("German Dub"), ("error",))
    reason = client.torrents_properties(ep.hash("German Dub"))["comment"]
    order = [lang for lang in ("German Dub", "German Sub", "English Sub", "English Dub") if lang in ep.languages]
    assert reason == f"episode has no German Dub stream (offered: {', '.join(order)})"


def test_missing_episode_page_fails_clearly(world: RunningWorld, anibridge: Harness) -> None:
    ep = pick(world)
    m = build_magnet("aniworld.to", ep.slug, 1, 999, "German Dub", "Missing.S01E999-ANIWORLD")
    client = client_for(anibridge.base_url)
    client.torrents_add(urls=m)
    wait_state(client, info_hash(ep.slug, 1, 999, "German Dub"), ("error",))
    reason = client.torrents_properties(info_hash(ep.slug, 1, 999, "German Dub"))["comment"]
    assert "could not read the episode page" in reason and "404" in reason


# --- pause, resume, delete mid-download ----------------------------------------------------------
SLOW_MEDIA = [{"site": "hosts", "path": "^/media/", "mode": "latency", "seconds": 1.5}]


def test_pause_and_resume_mid_download(world: RunningWorld, anibridge: Harness) -> None:
    ep = pick(world, skip=2)
    world.set_faults(SLOW_MEDIA)
    client = client_for(anibridge.base_url)
    client.torrents_add(urls=ep.magnet(), category="sonarr")
    wait_state(client, ep.hash(), ("downloading",))
    client.torrents_stop(torrent_hashes=ep.hash())
    assert client.torrents_info(torrent_hashes=ep.hash())[0]["state"] == "stoppedDL"
    worker = anibridge.runtime.worker
    assert worker is not None
    deadline = time.monotonic() + 10
    while worker.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert worker.running() == []
    time.sleep(0.5)
    stopped = client.torrents_info(torrent_hashes=ep.hash())[0]
    assert stopped["state"] == "stoppedDL" and stopped["dlspeed"] == 0
    category_dir = anibridge.settings.downloads_path / "sonarr"
    assert not category_dir.exists() or list(category_dir.iterdir()) == []
    client.torrents_start(torrent_hashes=ep.hash())
    done = wait_state(client, ep.hash(), DONE)
    assert is_media(Path(done["content_path"]))
    assert client.torrents_properties(ep.hash())["attempts"] == 2
    events = [e.type for e in anibridge.runtime.journal.read() if e.stream == f"task:{ep.hash()}"]
    assert events[:3] == ["task.requested", "task.started", "task.paused"]
    assert events[-1] == "task.completed" and events.count("task.started") == 2
    assert events.count("task.progress") <= 4  # coalesced: at most one every 3 s per download


def test_queue_order_decides_what_starts_next(world: RunningWorld, tmp_path: Path) -> None:
    """MAX_CONCURRENCY=1: a download moved to the top (Sonarr's priority "First") starts before the ones
    waiting longer; a forced one (initial state "Force Start") starts at once beside the running one."""
    a, b, c, d = (pick(world, skip=n) for n in (4, 5, 6, 7))
    # a's episode page takes 4 s: it holds the only slot meanwhile
    world.set_faults([{"site": "aniworld", "path": f"^/anime/stream/{a.slug}/staffel-{a.season}/episode-{a.episode}$",
                       "mode": "latency", "seconds": 4}, *SLOW_MEDIA])
    try:
        with running_anibridge(tmp_path, CATALOG_ENABLED="false", MAX_CONCURRENCY="1", **world.env()) as h:
            client = client_for(h.base_url)
            client.torrents_add(urls=a.magnet())
            worker = h.runtime.worker
            assert worker is not None
            deadline = time.monotonic() + 10
            while worker.running() != [a.hash()] and time.monotonic() < deadline:
                time.sleep(0.05)
            client.torrents_add(urls=[b.magnet(), c.magnet()])
            client.torrents_top_priority(torrent_hashes=c.hash())
            client.torrents_add(urls=d.magnet(), forced=True)
            assert wait_state(client, d.hash(), ("forcedDL",))["force_start"] is True
            for ep in (a, b, c, d):
                wait_state(client, ep.hash(), DONE, timeout=120)
            journal = [(e.type, e.stream.removeprefix("task:"))
                       for e in h.runtime.journal.read(types=["task.started", "task.completed"])]
            assert journal.index(("task.started", d.hash())) < journal.index(("task.completed", a.hash())), \
                "forced: started beside the running download, not behind MAX_CONCURRENCY"
            started = [x for kind, x in journal if kind == "task.started"]
            queued = [x for x in started if x in (b.hash(), c.hash())]
            assert queued == [c.hash(), b.hash()], "moved to the top: started first"
    finally:
        world.clear_faults()


def test_forced_downloads_have_a_ceiling(world: RunningWorld, tmp_path: Path) -> None:
    """Sonarr's initial state "Force Start" forces every grab: forced downloads skip the queue but have
    MAX_CONCURRENCY slots of their own, so a season search does not start them all at once."""
    eps = [pick(world, skip=n) for n in (8, 9, 10, 11)]
    world.set_faults([{"site": "aniworld", "path": "^/anime/stream/", "mode": "latency", "seconds": 2}])
    try:
        with running_anibridge(tmp_path, CATALOG_ENABLED="false", MAX_CONCURRENCY="1", **world.env()) as h:
            client = client_for(h.base_url)
            client.torrents_add(urls=[ep.magnet() for ep in eps[:3]], forced=True)
            client.torrents_add(urls=eps[3].magnet())
            worker = h.runtime.worker
            assert worker is not None
            most = 0
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                running = set(worker.running())
                most = max(most, len(running))
                assert len(running - {eps[3].hash()}) <= 1, "at most MAX_CONCURRENCY forced downloads at once"
                states = {t["hash"]: t["state"] for t in client.torrents_info()}
                if all(states.get(ep.hash()) in DONE for ep in eps):
                    break
                time.sleep(0.05)
            assert most == 2, "one forced and one queued download ran side by side"
            assert all(t["state"] in DONE for t in client.torrents_info())
    finally:
        world.clear_faults()


def test_a_passing_fault_is_retried_by_itself(world: RunningWorld, tmp_path: Path) -> None:
    """The site answers 503 once: the download fails without a marker (Sonarr would blocklist the release
    for good), and AniBridge tries it again by itself (DOWNLOAD_RETRY_MINUTES), this time with success."""
    ep = pick(world, skip=12)
    page = f"^/anime/stream/{ep.slug}/staffel-{ep.season}/episode-{ep.episode}$"
    world.set_faults([{"site": "aniworld", "path": page, "mode": "503", "times": 1, "retry_after": 0}])
    try:
        with running_anibridge(tmp_path, CATALOG_ENABLED="false", PROVIDER_REDIRECT_RETRIES="0",
                               DOWNLOAD_RETRY_MINUTES="0.02", **world.env()) as h:
            client = client_for(h.base_url)
            client.torrents_add(urls=ep.magnet())
            wait_state(client, ep.hash(), DONE, timeout=60)
            events = [e.event for e in h.runtime.journal.read() if e.stream == f"task:{ep.hash()}"]
            kinds = [e.type_name for e in events]
            assert kinds[:3] == ["task.requested", "task.failed", "task.resumed"] and kinds[-1] == "task.completed"
            failed, resumed = events[1], events[2]
            assert isinstance(failed, TaskFailed) and failed.retry_at is not None and failed.marker_path == ""
            assert "503" in failed.reason
            assert isinstance(resumed, TaskResumed) and resumed.automatic
    finally:
        world.clear_faults()


def test_delete_mid_download_leaves_nothing(world: RunningWorld, anibridge: Harness) -> None:
    ep = pick(world, skip=3)
    world.set_faults(SLOW_MEDIA)
    client = client_for(anibridge.base_url)
    client.torrents_add(urls=ep.magnet(), category="sonarr")
    wait_state(client, ep.hash(), ("downloading",))
    client.torrents_delete(delete_files=True, torrent_hashes=ep.hash())
    worker = anibridge.runtime.worker
    assert worker is not None
    deadline = time.monotonic() + 10
    while worker.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    leftovers = [p for p in anibridge.settings.downloads_path.rglob("*") if p.is_file()]
    assert leftovers == [] and client.torrents_info() == []


# --- a real process: kill -9 and restart; resource figures -------------------------------------
class Server:
    def __init__(self, data_dir: Path, world: RunningWorld) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **world.env(), "DATA_DIR": str(data_dir), "ANIBRIDGE_HOST": "127.0.0.1",
                    "ANIBRIDGE_PORT": str(self.port), "PROVIDER_DIRECT_LINK_TIMEOUT_SECONDS": "5",
                    "LOG_LEVEL": "INFO", "CATALOG_ENABLED": "false"}
        self.log = data_dir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = Path(sys.executable).with_name("anibridge")
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([str(exe), "serve", "--no-crawl"], env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.base}/api/v2/app/version", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("anibridge serve did not come up:\n" + self.log.read_text()[-3000:])

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture()
def server(world: RunningWorld, tmp_path: Path) -> Iterator[Server]:
    world.clear_faults()
    srv = Server(tmp_path, world)
    try:
        yield srv
    finally:
        srv.stop()
        world.clear_faults()


def test_kill_9_during_download_then_restart_completes(world: RunningWorld, server: Server) -> None:
    ep = pick(world, skip=4)
    world.set_faults([{"site": "hosts", "path": "^/media/", "mode": "latency", "seconds": 3}])
    server.start()
    client = client_for(server.base)
    client.torrents_add(urls=ep.magnet(), category="sonarr")
    wait_state(client, ep.hash(), ("downloading",))
    server.kill()
    staging = Path(server.env["DATA_DIR"]) / "downloads" / ".incoming" / ep.hash()
    world.set_faults([{"site": "hosts", "path": "^/media/", "mode": "latency", "seconds": 0.2}])
    server.start()
    client = client_for(server.base)
    done = wait_state(client, ep.hash(), DONE)
    assert is_media(Path(done["content_path"]))
    assert client.torrents_properties(ep.hash())["attempts"] == 2
    assert not staging.exists()
    assert sum(1 for p in Path(done["save_path"]).rglob("*") if p.is_file()) == 1


def test_resource_figures_for_three_parallel_downloads(world: RunningWorld, server: Server) -> None:
    eps = [pick(world, skip=n) for n in (5, 6, 7)]
    world.set_faults([{"site": "hosts", "path": "^/media/", "mode": "latency", "seconds": 1}])
    server.start()
    assert server.proc is not None
    proc = psutil.Process(server.proc.pid)
    client = client_for(server.base)
    rss_before = proc.memory_info().rss
    proc.cpu_percent(None)
    cpu_start = sum(proc.cpu_times()[:2])
    started = time.monotonic()
    client.torrents_add(urls=[e.magnet() for e in eps], category="sonarr")
    samples: list[float] = []
    peak_rss = rss_before
    while True:
        states = {t["hash"]: t["state"] for t in client.torrents_info()}
        samples.append(proc.cpu_percent(None))
        peak_rss = max(peak_rss, proc.memory_info().rss)
        if all(states.get(e.hash()) in DONE for e in eps):
            break
        assert time.monotonic() - started < 90, states
        time.sleep(0.25)
    wall = time.monotonic() - started
    cpu_s = sum(proc.cpu_times()[:2]) - cpu_start
    print(f"\n[figures] 3 parallel downloads (1 s latency per media request): wall {wall:.2f} s, "
          f"server CPU {cpu_s:.2f} s ({100 * cpu_s / wall:.0f} % of one core on average, "
          f"peak sample {max(samples):.0f} %), RSS {rss_before / 2**20:.1f} MiB before, "
          f"{peak_rss / 2**20:.1f} MiB peak")
