"""Storage faults: a read-only data folder and a full disk.

Real file systems, no mocks: a small tmpfs is mounted (read-only, or a few hundred KiB) where
DATA_DIR should be. That needs CAP_SYS_ADMIN (root in the test container); where ``mount`` is not
allowed these tests skip and say so. The "file where the folder should be" case needs no mount.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import apsw
import httpx
import pytest

from anibridge.config import Settings
from anibridge.events import Journal
from anibridge.events.types import TaskProgress
from anibridge.releases import build_magnet
from anibridge.testing import free_port, running_anibridge

BIN = Path(sys.executable).parent


def anibridge(*args: str, data_dir: Path, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    script = BIN / "anibridge"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "anibridge.cli"]
    base = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    full_env = base | {"DATA_DIR": str(data_dir), "ANIBRIDGE_PORT": str(free_port()), "ANIBRIDGE_HOST": "127.0.0.1",
                       "CATALOG_ENABLED": "false"} | env
    return subprocess.run([*cmd, *args], env=full_env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def _mount(target: Path, options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True,
                          text=True, timeout=10)


@pytest.fixture()
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """``tmpfs("size=512k")`` mounts a fresh tmpfs and returns its path; unmounted after the test."""
    mounted: list[Path] = []

    def mount(options: str) -> Path:
        target = tmp_path / f"mnt{len(mounted)}"
        target.mkdir()
        r = _mount(target, options)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode}); needs CAP_SYS_ADMIN")
        mounted.append(target)
        return target

    yield mount
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", str(target)], capture_output=True, timeout=10)


def remount_ro(target: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(target)], check=True, capture_output=True, timeout=10)


def _assert_one_clear_line(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "Traceback" not in out, out
    errors = [line for line in r.stderr.splitlines() if line.startswith("anibridge:")]
    assert len(errors) == 1, out
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])


# --- read-only data folder ----------------------------------------------------------------------
def test_serve_refuses_a_file_where_the_data_folder_should_be(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    r = anibridge("serve", data_dir=blocker, timeout=30)
    _assert_one_clear_line(r, "DATA_DIR", str(blocker))


def test_serve_refuses_a_read_only_empty_data_folder(tmpfs: Callable[[str], Path]) -> None:
    ro = tmpfs("ro,size=256k")
    r = anibridge("serve", data_dir=ro, timeout=30)
    _assert_one_clear_line(r, "DATA_DIR", "Read-only")


def test_serve_refuses_a_read_only_existing_data_folder(tmpfs: Callable[[str], Path]) -> None:
    data = tmpfs("size=1m")
    with Journal(data / "journal.db") as j:
        j.append([TaskProgress(hash="h", downloaded=1, total=2)])
    (data / "downloads").mkdir()
    remount_ro(data)
    r = anibridge("serve", data_dir=data, timeout=30)
    _assert_one_clear_line(r, "DATA_DIR")
    v = anibridge("verify", data_dir=data)  # a read-only journal can still be checked
    assert v.returncode == 0 and "journal OK: 1 events" in v.stdout, v.stdout + v.stderr


# --- disk full -----------------------------------------------------------------------------------
def _batch(n: int, start: int) -> list[TaskProgress]:
    return [TaskProgress(hash=f"h{start + i:08d}", downloaded=start + i, total=10**9) for i in range(n)]


def test_journal_on_a_full_disk_keeps_every_acknowledged_append(tmpfs: Callable[[str], Path],
                                                                caplog: pytest.LogCaptureFixture) -> None:
    data = tmpfs("size=384k")
    caplog.set_level(logging.ERROR, logger="anibridge.journal")
    acked: list[int] = []
    failure: BaseException | None = None
    journal = Journal(data / "journal.db")
    try:
        n = 0
        for _ in range(10_000):
            batch = _batch(25, n)
            try:
                positions = journal.append(batch, timeout=30)
            except apsw.Error as exc:
                failure = exc
                break
            acked.extend(e.downloaded for e in batch)
            assert len(positions) == len(batch)
            n += len(batch)
        assert failure is not None, "the disk never filled"
        assert isinstance(failure, apsw.FullError), repr(failure)
        # The error is clear in the log, and further appends fail the same clean way (nothing half-written).
        assert any("could not write" in r.getMessage() and "full" in r.getMessage() for r in caplog.records)
        with pytest.raises(apsw.Error):
            journal.append(_batch(200, 10**6), timeout=30)
        # Space comes back: appending works again, positions stay gapless.
        for f in data.glob("filler*"):
            f.unlink()
    finally:
        journal.close()
    assert len(acked) > 100
    v = anibridge("verify", data_dir=data)
    assert v.returncode == 0, v.stdout + v.stderr
    assert f"journal OK: {len(acked)} events" in v.stdout, v.stdout
    with Journal(data / "journal.db") as j:
        stored = [ev.raw()["downloaded"] for ev in j.read()]
    assert stored == acked


def test_journal_recovers_when_space_comes_back(tmpfs: Callable[[str], Path]) -> None:
    data = tmpfs("size=512k")
    filler = data / "filler.bin"
    with Journal(data / "journal.db") as journal:
        journal.append(_batch(10, 0))
        with open(filler, "wb", buffering=0) as fh:  # fill what is left of the disk
            try:
                while True:
                    fh.write(b"\0" * 4096)
            except OSError:
                pass
        with pytest.raises(apsw.Error):
            for i in range(200):
                journal.append(_batch(50, 100 + i * 50))
        filler.unlink()
        positions = journal.append(_batch(5, 50_000))
        head = journal.head()
    assert positions[-1] == head
    v = anibridge("verify", data_dir=data)
    assert v.returncode == 0, v.stdout + v.stderr
    assert f"positions 1..{head} gapless" in v.stdout


def test_torrents_add_on_a_full_disk_never_acknowledges_what_it_did_not_store(
        tmpfs: Callable[[str], Path]) -> None:
    data = tmpfs("size=2m")
    acked: list[str] = []
    answers: dict[int, int] = {}
    with running_anibridge(data, downloads=False, CATALOG_ENABLED="false") as h, \
            httpx.Client(base_url=h.base_url, timeout=30) as c:
        with open(data / "filler.bin", "wb", buffering=0) as fh:  # leave a little room only
            free = os.statvfs(data).f_bavail * os.statvfs(data).f_frsize
            fh.write(b"\0" * max(0, free - 96 * 1024))
        for i in range(2000):
            magnet = build_magnet("aniworld.to", f"show-{i}", 1, 1, "German Dub", f"Show.{i}.S01E01-ANIWORLD")
            r = c.post("/api/v2/torrents/add", data={"urls": magnet})
            answers[r.status_code] = answers.get(r.status_code, 0) + 1
            if r.text == "Ok.":
                acked.append(magnet.split("btih:", 1)[1][:40])
            elif answers.get(r.status_code, 0) > 5:
                break
        assert set(answers) - {200} == {507}, f"the disk never filled, or a full disk answered oddly: {answers}"
        health = httpx.get(f"{h.base_url}/health", timeout=10)  # still answering, and saying why it is unhealthy
        assert health.status_code == 503 and health.json()["status"] == "unhealthy", health.text
        assert any(p.startswith("journal: cannot store new events") for p in health.json()["problems"])
        listed = {t["hash"] for t in c.get("/api/v2/torrents/info").json()}
        assert set(acked) <= listed
    v = anibridge("verify", data_dir=data)
    assert v.returncode == 0, v.stdout + v.stderr
    with Journal(data / "journal.db") as j:
        requested = {ev.raw()["hash"] for ev in j.read(types=["task.requested"])}
    assert set(acked) <= requested
