"""The journal stays the truth under backup and restore, damage and a second server (issue 17).

Every test runs the real ``anibridge`` command line as a process (``serve`` on a loopback port, and
``backup``, ``restore``, ``verify``, ``replay``, ``status``) against real files in a temporary DATA_DIR.
Downloads are added paused and the provider URLs point at a closed loopback port: nothing leaves
this machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import apsw
import httpx
import pytest

from anibridge.events import Journal
from anibridge.events.headmark import mark_path, read_mark
from anibridge.events.types import TaskPaused
from anibridge.releases import build_magnet, release_title

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anibridge.testing import free_port  # noqa: E402
from bench.crash import Server, anibridge_cmd, clean_env, start_server  # noqa: E402

API = "/api/v2"
DEAD = "http://127.0.0.1:9"  # nothing listens there: no crawl or download reaches any real site
WAL_FRAME_HEADER = 24


def env_for(data: Path, **extra: str) -> dict[str, str]:
    return clean_env() | {
        "DATA_DIR": str(data), "ANIBRIDGE_HOST": "127.0.0.1", "ANIBRIDGE_PORT": str(free_port()),
        "CATALOG_ENABLED": "false", "LOG_LEVEL": "INFO", "ANIWORLD_BASE_URL": DEAD, "STO_BASE_URL": DEAD,
        "MEGAKINO_BASE_URL": DEAD, "SKYHOOK_BASE_URL": DEAD} | extra


def cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*anibridge_cmd(), *args], env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[Server]:
    server = start_server(env, log)
    try:
        yield server
    finally:
        server.stop()


def magnet(n: int) -> str:
    title = release_title(f"Show {n}", 1, n, "German Sub", "aniworld.to")
    return build_magnet("aniworld.to", f"show-{n}", 1, n, "German Sub", title)


def btih(m: str) -> str:
    return m.split("btih:", 1)[1].split("&", 1)[0].lower()


def add(base: str, n: int) -> str:
    m = magnet(n)
    r = httpx.post(f"{base}{API}/torrents/add", data={"urls": m, "paused": "true"}, timeout=15)
    assert (r.status_code, r.text) == (200, "Ok."), r.text
    return btih(m)


def listed(base: str) -> set[str]:
    r = httpx.get(f"{base}{API}/torrents/info", timeout=15)
    r.raise_for_status()
    return {t["hash"].lower() for t in r.json()}


def journal_head(data: Path) -> int:
    conn = apsw.Connection(str(data / "journal.db"), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return int(conn.execute("SELECT max(position) FROM events").fetchone()[0] or 0)
    finally:
        conn.close()


def log_text(path: Path) -> str:
    return path.read_text(errors="replace")


# --- backup, clean stop, restore -----------------------------------------------------------------------
def test_clean_stop_leaves_every_event_in_journal_db(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = env_for(data)
    with serving(env, tmp_path / "serve.log") as server:
        added = {add(server.base, n) for n in range(1, 8)}
    wal = data / "journal.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0, "events left in the WAL after a clean stop"
    # journal.db alone (what a file-level backup of it holds) has every event
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(data / "journal.db", alone / "journal.db")
    done = cli("verify", env=env_for(alone))
    assert done.returncode == 0, done.stderr
    assert f"journal OK: {journal_head(data)} events" in done.stdout
    with serving(env_for(alone), tmp_path / "alone.log") as server:
        assert listed(server.base) == added


def test_backup_while_serving_then_restore_an_older_journal(tmp_path: Path) -> None:
    data, backups = tmp_path / "data", tmp_path / "backups"
    backups.mkdir()
    env = env_for(data)
    log = tmp_path / "serve.log"
    with serving(env, log) as server:
        early = {add(server.base, n) for n in range(1, 6)}
        made = cli("backup", str(backups / "early.db"), env=env)  # beside the running server
        assert made.returncode == 0, made.stderr
        assert "backup written" in made.stdout
        late = {add(server.base, n) for n in range(6, 11)}
        assert listed(server.base) == early | late
        refused = cli("restore", str(backups / "early.db"), env=env)
        assert refused.returncode == 1
        assert f"process {server.proc.pid}" in refused.stderr, refused.stderr  # names the server in the way
    assert not (backups / "early.db-wal").exists()
    done = cli("restore", str(backups / "early.db"), env=env)
    assert done.returncode == 0, done.stderr
    assert "kept as" in done.stdout and "rebuilt" in done.stdout, done.stdout
    assert cli("verify", env=env).returncode == 0
    status = cli("status", env=env)
    assert "STALE" not in status.stdout and "lag 0 events" in status.stdout, status.stdout
    with serving(env, log) as server:
        assert listed(server.base) == early  # nothing the restored journal does not hold
        fresh = {add(server.base, n) for n in range(20, 25)}
        assert listed(server.base) == early | fresh  # every new add answered Ok. is there


def _older_journal_by_hand(tmp_path: Path) -> tuple[Path, dict[str, str], set[str], Path, int]:
    """A data folder whose journal.db was replaced by hand with an older backup (WAL files removed),
    while the projections were built from the newer journal: the red team's restore."""
    data, backups = tmp_path / "data", tmp_path / "backups"
    backups.mkdir()
    env = env_for(data)
    log = tmp_path / "serve.log"
    with serving(env, log) as server:
        early = {add(server.base, n) for n in range(1, 4)}
        assert cli("backup", str(backups / "early.db"), env=env).returncode == 0
        for n in range(4, 11):
            add(server.base, n)
    newer_head = journal_head(data)
    for suffix in ("-wal", "-shm"):
        (data / f"journal.db{suffix}").unlink(missing_ok=True)
    shutil.copy(backups / "early.db", data / "journal.db")
    return data, env, early, log, newer_head


def test_a_hand_restored_older_journal_is_refused_while_its_head_record_says_more(tmp_path: Path) -> None:
    data, env, _, log, _ = _older_journal_by_hand(tmp_path)
    head, mark = journal_head(data), read_mark(data / "journal.db")
    assert mark is not None and mark.position > head
    verify = cli("verify", env=env)
    assert verify.returncode == 1
    assert f"at position {head + 1}" in verify.stderr and "gone from its end" in verify.stderr, verify.stderr
    serve = subprocess.run([*anibridge_cmd(), "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert serve.returncode == 1
    lines = serve.stderr.strip().splitlines()
    assert len(lines) == 1 and f"damaged at position {head + 1}" in lines[0], serve.stderr
    assert "anibridge restore" in lines[0]
    status = cli("status", env=env)
    assert f"journal DAMAGED: it ends at position {head}" in status.stdout, status.stdout


def test_projections_newer_than_a_restored_journal_are_rebuilt_before_serving(tmp_path: Path) -> None:
    data, env, early, log, _ = _older_journal_by_hand(tmp_path)
    mark_path(data / "journal.db").unlink()  # the user accepts the older journal
    status = cli("status", env=env)
    assert status.returncode == 0, status.stderr
    assert "tasks: STALE" in status.stdout and "lag 0" not in status.stdout, status.stdout
    with serving(env, log) as server:
        assert listed(server.base) == early  # not the ten tasks of the newer projection
        fresh = {add(server.base, n) for n in range(30, 35)}
        assert listed(server.base) == early | fresh
    text = log_text(log)
    assert "tasks projection" in text and "does not match the journal" in text and "Rebuilding it" in text
    status = cli("status", env=env)
    assert "STALE" not in status.stdout, status.stdout


def test_a_projection_holding_other_events_at_its_checkpoint_is_rebuilt(tmp_path: Path) -> None:
    """The restored journal grew past the projection's checkpoint before the server came back (a pin or a
    CLI crawl): positions line up, events do not. The checksum at the checkpoint tells."""
    data, env, early, log, newer_head = _older_journal_by_hand(tmp_path)
    mark_path(data / "journal.db").unlink()
    with Journal(data / "journal.db") as journal:
        while journal.head() < newer_head + 2:
            journal.append_one(TaskPaused(hash=f"{journal.head():040x}"))
    status = cli("status", env=env)
    assert "tasks: STALE" in status.stdout and "checksum differs" in status.stdout, status.stdout
    with serving(env, log) as server:
        assert listed(server.base) == early
    assert "checksum differs" in log_text(log)


# --- damage ---------------------------------------------------------------------------------------------
def _journal_with_events_in_wal(data: Path, batches: int = 12) -> None:
    """Append batches in a process that dies without closing the journal: the events stay in the WAL."""
    code = (
        "import os, sys\n"
        "from anibridge.events import Journal\n"
        "from anibridge.events.types import TaskPaused\n"
        "j = Journal(sys.argv[1])\n"
        f"for i in range({batches}):\n"
        "    j.append([TaskPaused(hash=f'{i:02d}' * 20) for _ in range(3)])\n"
        "os._exit(0)\n")
    subprocess.run([sys.executable, "-c", code, str(data / "journal.db")], check=True, timeout=60)
    assert (data / "journal.db-wal").stat().st_size > 0


def _last_frame_offset(wal: Path) -> int:
    page_size = int.from_bytes(wal.read_bytes()[8:12], "big")
    return wal.stat().st_size - (WAL_FRAME_HEADER + page_size)


@pytest.mark.parametrize("damage", ["flipped", "torn"])
def test_a_damaged_last_wal_frame_is_seen_and_refused(tmp_path: Path, damage: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _journal_with_events_in_wal(data)
    wal = data / "journal.db-wal"
    offset = _last_frame_offset(wal)
    if damage == "flipped":
        with open(wal, "r+b") as fh:
            fh.seek(offset + WAL_FRAME_HEADER + 100)
            byte = fh.read(1)
            fh.seek(-1, os.SEEK_CUR)
            fh.write(bytes([byte[0] ^ 0x10]))
    else:
        os.truncate(wal, offset + WAL_FRAME_HEADER + 1000)  # the last frame half written
    env = env_for(data)
    verify = cli("verify", env=env)
    assert verify.returncode == 1, verify.stdout
    assert "at position 34" in verify.stderr and "events 34..36 are gone from its end" in verify.stderr, \
        verify.stderr
    serve = subprocess.run([*anibridge_cmd(), "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert serve.returncode == 1
    assert serve.stderr.count("\n") == 1 and "damaged at position 34" in serve.stderr, serve.stderr
    replay = cli("replay", env=env)
    assert replay.returncode == 1 and "damaged at position 34" in replay.stderr, replay.stderr


def _flip_payload(data: Path, position: int) -> None:
    """Change one stored payload byte in place (as a bad disk would), behind SQLite's append-only triggers."""
    conn = apsw.Connection(str(data / "journal.db"))
    try:
        payload = bytearray(conn.execute("SELECT payload FROM events WHERE position = ?", (position,)).fetchone()[0])
        payload[len(payload) // 2] ^= 0x01
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("UPDATE events SET payload = ? WHERE position = ?", (bytes(payload), position))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def test_serve_and_replay_refuse_a_journal_whose_checksums_fail(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = env_for(data)
    with serving(env, tmp_path / "serve.log") as server:
        for n in range(1, 5):
            add(server.base, n)
    head = journal_head(data)
    assert cli("replay", env=env).returncode == 0
    _flip_payload(data, head - 1)  # near the end: what serve checks at start
    serve = subprocess.run([*anibridge_cmd(), "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert serve.returncode == 1
    assert f"damaged at position {head - 1}" in serve.stderr and "does not match its checksum" in serve.stderr
    before = sorted(p.name for p in data.iterdir())
    replay = cli("replay", env=env)
    assert replay.returncode == 1
    assert f"damaged at position {head - 1}" in replay.stderr, replay.stderr
    assert sorted(p.name for p in data.iterdir()) == before  # the live projections are left alone


def test_replay_checks_every_event_it_reads(tmp_path: Path) -> None:
    """Damage far from the end (past what serve checks at start): replay still refuses, naming it."""
    data = tmp_path / "data"
    data.mkdir()
    with Journal(data / "journal.db") as journal:
        for i in range(3):
            journal.append([TaskPaused(hash=f"{i:040x}") for _ in range(1500)])
    _flip_payload(data, 7)
    replay = cli("replay", env=env_for(data))
    assert replay.returncode == 1
    assert "damaged at position 7: event 7 (task.paused) does not match its checksum" in replay.stderr


# --- two servers ------------------------------------------------------------------------------------------
def test_a_second_server_on_the_same_data_folder_refuses_to_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = env_for(data)
    first = start_server(env, tmp_path / "first.log")
    try:
        second_env = env | {"ANIBRIDGE_PORT": str(free_port())}
        second = subprocess.run([*anibridge_cmd(), "serve"], env=second_env, capture_output=True, text=True,
                                timeout=60)
        assert second.returncode == 1
        assert f"process {first.proc.pid}" in second.stderr and "already using the data folder" in second.stderr
        assert add(first.base, 1) in listed(first.base)  # the first one is undisturbed
        first.proc.send_signal(signal.SIGKILL)  # the kernel releases the lock with the process
        first.proc.wait(timeout=30)
        with serving(second_env, tmp_path / "second.log") as server:
            assert len(listed(server.base)) == 1
    finally:
        first.kill()


def test_a_cli_crawl_beside_a_running_server_still_works(tmp_path: Path) -> None:
    from anibridge.devworld.testing import running_world
    from anibridge.testing import world_env

    data = tmp_path / "data"
    with running_world(seed=3, titles=6) as world:
        env = env_for(data) | world_env(world) | {"CATALOG_SITES": "aniworld.to"}
        with serving(env, tmp_path / "serve.log") as server:
            crawl = cli("crawl", "--site", "aniworld.to", "--stage", "titles", env=env)
            assert crawl.returncode == 0, crawl.stderr
            assert "aniworld.to titles: ok" in crawl.stdout
            catalog = httpx.get(f"{server.base}/health/catalog", timeout=10).json()
            assert catalog["sites"]["aniworld.to"]["title_ready"]


def test_a_deleted_journal_with_its_head_record_left_is_not_started_empty(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = env_for(data)
    with serving(env, tmp_path / "serve.log") as server:
        add(server.base, 1)
    for suffix in ("", "-wal", "-shm"):
        (data / f"journal.db{suffix}").unlink(missing_ok=True)
    serve = subprocess.run([*anibridge_cmd(), "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert serve.returncode == 1
    assert "damaged at position 1: it is empty" in serve.stderr and "delete journal.db-head too" in serve.stderr
    mark_path(data / "journal.db").unlink()  # starting over on purpose
    with serving(env, tmp_path / "serve.log") as server:
        assert listed(server.base) == set()
