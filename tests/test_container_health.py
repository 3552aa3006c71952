"""Docker's HEALTHCHECK (the exact command in the Dockerfile) against a real AniBridge: it passes while
AniBridge is ok or only degraded (a provider down), and fails once AniBridge is unhealthy (its journal
cannot store anything), then passes again when the data folder is writable again."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from anibridge.events import Journal
from anibridge.events.types import TitlesGenerationFailed, TitlesGenerationStarted
from anibridge.releases import build_magnet
from anibridge.testing import running_anibridge

DOCKERFILE = Path(__file__).resolve().parents[1] / "Dockerfile"
DEAD = "http://127.0.0.1:9"


def healthcheck_command() -> list[str]:
    """The HEALTHCHECK's exec-form CMD, with this interpreter in place of the image's ``python``."""
    match = re.search(r"^HEALTHCHECK .*?CMD (\[.*?\])\s*$", DOCKERFILE.read_text(), re.M | re.S)
    assert match, "no exec-form HEALTHCHECK CMD in the Dockerfile"
    cmd = json.loads(match.group(1).replace("\\\n", ""))
    assert cmd[0] == "python"
    return [sys.executable, *cmd[1:]]


def run_healthcheck(base_url: str) -> int:
    port = base_url.rsplit(":", 1)[1]
    env = {k: v for k, v in os.environ.items()} | {"ANIBRIDGE_PORT": port}
    return subprocess.run(healthcheck_command(), env=env, capture_output=True, timeout=30).returncode


@pytest.fixture()
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "data"
    target.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(target)], capture_output=True,
                       text=True, timeout=10)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode}); needs CAP_SYS_ADMIN")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True, timeout=10)


def _add(base: str, n: int) -> httpx.Response:
    magnet = build_magnet("aniworld.to", f"show-{n}", 1, 1, "German Dub", f"Show.{n}.S01E01-ANIWORLD")
    return httpx.post(f"{base}/api/v2/torrents/add", data={"urls": magnet, "paused": "true"}, timeout=15)


def test_healthcheck_passes_when_degraded_and_fails_when_the_journal_cannot_write(small_tmpfs: Path) -> None:
    data = small_tmpfs
    with Journal(data / "journal.db") as journal:  # a provider whose title list could not be read
        journal.append([TitlesGenerationStarted(site="s.to", generation=1, url=f"{DEAD}/serien"),
                        TitlesGenerationFailed(site="s.to", generation=1, reason="HTTP 503 from the site")])
    with running_anibridge(data, downloads=False, CATALOG_ENABLED="false", ANIWORLD_BASE_URL=DEAD,
                           STO_BASE_URL=DEAD, MEGAKINO_BASE_URL=DEAD, SKYHOOK_BASE_URL=DEAD) as h:
        h.runtime.task_projector.wait_until(h.runtime.journal.head(), 30)
        h.runtime.catalog_projector.wait_until(h.runtime.journal.head(), 30)
        assert _add(h.base_url, 1).text == "Ok."
        health = httpx.get(f"{h.base_url}/health", timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "degraded", health.text
        assert run_healthcheck(h.base_url) == 0  # a provider down: restarting AniBridge would not help

        filler = data / "filler.bin"
        with open(filler, "wb", buffering=0) as fh:  # the disk fills up
            stat = os.statvfs(data)
            fh.write(b"\0" * max(0, stat.f_bavail * stat.f_frsize - 64 * 1024))
        try:
            answers = []
            for n in range(2, 2000):
                answers.append(_add(h.base_url, n).status_code)
                if answers[-1] != 200:
                    break
            assert answers[-1] == 507, answers
            health = httpx.get(f"{h.base_url}/health", timeout=10)
            assert health.status_code == 503, health.text
            body = health.json()
            assert body["status"] == "unhealthy"
            assert any(p.startswith("journal: cannot store new events") for p in body["problems"]), body
            assert run_healthcheck(h.base_url) != 0
        finally:
            filler.unlink()
        assert _add(h.base_url, 3000).text == "Ok."  # room again: healthy again on the next commit
        health = httpx.get(f"{h.base_url}/health", timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "degraded", health.text
        assert run_healthcheck(h.base_url) == 0


def test_healthcheck_fails_when_a_projector_is_dead(tmp_path: Path) -> None:
    with running_anibridge(tmp_path, downloads=False, CATALOG_ENABLED="false",
                           CATALOG_PROJECTOR_PROCESS="false") as h:
        h.runtime.task_projector.wait_until(h.runtime.journal.head(), 30)
        assert run_healthcheck(h.base_url) == 0
        h.runtime.task_projector.stop()  # what a crashed projector thread looks like from outside
        health = httpx.get(f"{h.base_url}/health", timeout=10)
        assert health.status_code == 503, health.text
        assert "tasks projector is not running" in health.json()["problems"]
        assert run_healthcheck(h.base_url) != 0


def test_a_projector_stopped_by_a_damaged_event_makes_the_container_unhealthy(tmp_path: Path) -> None:
    """Damage far from the end (past the check at start): the projector refuses to apply it, says where,
    and the container turns unhealthy instead of serving tables that silently skipped an event."""
    import apsw

    from anibridge.events.types import TaskPaused

    with Journal(tmp_path / "journal.db") as journal:
        for i in range(3):
            journal.append([TaskPaused(hash=f"{i:040x}") for _ in range(1500)])
    conn = apsw.Connection(str(tmp_path / "journal.db"))
    try:
        payload = bytearray(conn.execute("SELECT payload FROM events WHERE position = 7").fetchone()[0])
        payload[len(payload) // 2] ^= 0x01
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("UPDATE events SET payload = ? WHERE position = 7", (bytes(payload),))
    finally:
        conn.close()
    with running_anibridge(tmp_path, downloads=False, CATALOG_ENABLED="false") as h:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            health = httpx.get(f"{h.base_url}/health", timeout=10)
            if health.status_code == 503:
                break
            time.sleep(0.2)
        assert health.status_code == 503, health.text
        problems = health.json()["problems"]
        assert any("projector stopped" in p and "damaged at position 7" in p for p in problems), problems
        assert h.runtime.task_projector.checkpoint < 7  # nothing past the damage was applied
        assert run_healthcheck(h.base_url) != 0
