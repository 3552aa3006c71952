"""Replay: a rebuild from the journal equals the incrementally maintained projections, whatever the
batch boundaries; ``anibridge replay`` swaps the rebuilt files in under a running server, which keeps
answering, moves to the new files and keeps applying new events."""

from __future__ import annotations

import gc
import os
import random
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterable
from pathlib import Path

import apsw
import httpx
import pytest
from journal_factory import Scenario, catalog_scenario, details, upsert, write

from anibridge.events import Journal
from anibridge.events.journal import StoredEvent, open_connection
from anibridge.events.types import (
    EpisodeInfo,
    TaskRequested,
    TitleDetailsFailed,
    TitleDetailsRecorded,
    TitleRemoved,
    TitlesGenerationCompleted,
    TitlesGenerationStarted,
)
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


def test_bulk_rebuild_equals_incremental_in_corner_cases(tmp_path: Path, journal: Journal) -> None:
    """What the rebuild's bulk load (details held back and written together, episodes written by a
    second process) must get right exactly as event-by-event application does."""
    rng = random.Random(5)
    site = "aniworld.to"

    def gen(n: int, *events: object) -> list[object]:
        return [TitlesGenerationStarted(site=site, generation=n, url="u"), *events,
                TitlesGenerationCompleted(site=site, generation=n, total=0, added=0, changed=0, removed=0,
                                          duration_s=1)]

    same_episode_twice = TitleDetailsRecorded(
        site=site, run=1, slug="title-3", content_hash="dup",
        episodes=[EpisodeInfo(season=1, episode=1, title_de=f"Folge {v}", title_en="", languages=["German Dub"],
                              hosters=["VOE"], path="/p") for v in (1, 2)])
    def failed(k: int) -> TitleDetailsFailed:
        return TitleDetailsFailed(site=site, run=1, slug=f"title-{k}", url="u", reason="503", retry_at=1.0)

    events = [
        *gen(1, *(upsert(site, 1, k, rng) for k in range(7))),
        details(site, 1, 0, rng), details(site, 1, 1, rng), details(site, 1, 0, rng, episodes=3),  # twice
        failed(2), details(site, 1, 2, rng),  # clears the failure
        same_episode_twice, details(site, 1, 4, rng, episodes=0), details(site, 1, 5, rng, episodes=9), failed(5),
        details(site, 1, 6, rng, episodes=8), details(site, 1, 6, rng, episodes=5),  # fewer episodes than before
        # a slug twice in one generation (applied in journal order): removed, then back without episodes
        *gen(2, TitleRemoved(site=site, generation=2, slug="title-1"), upsert(site, 2, 1, rng),
             TitleRemoved(site=site, generation=2, slug="title-0")),
        details(site, 2, 0, rng),  # removed meanwhile: ignored
        details(site, 2, 1, rng, episodes=2), details(site, 2, 4, rng, episodes=4),
        details(site, 2, 5, rng, episodes=2),
        *gen(3, TitleRemoved(site=site, generation=3, slug="title-4"), upsert(site, 3, 0, rng)),
        details(site, 3, 0, rng), details(site, 3, 3, rng, episodes=1),
    ]
    positions = journal.append(events)  # type: ignore[arg-type]
    incremental = open_projection(tmp_path / "one-by-one.db", CatalogProjection())
    assert catch_up(journal, incremental, CatalogProjection(), batch_size=1) == positions[-1]  # event by event
    expected = content_hash(incremental, CatalogProjection().hash_queries())
    incremental.close()
    rebuilt = rebuild(journal, tmp_path / "catalog.db", CatalogProjection(), swap=False)
    assert rebuilt.content_hash == expected
    conn = open_connection(rebuilt.file, readonly=True)
    counts = dict(conn.execute("SELECT slug, count(*) FROM episodes GROUP BY slug").fetchall())
    assert {slug: counts.get(slug) for slug in ("title-1", "title-3", "title-4", "title-5", "title-6")} == {
        "title-1": 2, "title-3": 1, "title-4": None, "title-5": 2, "title-6": 5}
    assert conn.execute("SELECT count(*) FROM details_failures").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM title_fts WHERE title_fts MATCH 'alt'").fetchone()[0] == \
        conn.execute("SELECT count(*) FROM title_names WHERE norm LIKE '% alt%'").fetchone()[0]
    assert not list(tmp_path.glob("*-episodes*"))
    conn.close()


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

    class FailsHalfway(CatalogProjection):  # while the episodes loader runs
        def apply_many(self, c: apsw.Connection, evs: Iterable[StoredEvent]) -> None:
            evs = list(evs)
            super().apply_many(c, evs)
            if any(ev.type == "details.recorded" for ev in evs):
                raise RuntimeError("boom")

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(RuntimeError, match="boom"):
            rebuild(journal, base, FailsHalfway())
        gc.collect()
    assert sorted(p.name for p in tmp_path.glob("catalog.*.db*")) == [live.file.name]  # no side file left
    assert [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)] == []  # its pipe closed


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
