"""The status page at ``/`` in a real headless Chromium (Debian's ``chromium`` package).

Chromium loads the page from a real AniBridge on loopback, runs its script under a virtual time
budget (so the 2 s poller fires several times) and dumps the resulting DOM. Skipped when no
chromium binary is installed.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from anibridge.devworld.testing import running_world
from anibridge.events.types import DetailsRunProgress, DetailsRunStarted, TaskProgress, TaskRequested, TaskStarted
from anibridge.testing import Harness, crawl_now, running_anibridge

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (Debian: apt-get install chromium)")

STAGES = ("titles", "details", "canonical")
TASK_HASH = "0123456789abcdef0123456789abcdef01234567"


def chromium(tmp_path: Path, url: str, *extra: str, budget_ms: int = 9000) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"chromium-profile-{time.monotonic_ns()}"
    args = [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
            f"--virtual-time-budget={budget_ms}", *extra, url]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def dump_dom(tmp_path: Path, url: str, budget_ms: int = 9000) -> str:
    dom = chromium(tmp_path, url, "--dump-dom", budget_ms=budget_ms).stdout
    assert "<html" in dom, dom[:500]
    return dom


def by_id(dom: str, dom_id: str) -> str:
    m = re.search(rf'<[^>]*\bid="{re.escape(dom_id)}"[^>]*>([^<]*)<', dom)
    assert m, f"no element #{dom_id} in the page"
    return html.unescape(m.group(1)).strip()


def attr(dom: str, name: str) -> str:
    m = re.search(rf'<body[^>]*\b{name}="([^"]*)"', dom)
    assert m, f"no {name} on <body>"
    return m.group(1)


def _num(text: str) -> int | None:
    return None if text == "–" else int(text)


@pytest.fixture(scope="module")
def anibridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """AniBridge with aniworld.to crawled (one title page broken: a recent failure), s.to not yet,
    and one download in progress (no worker: the task stays as its events left it)."""
    data = tmp_path_factory.mktemp("status-page")
    with running_world(seed=7, titles=14) as world:
        slug = world.world.entries("aniworld")[3].slug
        # the world answers this title's page with "410 Gone": a failure that is not retried
        world.set_faults([{"mode": "challenge", "site": "aniworld", "path": f"^/anime/stream/{slug}$",
                           "status": 410}])
        with running_anibridge(data, downloads=False, CATALOG_SITES="aniworld.to,s.to", **world.env()) as h:
            crawl_now(h.runtime, ["aniworld.to"])
            positions = h.runtime.journal.append([
                TaskRequested(hash=TASK_HASH, site="aniworld.to", slug=slug, season=1, episode=2,
                              language="German Dub", name="Status.Page.Test.S01E02.1080p.WEB.H264.GER-ANIWORLD",
                              magnet=f"magnet:?xt=urn:btih:{TASK_HASH}", added_on=time.time()),
                TaskStarted(hash=TASK_HASH, host="VOE"),
                TaskProgress(hash=TASK_HASH, downloaded=50 * 2**20, total=100 * 2**20, speed=2**20),
            ])
            assert h.runtime.task_projector.wait_until(positions[-1], 10)
            h.failed_slug = slug  # type: ignore[attr-defined]
            yield h


@needs_chromium
def test_page_shows_what_the_api_returns(anibridge: Harness, tmp_path: Path) -> None:
    dom = dump_dom(tmp_path, anibridge.base_url + "/")
    catalog = httpx.get(anibridge.base_url + "/health/catalog", timeout=10).json()
    health = httpx.get(anibridge.base_url + "/health", timeout=10).json()

    assert int(attr(dom, "data-polls")) >= 2, "the poller did not run"
    assert by_id(dom, "poll-error") == ""
    assert by_id(dom, "status") == health["status"]
    assert int(by_id(dom, "journal-head")) == catalog["journal_head"]
    for site, s in catalog["sites"].items():
        for stage in STAGES:
            v = s["stages"][stage]
            assert by_id(dom, f"{site}-{stage}-state") == v["state"], (site, stage)
            assert _num(by_id(dom, f"{site}-{stage}-done")) == v["done"], (site, stage)
            assert _num(by_id(dom, f"{site}-{stage}-total")) == v["total"], (site, stage)
            assert _num(by_id(dom, f"{site}-{stage}-failed")) == v["failed"], (site, stage)
    aw = catalog["sites"]["aniworld.to"]["stages"]
    assert aw["titles"]["state"] == aw["details"]["state"] == "ready" and aw["titles"]["total"] == 14
    assert catalog["sites"]["s.to"]["stages"]["titles"]["state"] == "pending"
    # progress bars: width follows percent
    assert re.search(r'data-bar="sites\|aniworld\.to\|stages\|titles\|percent" style="width: ?100(\.0)?%;?"', dom)
    # recent failures: the broken title page, with its reason, in the table and as last error
    slug = anibridge.failed_slug  # type: ignore[attr-defined]
    assert aw["details"]["failed"] == 1 and catalog["recent_failures"][0]["slug"] == slug
    assert f"<td>{slug}</td>" in dom
    assert by_id(dom, "aniworld.to-details-error") == aw["details"]["last_error"] != ""
    # downloads: the counts and the download in progress (50 of 100 MiB)
    assert by_id(dom, "downloads-active") == str(health["downloads"]["active"]) == "1"
    assert "Status.Page.Test.S01E02.1080p.WEB.H264.GER-ANIWORLD" in dom
    assert "50.0 %" in dom and "50.0 MiB / 100.0 MiB" in dom


@needs_chromium
def test_page_updates_itself_while_the_catalog_changes(anibridge: Harness, tmp_path: Path) -> None:
    """A details run on s.to reports progress while Chromium has the page open: the poller must
    bring the new numbers into the page (the server-rendered ones are older)."""
    journal = anibridge.runtime.journal
    run = int(httpx.get(anibridge.base_url + "/health/catalog").json()["sites"]["s.to"]["stages"]["details"]["run"])
    journal.append([DetailsRunStarted(site="s.to", run=run + 1, total=10_000)])
    stop = threading.Event()
    done = {"n": 0}

    def progress() -> None:
        while not stop.is_set():
            done["n"] += 7
            journal.append([DetailsRunProgress(site="s.to", run=run + 1, cursor=f"slug-{done['n']:06d}",
                                               done=done["n"], failed=0, unchanged=0)])
            stop.wait(0.02)

    ticker = threading.Thread(target=progress, name="test-progress")
    ticker.start()
    try:
        dom = dump_dom(tmp_path, anibridge.base_url + "/", budget_ms=12000)
    finally:
        stop.set()
        ticker.join()

    rendered_head = int(attr(dom, "data-rendered-head"))
    shown_head = int(by_id(dom, "journal-head"))
    assert int(attr(dom, "data-polls")) >= 2
    assert shown_head > rendered_head, "the journal head in the page never moved past the rendered one"
    assert by_id(dom, "s.to-details-state") == "running"
    shown_done = int(by_id(dom, "s.to-details-done"))
    assert 0 < shown_done <= done["n"]
    assert by_id(dom, "s.to-details-total") == "10000"
    assert by_id(dom, "s.to-details-rate").endswith("/s")
    # the bar moved with the numbers
    m = re.search(r'data-bar="sites\|s\.to\|stages\|details\|percent" style="width: ?([\d.]+)%', dom)
    assert m and float(m.group(1)) > 0
    print(f"\npage journal head {rendered_head} -> {shown_head}, s.to details done {shown_done} "
          f"after {attr(dom, 'data-polls')} polls")


@needs_chromium
def test_screenshot(anibridge: Harness, tmp_path: Path) -> None:
    shot = tmp_path / "status.png"
    chromium(tmp_path, anibridge.base_url + "/", f"--screenshot={shot}", "--window-size=1280,1600",
             budget_ms=3000)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, len(data)


def test_head_and_plain_get_without_a_browser(anibridge: Harness) -> None:
    r = httpx.head(anibridge.base_url + "/")
    assert r.status_code == 200
    r = httpx.get(anibridge.base_url + "/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<script>" in r.text and "http://" not in r.text.split("<script>")[1]  # no external assets
    assert not re.search(r'<(link|script|img)[^>]+(src|href)="(https?:)?//', r.text)
    downloads: dict[str, Any] = httpx.get(anibridge.base_url + "/health/downloads").json()
    assert [d["hash"] for d in downloads["downloads"]] == [TASK_HASH]
    assert downloads["downloads"][0]["percent"] == 50.0
