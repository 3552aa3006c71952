"""Crash suite (reduced profile): SIGKILL ``anibridge serve`` three times during crawl, projection and
downloads, restart, and check nothing acknowledged is lost. The long profile is ``bench/crash.py``
(``--kills N --titles T``) or ``pytest -m slow`` here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.crash import CrashReport, run_crash_suite  # noqa: E402


def _check(report: CrashReport, kills: int) -> None:
    detail = "\n".join([*report.kill_log, *report.problems])
    assert report.kills == kills, detail
    assert report.adds_acknowledged > 0, "no torrents/add was acknowledged: the profile tested nothing"
    assert report.tasks_lost == [], detail
    assert report.catalog_ready, detail
    assert report.verify_ok, report.verify_output
    assert set(report.live_hashes) == {"catalog", "tasks"}, detail
    assert report.replay_hashes == report.live_hashes, detail
    assert report.ok, detail


@pytest.mark.timeout(240)
def test_three_kills_lose_nothing(tmp_path: Path) -> None:
    report = run_crash_suite(tmp_path, kills=3, titles=12, seed=11, min_uptime=0.5, max_uptime=2.5,
                             magnets=20, say=lambda line: None)
    _check(report, 3)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_many_kills_lose_nothing(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if "slow" not in (request.config.option.markexpr or ""):
        pytest.skip("long profile: run with -m slow (or bench/crash.py --kills N)")
    report = run_crash_suite(tmp_path, kills=15, titles=40, seed=3, magnets=60, say=lambda line: None)
    _check(report, 15)
