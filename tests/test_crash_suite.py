"""Crash suite (reduced profile): SIGKILL ``anibridge serve`` three times during crawl, projection and
downloads, restart, and check nothing acknowledged is lost; then a backup taken while serving is
restored (every add acknowledged before it listed, none after it), and damaged copies of the journal
(a flipped and a torn last WAL frame) are refused by verify, serve and replay. The long profile is ``bench/crash.py``
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
    assert report.restore_lost == report.restore_phantoms == 0, "\n".join(report.restore_log)
    assert report.damages_detected == report.damages, "\n".join(report.damage_log)
    assert report.acknowledged_lost == 0
    assert report.ok, detail


@pytest.mark.timeout(480)
def test_three_kills_a_restore_and_two_damages_lose_nothing(tmp_path: Path) -> None:
    report = run_crash_suite(tmp_path, kills=3, titles=12, seed=11, min_uptime=0.5, max_uptime=2.5,
                             magnets=20, restores=1, damages=2, say=lambda line: None)
    _check(report, 3)
    assert (report.restores, report.damages) == (1, 2)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_many_kills_lose_nothing(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if "slow" not in (request.config.option.markexpr or ""):
        pytest.skip("long profile: run with -m slow (or bench/crash.py --kills N)")
    report = run_crash_suite(tmp_path, kills=15, titles=40, seed=3, magnets=60, restores=3, damages=4,
                             say=lambda line: None)
    _check(report, 15)
