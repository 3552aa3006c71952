"""The details crawl under injected provider faults (devworld fault rules over real sockets).

Each fault either heals within the fetcher's retries (the crawl ends with every title read) or
costs exactly the affected title (a TitleDetailsFailed naming the URL and the reason) while the
crawl goes on; too many failures abort the run (DetailsRunAborted).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anibridge.crawlers.fetch import Fetcher
from anibridge.crawlers.scheduler import crawl_site
from anibridge.crawlers.stages import StageResult, StageRunner
from anibridge.devworld.testing import RunningWorld, running_world
from anibridge.events.journal import StoredEvent
from anibridge.runtime import Runtime
from anibridge.testing import settings_for, world_env

SITE = "aniworld.to"
TITLES = 30


@pytest.fixture(scope="module")
def world() -> Iterator[RunningWorld]:
    with running_world(seed=5, titles=TITLES, episodes_per_title=6) as running:
        yield running


@pytest.fixture(scope="module")
def slugs(world: RunningWorld) -> list[str]:
    return sorted(e.slug for e in world.world.entries("aniworld"))


class Crawl:
    def __init__(self, data_dir: Path, world: RunningWorld) -> None:
        self.world = world
        self.runtime = Runtime(settings_for(data_dir, **world_env(world), CATALOG_SITES=SITE), crawl=False,
                               downloads=False)
        self.runtime.start()
        self.run(("titles",))  # titles without faults; each test breaks the details pages

    def runner(self, title_timeout: float = 60.0, **fetch: Any) -> StageRunner:
        kwargs: dict[str, Any] = {"concurrency": 4, "connect_timeout": 2.0, "read_timeout": 5.0, "max_retries": 3,
                                  "backoff_base": 0.01, "backoff_cap": 0.05, "challenge_backoff_base": 0.01,
                                  "retry_after_max": 0.05}
        kwargs.update(fetch)
        rt = self.runtime
        self.fetchers: list[Fetcher] = []

        def factory(site: str) -> Fetcher:
            f = Fetcher(self.world.aniworld, **kwargs)
            self.fetchers.append(f)
            return f

        return StageRunner(rt.settings, rt.journal, rt.catalog_projector, rt.catalog, fetcher_factory=factory,
                           title_timeout=title_timeout)

    def run(self, stages: tuple[str, ...] = ("details",), **kw: Any) -> StageResult:
        self.mark = self.runtime.journal.head()
        (res,) = asyncio.run(crawl_site(self.runner(**kw), SITE, stages))
        assert self.runtime.catalog_projector.wait_until(self.runtime.journal.head(), 30)
        return res

    def new_events(self) -> list[StoredEvent]:
        return list(self.runtime.journal.read(after=self.mark))

    def failures(self) -> dict[str, dict[str, Any]]:
        return {ev.raw()["slug"]: ev.raw() for ev in self.new_events() if ev.type == "details.failed"}

    def with_details(self) -> int:
        return self.runtime.catalog.counts(SITE)["with_details"]


@pytest.fixture
def crawl(world: RunningWorld, tmp_path: Path) -> Iterator[Crawl]:
    world.clear_faults()
    c = Crawl(tmp_path / "data", world)
    try:
        yield c
    finally:
        c.runtime.stop()
        world.clear_faults()


def _all_read(crawl: Crawl, res: StageResult) -> None:
    assert res.ok, res.reason
    assert res.failed == 0 and res.done == TITLES
    assert crawl.failures() == {}
    assert crawl.with_details() == TITLES
    types = Counter(ev.type for ev in crawl.new_events())
    assert types["details.recorded"] == TITLES and types["details.run_completed"] == 1


# --- faults that heal within the retries ---------------------------------------------------------
def test_429_with_retry_after_is_honoured(crawl: Crawl, world: RunningWorld) -> None:
    world.set_faults([{"site": "aniworld", "path": r"/staffel-1$", "mode": "429", "times": 2, "retry_after": 1}])
    started = time.monotonic()
    res = crawl.run(retry_after_max=5.0, max_retries=4)
    elapsed = time.monotonic() - started
    _all_read(crawl, res)
    assert world.fault_hits() == [2]
    assert res.fetch["retries"] >= 2
    assert elapsed >= 1.0  # the site paused for Retry-After: 1 s instead of hammering


def test_503_then_ok(crawl: Crawl, world: RunningWorld, slugs: list[str]) -> None:
    world.set_faults([{"site": "aniworld", "path": f"^/anime/stream/{slugs[3]}$", "mode": "503", "times": 2}])
    res = crawl.run()
    _all_read(crawl, res)
    assert world.fault_hits() == [2] and res.fetch["retries"] == 2


def test_connection_resets(crawl: Crawl, world: RunningWorld) -> None:
    world.set_faults([{"site": "aniworld", "path": "^/anime/stream/", "mode": "reset", "times": 6}])
    res = crawl.run(max_retries=6)
    _all_read(crawl, res)
    assert world.fault_hits() == [6] and res.fetch["retries"] == 6


def test_truncated_bodies(crawl: Crawl, world: RunningWorld) -> None:
    world.set_faults([{"site": "aniworld", "path": r"/staffel-\d+$", "mode": "truncate", "times": 6}])
    res = crawl.run(max_retries=6)
    _all_read(crawl, res)
    assert world.fault_hits() == [6] and res.fetch["retries"] == 6


def test_challenge_page_backs_off_then_passes(crawl: Crawl, world: RunningWorld) -> None:
    world.set_faults([{"site": "aniworld", "path": "^/anime/stream/", "mode": "challenge", "times": 2}])
    res = crawl.run()
    _all_read(crawl, res)
    assert world.fault_hits() == [2]


def test_challenge_forever_fails_the_titles_with_a_clear_reason(crawl: Crawl, world: RunningWorld,
                                                                slugs: list[str]) -> None:
    world.set_faults([{"site": "aniworld", "path": f"^/anime/stream/{slugs[0]}$", "mode": "challenge"}])
    res = crawl.run(max_retries=1)
    assert res.ok and res.failed == 1 and res.done == TITLES - 1
    (fail,) = crawl.failures().values()
    assert fail["url"].endswith(f"/anime/stream/{slugs[0]}")
    assert "challenge page" in fail["reason"]


# --- faults that cost one title ------------------------------------------------------------------
def test_slow_response_times_out_one_title(crawl: Crawl, world: RunningWorld, slugs: list[str]) -> None:
    slow = slugs[7]
    world.set_faults([{"site": "aniworld", "path": f"^/anime/stream/{slow}$", "mode": "slow", "interval": 2.0,
                       "max_seconds": 30}])
    started = time.monotonic()
    res = crawl.run(read_timeout=0.3, max_retries=1)
    assert time.monotonic() - started < 10
    assert res.ok and res.failed == 1 and res.done == TITLES - 1
    fail = crawl.failures()[slow]
    assert fail["url"].endswith(f"/anime/stream/{slow}")
    assert "timed out after 0.3 s" in fail["reason"]
    assert fail["retry_at"] > time.time() + 600
    assert crawl.with_details() == TITLES - 1
    st = crawl.runtime.catalog.stage_status()[SITE]["details"]
    assert st["state"] == "ready" and st["failed"] == 1 and slow in st["last_error"]


def test_trickling_response_is_cut_by_the_title_deadline(crawl: Crawl, world: RunningWorld,
                                                         slugs: list[str]) -> None:
    # a byte every 0.1 s never trips a 5 s read timeout; the per-title deadline ends it
    slow = slugs[2]
    world.set_faults([{"site": "aniworld", "path": f"^/anime/stream/{slow}$", "mode": "slow", "interval": 0.1,
                       "max_seconds": 60}])
    started = time.monotonic()
    res = crawl.run(title_timeout=1.5)
    assert time.monotonic() - started < 15
    assert res.ok and res.failed == 1 and res.done == TITLES - 1
    fail = crawl.failures()[slow]
    assert fail["url"].endswith(f"/anime/stream/{slow}") and "not read within 1.5 s" in fail["reason"]


def test_malformed_season_page_names_url_and_what_is_missing(crawl: Crawl, world: RunningWorld,
                                                             slugs: list[str]) -> None:
    bad = slugs[11]
    world.set_faults([{"site": "aniworld", "path": f"^/anime/stream/{bad}/staffel-1$", "mode": "malformed",
                       "kind": "no_table"}])
    res = crawl.run()
    assert res.ok and res.failed == 1 and res.done == TITLES - 1
    fail = crawl.failures()[bad]
    assert fail["url"].endswith(f"/anime/stream/{bad}/staffel-1")
    assert "table.seasonEpisodesList" in fail["reason"]
    assert crawl.with_details() == TITLES - 1
    types = Counter(ev.type for ev in crawl.new_events())
    assert types["details.run_completed"] == 1 and types["details.run_aborted"] == 0
    # the failed title waits for its retry time: the next run skips it and reads the rest again
    world.clear_faults()
    res = crawl.run()
    assert res.ok and res.done == TITLES - 1 and res.unchanged == TITLES - 1 and res.failed == 0


def test_malformed_series_page_and_missing_numbers(crawl: Crawl, world: RunningWorld, slugs: list[str]) -> None:
    world.set_faults([
        {"site": "aniworld", "path": f"^/anime/stream/{slugs[1]}$", "mode": "malformed", "kind": "garbage"},
        {"site": "aniworld", "path": f"^/anime/stream/{slugs[4]}/staffel-1$", "mode": "malformed",
         "kind": "no_numbers"},
    ])
    res = crawl.run()
    assert res.ok and res.failed == 2
    fails = crawl.failures()
    assert set(fails) == {slugs[1], slugs[4]}
    assert fails[slugs[1]]["url"].endswith(f"/anime/stream/{slugs[1]}")
    assert fails[slugs[4]]["url"].endswith(f"/anime/stream/{slugs[4]}/staffel-1")
    assert all(f["reason"] for f in fails.values())


def test_failures_above_threshold_abort_the_run(crawl: Crawl, world: RunningWorld) -> None:
    threshold = crawl.runtime.settings.crawl_failure_threshold
    world.set_faults([{"site": "aniworld", "path": r"^/anime/stream/[^/]+$", "mode": "503", "probability": 0.6}])
    res = crawl.run(max_retries=0)
    assert not res.ok
    assert f"more than the allowed {threshold:.0%}" in res.reason
    types = Counter(ev.type for ev in crawl.new_events())
    assert types["details.run_aborted"] == 1 and types["details.run_completed"] == 0
    assert types["details.failed"] == res.failed and res.failed > threshold * (res.done + res.failed)
    assert res.done + res.failed < TITLES  # stopped early, not after reading everything
    st = crawl.runtime.catalog.stage_status()[SITE]["details"]
    assert st["state"] == "failed" and "more than the allowed" in st["last_error"]
