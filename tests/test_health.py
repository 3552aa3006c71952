"""/health and /health/catalog against a real AniBridge crawling a real (local) provider world.

Real uvicorn on loopback, real crawls through httpx; the world is slowed with a latency fault so
the running state is observable. Also ``anibridge status`` (print_status and the CLI itself).
"""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from anibridge.devworld.testing import running_world
from anibridge.status import collect_status, print_status
from anibridge.testing import crawl_now, running_anibridge, settings_for

SITES = ("aniworld.to", "s.to")
STAGES = ("titles", "details", "canonical")
# The title list answers after 0.6 s, each title page after 40 ms: titles and details both run long
# enough to be seen running by a 30 ms poll.
SLOW = [
    {"mode": "latency", "site": "aniworld", "path": "^/animes-alphabet", "seconds": 0.6},
    {"mode": "latency", "site": "sto", "path": "^/serien", "seconds": 0.6},
    {"mode": "latency", "site": "aniworld", "path": "^/anime/stream/", "seconds": 0.04},
    {"mode": "latency", "site": "sto", "path": "^/serie/", "seconds": 0.04},
]


def _get(client: httpx.Client, path: str) -> tuple[dict[str, Any], float]:
    t0 = time.perf_counter()
    r = client.get(path)
    elapsed = time.perf_counter() - t0
    assert r.status_code == 200, r.text
    return r.json(), elapsed


def test_health_follows_a_real_crawl(tmp_path: Path) -> None:
    with running_world(seed=3, titles=24, faults=SLOW) as world, \
            running_anibridge(tmp_path, CATALOG_SITES=",".join(SITES), **world.env()) as h, \
            httpx.Client(base_url=h.base_url, timeout=10) as client:
        health, _ = _get(client, "/health")
        assert health["status"] in ("ok", "initializing")
        assert health["version"] and health["uptime_s"] >= 0
        for site in SITES:
            assert health["catalog"][site] == {"titles": "pending", "details": "pending", "canonical": "pending",
                                               "title_ready": False}
        assert "not searchable yet" in health["catalog_note"]
        assert health["downloads"] == {"active": 0, "queued": 0}
        assert set(health["projections"]) == {"catalog", "tasks"}

        failures: list[BaseException] = []

        def crawl() -> None:
            try:
                crawl_now(h.runtime, list(SITES))
            except BaseException as exc:  # surfaced by the main thread
                failures.append(exc)

        crawler = threading.Thread(target=crawl, name="test-crawl")
        seen: dict[tuple[str, str], list[str]] = {}
        details_done: dict[str, list[int]] = {site: [] for site in SITES}
        health_times: list[float] = []
        catalog_times: list[float] = []
        lags: list[int] = []
        crawler.start()
        while crawler.is_alive():
            health, t_health = _get(client, "/health")
            detail, t_catalog = _get(client, "/health/catalog")
            health_times.append(t_health)
            catalog_times.append(t_catalog)
            lags.append(detail["projection"]["lag_events"])
            for site in SITES:
                for stage in STAGES:
                    states = seen.setdefault((site, stage), [])
                    state = detail["sites"][site]["stages"][stage]["state"]
                    if not states or states[-1] != state:
                        states.append(state)
                    assert health["catalog"][site][stage] in ("pending", "running", "ready")
                details_done[site].append(detail["sites"][site]["stages"]["details"]["done"])
            time.sleep(0.03)
        crawler.join()
        assert not failures, failures

        for site in SITES:
            for stage in ("titles", "details"):
                states = seen[(site, stage)]
                assert "running" in states, f"{site} {stage} never seen running: {states}"
                assert states[-1] in ("running", "ready"), states
                assert states.index("running") < len(states), states
                assert "failed" not in states
            assert seen[(site, "titles")][0] in ("pending", "running")
            assert seen[(site, "canonical")] == ["pending"]  # not part of this crawl
            # details progress only moves forward within one run
            done = details_done[site]
            assert done == sorted(done), done

        # After the crawl: ready, and the numbers are the projection's.
        health, _ = _get(client, "/health")
        detail, _ = _get(client, "/health/catalog")
        assert health["status"] == "ok", health
        assert health["problems"] == []
        assert health["catalog_note"] == "every site is searchable" or "megakino" in health["catalog_note"]
        for site in SITES:
            counts = h.runtime.catalog.counts(site)
            s = detail["sites"][site]
            titles, details = s["stages"]["titles"], s["stages"]["details"]
            assert health["catalog"][site] == {"titles": "ready", "details": "ready", "canonical": "pending",
                                               "title_ready": True}
            assert s["title_ready"] and s["live_generation"] == titles["live_generation"] == 1
            assert titles["state"] == details["state"] == "ready"
            assert titles["total"] == titles["done"] == counts["titles"] > 0
            assert details["done"] == counts["with_details"] == counts["titles"]
            assert details["failed"] == 0 and details["last_error"] == ""
            assert details["percent"] == 100.0
            assert details["last_success"] and titles["last_success"]
            assert details["last_duration_s"] > 0
            assert s["crawling"] is False and s["next_refresh"] is None  # crawl=False: no scheduler
        head = h.runtime.journal.head()
        assert detail["journal_head"] == health["journal_head"] == head
        assert detail["projection"] == {"checkpoint": head, "lag_events": 0, "lag_seconds": 0.0, "error": ""}
        assert health["projections"] == {"catalog": 0, "tasks": 0}
        assert detail["recent_failures"] == []
        assert all(lag >= 0 for lag in lags)

        p50 = statistics.median(health_times)
        p50_catalog = statistics.median(catalog_times)
        print(f"\n/health during the crawl: p50 {p50 * 1000:.1f} ms, max {max(health_times) * 1000:.1f} ms "
              f"({len(health_times)} requests); /health/catalog p50 {p50_catalog * 1000:.1f} ms, "
              f"max {max(catalog_times) * 1000:.1f} ms; largest lag seen {max(lags)} events")
        assert p50 < 0.1, f"/health p50 {p50 * 1000:.1f} ms while crawling"
        assert max(health_times) < 2.0


def test_running_rate_and_scheduler_fields(tmp_path: Path) -> None:
    """With the scheduler on: crawling flag, rate while running, next refresh once it is scheduled.

    The details crawl reports progress every 5 s (or 200 titles), so it is made to take ~6.5 s.
    """
    slow_details = [{"mode": "latency", "site": "aniworld", "path": "^/anime/stream/[^/]+$", "seconds": 0.4}]
    with running_world(seed=5, titles=16, faults=slow_details) as world, \
            running_anibridge(tmp_path, crawl=True, CATALOG_SITES="aniworld.to", CRAWL_CONCURRENCY="1",
                              **world.env()) as h, \
            httpx.Client(base_url=h.base_url, timeout=10) as client:
        saw_crawling = saw_rate = False
        next_refresh = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            detail, _ = _get(client, "/health/catalog")
            site = detail["sites"]["aniworld.to"]
            saw_crawling |= site["crawling"]
            details = site["stages"]["details"]
            if details["state"] == "running" and details["rate"]:
                saw_rate = True
                assert details["rate"] > 0
                assert details["total"] > 0 and 0 <= details["percent"] <= 100
            next_refresh = site["next_refresh"]
            if details["state"] == "ready" and not site["crawling"]:
                break
            time.sleep(0.05)
        assert saw_crawling, "the scheduler's crawl was never reported"
        assert saw_rate, "no rate reported while details were running"
        # The crawl's last events may still be on their way into the projection.
        assert h.runtime.catalog_projector.wait_until(h.runtime.journal.head(), 10)
        detail, _ = _get(client, "/health/catalog")
        site = detail["sites"]["aniworld.to"]
        details = site["stages"]["details"]
        assert details["state"] == "ready", detail
        assert site["stages"]["titles"]["state"] == "ready"
        assert site["stages"]["canonical"]["state"] in ("ready", "failed"), site["stages"]["canonical"]
        assert next_refresh is not None and site["next_refresh_in_s"] > 23 * 3600
        health, _ = _get(client, "/health")
        assert health["catalog"]["aniworld.to"]["title_ready"] is True


def test_failed_title_list_is_degraded_and_says_why(tmp_path: Path) -> None:
    broken = [{"mode": "malformed", "site": "sto", "path": "^/serien", "kind": "garbage"}]
    with running_world(seed=2, titles=10, faults=broken) as world, \
            running_anibridge(tmp_path, CATALOG_SITES="s.to", **world.env()) as h, \
            httpx.Client(base_url=h.base_url, timeout=10) as client:
        crawl_now(h.runtime, ["s.to"], stages=("titles",))
        health, _ = _get(client, "/health")
        detail, _ = _get(client, "/health/catalog")
    assert health["status"] == "degraded"
    assert health["catalog"]["s.to"]["titles"] == "failed"
    assert health["catalog"]["s.to"]["title_ready"] is False
    assert any("s.to" in p for p in health["problems"]), health["problems"]
    titles = detail["sites"]["s.to"]["stages"]["titles"]
    assert titles["state"] == "failed" and titles["last_error"]
    assert titles["last_success"] is None


# s.to season pages (and the series page, season 1's page) without their language flags
NO_FLAGS = {"mode": "malformed", "site": "sto", "path": r"^/serie/[^/]+(/staffel-\d+)?$", "kind": "no_flags"}


def test_episodes_without_a_language_are_shown_per_site_not_silently_empty(tmp_path: Path) -> None:
    """Season pages without flags and episode pages without hoster buttons: every episode of the site
    lacks a language. That is a recorded parse problem health shows in numbers; the stage is not ready."""
    faults = [NO_FLAGS, {"mode": "malformed", "site": "sto", "path": "/episode-", "kind": "no_table"}]
    with running_world(seed=2, titles=6, faults=faults) as world, \
            running_anibridge(tmp_path, CATALOG_SITES="s.to", **world.env()) as h, \
            httpx.Client(base_url=h.base_url, timeout=10) as client:
        crawl_now(h.runtime, ["s.to"])
        health, _ = _get(client, "/health")
        detail, _ = _get(client, "/health/catalog")
        page = client.get("/").text
        out = io.StringIO()
        print_status(h.settings, out)
        episodes = sum(sum(info.seasons.values()) for e in world.world.entries("sto")
                       if (info := world.world.info("sto", e.slug)) is not None)
    site = detail["sites"]["s.to"]
    problems = {p["kind"]: p for p in site["parse_problems"]}
    assert problems["episodes without a language"]["count"] == episodes
    assert problems["episodes without a language"]["titles"] == 6
    text = f"{episodes:,} episodes without a language (in 6 titles)"
    assert site["stages"]["details"]["state"] == "incomplete"
    assert text in site["stages"]["details"]["problems"]
    assert health["status"] == "degraded" and f"s.to: {text}" in health["problems"]
    assert health["catalog"]["s.to"]["details"] == "incomplete"
    assert text in page
    assert f"pages lacked: {text}" in out.getvalue()


def test_languages_missing_on_the_season_page_are_read_from_the_episode_pages(tmp_path: Path) -> None:
    with running_world(seed=2, titles=6, faults=[NO_FLAGS]) as world, \
            running_anibridge(tmp_path, CATALOG_SITES="s.to", **world.env()) as h, \
            httpx.Client(base_url=h.base_url, timeout=10) as client:
        crawl_now(h.runtime, ["s.to"])
        detail, _ = _get(client, "/health/catalog")
        info = next(i for e in world.world.entries("sto") if (i := world.world.info("sto", e.slug)) and 1 in i.seasons)
        truth = world.world.episode(info, 1, 1)
        row = h.runtime.catalog.conn().execute(
            "SELECT languages FROM episodes WHERE site = 's.to' AND slug = ? AND season = 1 AND episode = 1",
            (info.slug,)).fetchone()
    assert detail["sites"]["s.to"]["parse_problems"] == []
    assert detail["sites"]["s.to"]["stages"]["details"]["state"] == "ready"
    names = {1: "German Dub", 3: "German Sub", 4: "English Dub"}
    assert row[0].split(",") == [names[lang] for lang in (1, 3, 4) if lang in truth.languages]


def test_status_command_with_and_without_server(tmp_path: Path) -> None:
    with running_world(seed=4, titles=12) as world, \
            running_anibridge(tmp_path, CATALOG_SITES="megakino", **world.env()) as h:
        crawl_now(h.runtime, ["megakino"])
        head = h.runtime.journal.head()
        out = io.StringIO()
        assert print_status(h.settings, out) == 0  # next to the running server
        live = out.getvalue()
        report = collect_status(h.settings)
    assert f"journal: head {head}," in live
    assert "projection catalog: checkpoint" in live and "lag 0 events" in live
    assert "site megakino: searchable; 12 titles" in live
    assert "  titles: ready, done 12/12" in live
    catalog = next(p for p in report["projections"] if p["name"] == "catalog")
    assert catalog["checkpoint"] == head and len(catalog["content_hash"]) == 32

    # The server has stopped: the same figures and the same content hash from the files alone,
    # through the real command line.
    env = {**os.environ, "DATA_DIR": str(tmp_path), "CATALOG_SITES": "megakino"}
    proc = subprocess.run([sys.executable, "-m", "anibridge.cli", "status"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert f"journal: head {head}," in proc.stdout
    assert catalog["content_hash"] in proc.stdout
    after = collect_status(settings_for(tmp_path, CATALOG_SITES="megakino"))
    for before_p, after_p in zip(report["projections"], after["projections"], strict=True):
        assert (after_p["checkpoint"], after_p["content_hash"]) == (before_p["checkpoint"], before_p["content_hash"])
    assert after["sites"]["megakino"]["titles"] == report["sites"]["megakino"]["titles"] == 12


def test_status_command_on_an_empty_data_dir(tmp_path: Path) -> None:
    out = io.StringIO()
    assert print_status(settings_for(tmp_path / "nothing-here"), out) == 0
    text = out.getvalue()
    assert "journal: none yet" in text
    assert "projection catalog: not built yet" in text


def test_status_rich_table_on_a_terminal(tmp_path: Path) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    assert print_status(settings_for(tmp_path), out) == 0
    assert "projections" in out.getvalue() and "catalogue" in out.getvalue()
