"""Replay: a rebuild from the journal equals the incrementally maintained projections, whatever the
batch boundaries; ``anibridge replay`` swaps the rebuilt files in under a running server, which keeps
answering, moves to the new files and keeps applying new events."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from journal_factory import Scenario, catalog_scenario, upsert, write

from anibridge.events import Journal
from anibridge.events.journal import open_connection
from anibridge.events.types import TaskRequested, TitlesGenerationCompleted, TitlesGenerationStarted
from anibridge.projections.catalog import CatalogProjection
from anibridge.projections.projector import (
    Projector,
    catch_up,
    content_hash,
    file_content_hash,
    live_file,
    open_projection,
    pointer_path,
)
from anibridge.projections.replay import rebuild
from anibridge.projections.tasks import TaskProjection
from anibridge.testing import running_anibridge

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
KEY = "replay-test-key"


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return catalog_scenario(titles=150, tasks=60, seed=11)


file_hash = file_content_hash


@pytest.mark.parametrize("make", [CatalogProjection, TaskProjection], ids=["catalog", "tasks"])
def test_replay_equals_incremental(tmp_path: Path, journal: Journal, scenario: Scenario,
                                   make: type[CatalogProjection] | type[TaskProjection]) -> None:
    projection = make()
    base = tmp_path / f"{projection.name}.db"
    # incremental: a live projector thread follows while crawlers append batches of uneven sizes
    projector = Projector(journal, base, projection)
    projector.start()
    rng = random.Random(4)
    i = 0
    events = scenario.events
    while i < len(events):
        n = rng.choice([1, 2, 17, 150, 600])
        journal.append(events[i:i + n])
        i += n
        if rng.random() < 0.2:
            time.sleep(0.005)
    assert projector.wait_until(journal.head(), 60)
    projector.stop()
    incremental = file_hash(base, projection)

    replayed = rebuild(journal, base, projection, swap=False)
    assert replayed.checkpoint == journal.head()
    assert replayed.content_hash == incremental

    # batch boundaries do not matter: one transaction per three events gives the same tables
    tiny = open_projection(tmp_path / "tiny.db", make())
    catch_up(journal, tiny, make(), batch_size=3)
    assert content_hash(tiny, projection.hash_queries()) == incremental
    tiny.close()


def test_rebuild_swaps_atomically_and_removes_the_old_file(tmp_path: Path, journal: Journal,
                                                           scenario: Scenario) -> None:
    write(journal, scenario.events)
    base = tmp_path / "catalog.db"
    first = rebuild(journal, base, CatalogProjection())
    assert live_file(base) == first.file
    assert pointer_path(base).read_text() == first.file.name
    second = rebuild(journal, base, CatalogProjection(), retire_grace_s=0)
    assert live_file(base) == second.file != first.file
    assert not first.file.exists()
    assert first.content_hash == second.content_hash
    # the rebuilt file is complete on its own (checkpointed into the main file, WAL truncated)
    assert not Path(str(second.file) + "-wal").exists() or Path(str(second.file) + "-wal").stat().st_size == 0
    assert not list(tmp_path.glob("*.tmp"))


def test_rebuild_failure_leaves_the_live_file_alone(tmp_path: Path, journal: Journal, scenario: Scenario) -> None:
    write(journal, scenario.events)
    base = tmp_path / "catalog.db"
    live = rebuild(journal, base, CatalogProjection())

    class Broken(CatalogProjection):
        def hash_queries(self) -> list[str]:
            return ["SELECT * FROM no_such_table"]

    with pytest.raises(Exception, match="no_such_table"):
        rebuild(journal, base, Broken())
    assert live_file(base) == live.file
    assert sorted(p.name for p in tmp_path.glob("catalog.*.db")) == [live.file.name]


def _get(client: httpx.Client, url: str) -> int:
    return client.get(url, headers={"X-Api-Key": KEY}).status_code


def test_cli_replay_under_a_running_server(tmp_path: Path, scenario: Scenario) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with Journal(data / "journal.db") as j:
        # a bigger catalogue, so the replay takes a while and the server is busy meanwhile
        head = write(j, catalog_scenario(titles=500, tasks=100, seed=3).events)

    with running_anibridge(data, crawl=False, downloads=False, indexer_api_key=KEY) as h:
        rt = h.runtime
        assert rt.catalog_projector.wait_until(head, 60) and rt.task_projector.wait_until(head, 60)
        before = rt.catalog.counts("aniworld.to")
        old_files = {p["name"]: p["file"] for p in httpx.get(f"{h.base_url}/admin/projections",
                                                             params={"apikey": KEY}).json()["projections"]}
        assert old_files == {"catalog": "catalog.db", "tasks": "tasks.db"}

        codes: list[int] = []
        errors: list[str] = []
        reads: list[dict[str, int]] = []
        stop = threading.Event()

        def poll() -> None:
            with httpx.Client(base_url=h.base_url, timeout=10) as client:
                while not stop.is_set():
                    try:
                        for url in ("/health", "/health/catalog", "/admin/projections", "/admin/journal"):
                            codes.append(_get(client, url))
                        reads.append(rt.catalog.counts("aniworld.to"))  # through the server's reader
                    except Exception as exc:
                        errors.append(f"{type(exc).__name__}: {exc}")
                    time.sleep(0.01)

        poller = threading.Thread(target=poll)
        poller.start()
        try:
            env = {**os.environ, "DATA_DIR": str(data), "LOG_LEVEL": "WARNING", "INDEXER_API_KEY": KEY}
            out = subprocess.run([str(BIN / "anibridge"), "replay"], env=env, capture_output=True, text=True,
                                 timeout=300, cwd=tmp_path)
            assert out.returncode == 0, out.stderr
            assert "catalog: rebuilt" in out.stdout and "tasks: rebuilt" in out.stdout
            time.sleep(0.3)
        finally:
            stop.set()
            poller.join(30)
        assert not errors, errors[:5]
        assert codes and set(codes) == {200}, sorted(set(codes))
        assert len(reads) > 3 and all(r == before for r in reads), "reads changed while replaying"

        new_catalog = live_file(data / "catalog.db")
        new_tasks = live_file(data / "tasks.db")
        assert new_catalog.name != "catalog.db" and new_tasks.name != "tasks.db"
        assert f"now live as {new_catalog.name}" in out.stdout
        assert not (data / "catalog.db").exists() and not (data / "tasks.db").exists()

        deadline = time.monotonic() + 15
        files: dict[str, str] = {}
        while time.monotonic() < deadline:
            files = {p["name"]: p["file"] for p in httpx.get(f"{h.base_url}/admin/projections",
                                                             headers={"X-Api-Key": KEY}).json()["projections"]}
            if files == {"catalog": new_catalog.name, "tasks": new_tasks.name}:
                break
            time.sleep(0.1)
        assert files == {"catalog": new_catalog.name, "tasks": new_tasks.name}

        # the server keeps applying new events, into the new files
        rng = random.Random(99)
        positions = rt.journal.append([
            TitlesGenerationStarted(site="aniworld.to", generation=50, url="u"),
            upsert("aniworld.to", 50, 100_000, rng),
            TitlesGenerationCompleted(site="aniworld.to", generation=50, total=1, added=1, changed=0, removed=0,
                                      duration_s=1),
            TaskRequested(hash="f" * 40, site="aniworld.to", slug="title-100000", season=1, episode=1,
                          language="German Dub", name="New S01E01", magnet="magnet:?xt=new", added_on=1.0),
        ])
        assert rt.catalog_projector.wait_until(positions[-1], 30)
        assert rt.task_projector.wait_until(positions[-1], 30)
        assert rt.catalog.title("aniworld.to", "title-100000") is not None
        conn = open_connection(new_tasks, readonly=True)
        assert conn.execute("SELECT name FROM tasks WHERE hash = ?", ("f" * 40,)).fetchall() == [("New S01E01",)]
        conn.close()
        projections = httpx.get(f"{h.base_url}/admin/projections", params={"apikey": KEY}).json()["projections"]
        for p in projections:
            assert p["checkpoint"] == p["head"] == positions[-1]
            assert p["lag_events"] == 0 and p["error"] == ""

    # and what the server built incrementally after the swap still equals a replay
    with Journal(data / "journal.db") as j:
        for base, projection in ((data / "catalog.db", CatalogProjection()), (data / "tasks.db", TaskProjection())):
            fresh = rebuild(j, tmp_path / f"fresh-{base.name}", projection, swap=False)
            assert file_hash(live_file(base), projection) == fresh.content_hash
