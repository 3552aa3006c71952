"""``anibridge verify`` and the CLI entry points, run as real processes on real journal files."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from anibridge.config import Settings
from anibridge.events import Journal
from anibridge.events.types import TaskPaused, TaskProgress

BIN = Path(sys.executable).parent


def anibridge_cmd() -> list[str]:
    script = BIN / "anibridge"
    return [str(script)] if script.exists() else [sys.executable, "-m", "anibridge.cli"]


def run(*args: str, data_dir: Path | None = None, module: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    if data_dir is not None:
        env["DATA_DIR"] = str(data_dir)
    cmd = [sys.executable, "-m", "anibridge.cli"] if module else anibridge_cmd()
    return subprocess.run([*cmd, *args], env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


@pytest.fixture()
def good_journal(tmp_path: Path) -> Path:
    """A data dir whose journal holds 300 events."""
    data = tmp_path / "good"
    with Journal(data / "journal.db") as j:
        j.append([TaskProgress(hash=f"h{i}", downloaded=i, total=300) for i in range(250)])
        for i in range(50):
            j.append_one(TaskPaused(hash=f"p{i}"))
    return data


def tampered_copy(src: Path, dst: Path, sql: str, *params: object) -> Path:
    """Copy the journal (WAL included, via the backup API), drop the append-only triggers in the
    copy with a plain connection, then run ``sql`` on it."""
    dst.mkdir(parents=True)
    with sqlite3.connect(src / "journal.db") as source, sqlite3.connect(dst / "journal.db") as copy:
        source.backup(copy)
    conn = sqlite3.connect(dst / "journal.db")
    try:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("DROP TRIGGER events_no_delete")
        conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()
    return dst


def test_help() -> None:
    top = run("--help")
    assert top.returncode == 0, top.stderr
    for name in ("serve", "verify", "status", "crawl", "replay"):
        assert name in top.stdout
    sub = run("verify", "--help")
    assert sub.returncode == 0, sub.stderr
    assert "usage: anibridge verify" in sub.stdout


def test_verify_good_journal(good_journal: Path) -> None:
    done = run("verify", data_dir=good_journal)
    assert done.returncode == 0, done.stderr
    assert "journal OK: 300 events, positions 1..300" in done.stdout


def test_verify_via_python_dash_m(good_journal: Path) -> None:
    done = run("verify", data_dir=good_journal, module=True)
    assert done.returncode == 0, done.stderr
    assert "journal OK: 300 events" in done.stdout


def test_verify_empty_journal(tmp_path: Path) -> None:
    Journal(tmp_path / "journal.db").close()
    done = run("verify", data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "journal OK: 0 events" in done.stdout


def test_verify_on_a_fresh_data_folder_says_nothing_yet(tmp_path: Path) -> None:
    done = run("verify", data_dir=tmp_path / "nothing-here")
    assert done.returncode == 0, done.stderr
    assert "nothing to verify yet: no journal at" in done.stdout
    assert "BROKEN" not in done.stdout + done.stderr


@pytest.mark.parametrize("position", [1, 137, 300])
def test_verify_names_a_corrupted_payload(good_journal: Path, tmp_path: Path, position: int) -> None:
    row = sqlite3.connect(good_journal / "journal.db").execute(
        "SELECT payload FROM events WHERE position = ?", (position,)).fetchone()
    payload = bytearray(row[0])
    payload[len(payload) // 2] ^= 0x01  # one flipped bit
    bad = tampered_copy(good_journal, tmp_path / "bad", "UPDATE events SET payload = ? WHERE position = ?",
                        bytes(payload), position)
    done = run("verify", data_dir=bad)
    assert done.returncode == 1, done.stdout
    assert f"at position {position}" in done.stderr
    assert f"event {position} (" in done.stderr and "does not match its checksum" in done.stderr
    assert run("verify", data_dir=good_journal).returncode == 0  # the original is untouched


@pytest.mark.parametrize("column", ["stream", "type"])
def test_verify_catches_tampered_metadata(good_journal: Path, tmp_path: Path, column: str) -> None:
    sql = f"UPDATE events SET {column} = 'x' WHERE position = 42"
    bad = tampered_copy(good_journal, tmp_path / "bad", sql)
    done = run("verify", data_dir=bad)
    assert done.returncode == 1
    assert "at position 42" in done.stderr


@pytest.mark.parametrize("position", [1, 200])
def test_verify_names_a_missing_position(good_journal: Path, tmp_path: Path, position: int) -> None:
    bad = tampered_copy(good_journal, tmp_path / "gap", "DELETE FROM events WHERE position = ?", position)
    done = run("verify", data_dir=bad)
    assert done.returncode == 1, done.stdout
    assert f"position {position} is missing" in done.stderr
