"""Projections: crash safety (kill -9 while applying), atomic generations under concurrent readers,
failed and interrupted generations, schema-version rebuilds, following a swapped-in file, two
writers on one file. Real journal and projection files, real processes, no mocks."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import apsw
import pytest
from journal_factory import SITES, Scenario, catalog_scenario, upsert, write

from anibridge.events import Journal
from anibridge.events.journal import StoredEvent, open_connection
from anibridge.events.types import TitlesGenerationCompleted, TitlesGenerationStarted, TitleUpserted
from anibridge.projections.catalog import CATALOG_SCHEMA_VERSION, CatalogProjection
from anibridge.projections.projector import (
    Projector,
    file_content_hash,
    live_file,
    open_projection,
    read_checkpoint,
    swap_live_file,
)
from anibridge.projections.reader import ProjectionReader
from anibridge.projections.replay import rebuild
from anibridge.projections.tasks import TaskProjection

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return catalog_scenario(titles=150, tasks=40)


file_hash = file_content_hash


def drain(projector: Projector) -> None:
    while projector.step():
        pass


def query(path: Path, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = open_connection(path, readonly=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


# --- kill -9 at random points -----------------------------------------------------------------------
_FOLLOWER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from anibridge.events import Journal
    from anibridge.projections import projector as P
    from anibridge.projections.catalog import CatalogProjection
    from anibridge.projections.tasks import TaskProjection

    P.BATCH = int(sys.argv[3])  # small transactions: many chances to die in the middle of one
    journal = Journal(Path(sys.argv[1]))
    data = Path(sys.argv[2])
    projectors = [P.Projector(journal, data / "catalog.db", CatalogProjection()),
                  P.Projector(journal, data / "tasks.db", TaskProjection())]
    while True:
        n = sum(p.step() for p in projectors)
        print(projectors[0].checkpoint, projectors[1].checkpoint, flush=True)
        if n == 0:
            break
    print("done", flush=True)
""")


def _follower(journal_path: Path, data: Path, batch: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _FOLLOWER, str(journal_path), str(data), str(batch)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)


def test_sigkill_at_random_points_then_restart_equals_clean_replay(tmp_path: Path, journal: Journal,
                                                                   scenario: Scenario) -> None:
    head = write(journal, scenario.events, batch=300)
    data = tmp_path / "data"
    data.mkdir()
    rng = random.Random(20240611)
    killed_at: list[int] = []
    for _ in range(5):
        proc = _follower(journal.path, data, batch=rng.choice([3, 7, 11]))
        assert proc.stdout is not None
        lines = rng.randint(3, 40)
        last = ""
        for _ in range(lines):
            last = proc.stdout.readline()
            if not last or last.startswith("done"):
                break
        time.sleep(rng.random() * 0.004)  # land inside a transaction, not only between them
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=10)  # (and closes its pipes)
        assert proc.returncode == -signal.SIGKILL, err
        assert not last.startswith("done"), "the follower finished before it could be killed; lengthen the journal"
        killed_at.append(int(last.split()[0]))
    # It made progress between kills, and never got to the end.
    assert killed_at == sorted(killed_at) and len(set(killed_at)) >= 3, killed_at
    assert max(killed_at) < head
    # Restart, run to the end undisturbed.
    proc = _follower(journal.path, data, batch=50)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.strip().endswith("done")

    (tmp_path / "clean").mkdir()
    for base, projection in ((data / "catalog.db", CatalogProjection()), (data / "tasks.db", TaskProjection())):
        conn = open_connection(base, readonly=True)
        assert read_checkpoint(conn)[0] == head
        conn.close()
        clean = rebuild(journal, tmp_path / "clean" / base.name, projection, swap=False)
        assert file_hash(base, projection) == clean.content_hash, f"{projection.name} differs from a clean replay"

    # No event applied twice (nor skipped): the counters of the interrupted generation / run equal the
    # number of their events (a duplicate would also break pending_titles' primary key).
    catalog = data / "catalog.db"
    for site in SITES:
        (titles_done,) = query(catalog, "SELECT done FROM stage_status WHERE site = ? AND stage = 'titles'", (site,))[0]
        assert titles_done == scenario.pending_title_events[site]
        (pending,) = query(catalog, "SELECT count(*) FROM pending_titles WHERE site = ?", (site,))[0]
        assert pending == scenario.pending_title_events[site]
        (details_done,) = query(catalog, "SELECT done FROM stage_status WHERE site = ? AND stage = 'details'",
                                (site,))[0]
        assert details_done == scenario.pending_details_recorded[site]


# --- semantics of generations ------------------------------------------------------------------------
def test_failed_and_interrupted_generations_never_become_visible(tmp_path: Path, journal: Journal,
                                                                 scenario: Scenario) -> None:
    write(journal, scenario.events)
    projector = Projector(journal, tmp_path / "catalog.db", CatalogProjection())
    drain(projector)
    projector.stop()
    path = tmp_path / "catalog.db"
    for site in SITES:
        slugs = {s for (s,) in query(path, "SELECT slug FROM titles WHERE site = ?", (site,))}
        assert slugs == scenario.live_titles[site]
        # generation 2 is live; 3 failed and 4 was interrupted: none of their rows are
        gens = {g for (g,) in query(path, "SELECT DISTINCT generation FROM titles WHERE site = ?", (site,))}
        assert gens == {1, 2}
        state, live, error = query(path, "SELECT state, live_generation, last_error FROM stage_status"
                                   " WHERE site = ? AND stage = 'titles'", (site,))[0]
        assert (state, live) == ("running", 2)  # generation 4 is running (interrupted), 2 serves
        assert error == ""
        # names and the FTS index agree with the titles
        names = query(path, "SELECT count(*) FROM title_names n JOIN title_fts f ON f.rowid = n.id"
                      " WHERE n.site = ?", (site,))[0][0]
        assert names == query(path, "SELECT count(*) FROM title_names WHERE site = ?", (site,))[0][0]
        assert query(path, "SELECT count(*) FROM title_names WHERE site = ? AND slug NOT IN"
                     " (SELECT slug FROM titles WHERE site = ?)", (site, site))[0][0] == 0
        # episodes of removed titles are gone, and a details event for a removed title left nothing
        orphans = query(path, "SELECT count(*) FROM episodes e WHERE site = ? AND NOT EXISTS"
                        " (SELECT 1 FROM titles t WHERE t.site = e.site AND t.slug = e.slug)", (site,))[0][0]
        assert orphans == 0
    (fts_total,) = query(path, "SELECT count(*) FROM title_fts")[0]
    assert fts_total == query(path, "SELECT count(*) FROM title_names")[0][0]
    # the override that was set and then removed is gone; the other one stays
    assert query(path, "SELECT site, slug, tvdb_id FROM canonical_overrides WHERE site = 'aniworld.to'") == [
        ("aniworld.to", "title-1", 424242)]


def test_failed_first_generation_marks_site_failed(tmp_path: Path, journal: Journal) -> None:
    from anibridge.events.types import TitlesGenerationFailed

    rng = random.Random(1)
    journal.append([TitlesGenerationStarted(site="s.to", generation=1, url="u"),
                    *(upsert("s.to", 1, k, rng) for k in range(20)),
                    TitlesGenerationFailed(site="s.to", generation=1, reason="blocked")])
    projector = Projector(journal, tmp_path / "catalog.db", CatalogProjection())
    drain(projector)
    projector.stop()
    path = tmp_path / "catalog.db"
    assert query(path, "SELECT state, live_generation, last_error FROM stage_status WHERE site = 's.to'") == [
        ("failed", None, "blocked")]
    assert query(path, "SELECT count(*) FROM titles")[0][0] == 0
    assert query(path, "SELECT count(*) FROM pending_titles")[0][0] == 0


def test_slug_changed_twice_in_one_generation_applies_in_journal_order(tmp_path: Path, journal: Journal) -> None:
    """Remove-then-upsert and upsert-then-remove of the same slug inside one generation."""
    from anibridge.events.types import TitleRemoved

    rng = random.Random(3)
    site = "aniworld.to"
    journal.append([TitlesGenerationStarted(site=site, generation=1, url="u"),
                    *(upsert(site, 1, k, rng) for k in range(5)),
                    TitlesGenerationCompleted(site=site, generation=1, total=5, added=5, changed=0, removed=0,
                                              duration_s=1)])
    journal.append([TitlesGenerationStarted(site=site, generation=2, url="u"),
                    TitleRemoved(site=site, generation=2, slug="title-1"), upsert(site, 2, 1, rng),
                    upsert(site, 2, 2, rng), TitleRemoved(site=site, generation=2, slug="title-2"),
                    upsert(site, 2, 3, rng), upsert(site, 2, 3, rng, rev=9),
                    TitlesGenerationCompleted(site=site, generation=2, total=4, added=0, changed=2, removed=1,
                                              duration_s=1)])
    last = next(journal.read(after=journal.head() - 2, limit=1)).event
    assert isinstance(last, TitleUpserted) and last.slug == "title-3"
    projector = Projector(journal, tmp_path / "catalog.db", CatalogProjection())
    drain(projector)
    projector.stop()
    rows = dict(query(tmp_path / "catalog.db", "SELECT slug, title FROM titles ORDER BY slug"))
    assert set(rows) == {"title-0", "title-1", "title-3", "title-4"}
    assert rows["title-3"] == last.title
    names = query(tmp_path / "catalog.db", "SELECT DISTINCT slug FROM title_names ORDER BY slug")
    assert [s for (s,) in names] == ["title-0", "title-1", "title-3", "title-4"]


# --- readers never see half a generation ----------------------------------------------------------------
def test_readers_never_see_a_half_applied_generation(tmp_path: Path, journal: Journal) -> None:
    rng = random.Random(5)
    site = "aniworld.to"
    base = tmp_path / "catalog.db"
    projector = Projector(journal, base, CatalogProjection())
    projector.start()
    try:
        journal.append([TitlesGenerationStarted(site=site, generation=1, url="u"),
                        *(upsert(site, 1, k, rng) for k in range(400)),
                        TitlesGenerationCompleted(site=site, generation=1, total=400, added=400, changed=0,
                                                  removed=0, duration_s=1)])
        from anibridge.events.types import TitleRemoved

        # generation 2: 100 removed, 300 changed, 300 new -> 600 titles, all of generation 2
        staged = journal.append([TitlesGenerationStarted(site=site, generation=2, url="u"),
                                 *(TitleRemoved(site=site, generation=2, slug=f"title-{k}") for k in range(100)),
                                 *(upsert(site, 2, k, rng, rev=2) for k in range(100, 700))])
        assert projector.wait_until(staged[-1], 30)

        reader = ProjectionReader(base)
        seen: list[tuple[object, ...]] = []
        stop = threading.Event()
        errors: list[BaseException] = []

        def read_loop() -> None:
            try:
                while not stop.is_set():
                    with reader.snapshot() as conn:
                        (count, lo, hi), = conn.execute("SELECT count(*), min(generation), max(generation)"
                                                        " FROM titles WHERE site = ?", (site,)).fetchall()
                        (live,), = conn.execute("SELECT live_generation FROM stage_status WHERE site = ?"
                                                " AND stage = 'titles'", (site,)).fetchall()
                        (names,), = conn.execute("SELECT count(DISTINCT slug) FROM title_names WHERE site = ?",
                                                 (site,)).fetchall()
                    seen.append((count, lo, hi, live, names))
            except BaseException as exc:  # surfaced by the assertion below
                errors.append(exc)

        t = threading.Thread(target=read_loop)
        t.start()
        while len(seen) < 20:
            time.sleep(0.001)
        pos = journal.append_one(TitlesGenerationCompleted(site=site, generation=2, total=600, added=300,
                                                           changed=300, removed=100, duration_s=1))
        assert projector.wait_until(pos, 30)
        n = len(seen)
        while len(seen) < n + 20:
            time.sleep(0.001)
        stop.set()
        t.join(10)
    finally:
        projector.stop()
    assert not errors, errors
    old, new = (400, 1, 1, 1, 400), (600, 2, 2, 2, 600)
    assert set(seen) <= {old, new}, {s for s in seen if s not in (old, new)}
    assert seen[0] == old and seen[-1] == new
    first_new = seen.index(new)
    assert all(s == new for s in seen[first_new:]), "went back to the old generation after the switch"


# --- schema version change ------------------------------------------------------------------------------
def test_schema_version_change_rebuilds_from_the_journal(tmp_path: Path, journal: Journal,
                                                         scenario: Scenario) -> None:
    head = write(journal, scenario.events)
    base = tmp_path / "catalog.db"
    projector = Projector(journal, base, CatalogProjection())
    drain(projector)
    projector.stop()
    good = file_hash(base, CatalogProjection())
    conn = open_connection(base)
    with conn:
        conn.execute("INSERT INTO titles (site, slug, title, norm_title, path, media_type, listing_hash, generation,"
                     " first_seen_at) VALUES ('x', 'stale-marker', 't', 't', '/', 'series', 'h', 1, 0)")
        conn.execute("UPDATE projection_meta SET value = '0' WHERE key = 'schema_version'")
    conn.close()

    projector = Projector(journal, base, CatalogProjection())  # reopening notices the old schema version
    assert projector.checkpoint == 0
    drain(projector)
    projector.stop()
    assert query(base, "SELECT value FROM projection_meta WHERE key = 'schema_version'") == [
        (str(CATALOG_SCHEMA_VERSION),)]
    assert query(base, "SELECT count(*) FROM titles WHERE slug = 'stale-marker'") == [(0,)]
    assert query(base, "SELECT value FROM projection_meta WHERE key = 'checkpoint'") == [(str(head),)]
    assert file_hash(base, CatalogProjection()) == good


# --- following a swapped-in file -----------------------------------------------------------------------
def test_projector_follows_a_swap_and_never_publishes_a_lower_checkpoint(tmp_path: Path, journal: Journal,
                                                                         scenario: Scenario) -> None:
    events = scenario.events
    write(journal, events[: len(events) // 2])
    base = tmp_path / "catalog.db"
    # a rebuilt file that is behind what the live projector already applied
    rebuilt = rebuild(journal, base, CatalogProjection(), swap=False)
    write(journal, events[len(events) // 2:])
    projector = Projector(journal, base, CatalogProjection())
    drain(projector)
    published = projector.checkpoint
    assert published == journal.head()
    swap_live_file(base, rebuilt.file)
    projector.step()  # moves to the rebuilt file and catches it up before publishing
    assert projector.lag().file == rebuilt.file.name
    assert projector.checkpoint >= published
    drain(projector)
    projector.stop()
    assert live_file(base) == rebuilt.file
    assert file_hash(rebuilt.file, CatalogProjection()) == file_hash(base, CatalogProjection())
    fresh = rebuild(journal, tmp_path / "fresh.db", CatalogProjection(), swap=False)
    assert file_hash(rebuilt.file, CatalogProjection()) == fresh.content_hash


# --- two writers on one file ----------------------------------------------------------------------------
_SECOND_WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from anibridge.events import Journal
    from anibridge.projections import projector as P
    from anibridge.projections.catalog import CatalogProjection

    P.BATCH = 5
    journal = Journal(Path(sys.argv[1]))
    p = P.Projector(journal, Path(sys.argv[2]), CatalogProjection())
    while p.step():
        pass
    print(p.checkpoint, p.error or "ok")
""")


def test_two_processes_following_one_file_apply_each_event_once(tmp_path: Path, journal: Journal,
                                                                 scenario: Scenario) -> None:
    """A CLI crawl's projector beside the server's: write locks are taken before the checkpoint is read."""
    head = write(journal, scenario.events)
    base = tmp_path / "catalog.db"
    open_projection(base, CatalogProjection()).close()
    procs = [subprocess.Popen([sys.executable, "-c", _SECOND_WRITER, str(journal.path), str(base)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
             for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.split() == [str(head), "ok"]
    clean = rebuild(journal, tmp_path / "clean.db", CatalogProjection(), swap=False)
    assert file_hash(base, CatalogProjection()) == clean.content_hash


def test_apply_batch_rolls_back_rows_and_checkpoint_together(tmp_path: Path, journal: Journal) -> None:
    from anibridge.projections.projector import apply_batch

    rng = random.Random(9)
    journal.append([TitlesGenerationStarted(site="s.to", generation=1, url="u"),
                    *(upsert("s.to", 1, k, rng) for k in range(10))])
    conn = open_projection(tmp_path / "catalog.db", CatalogProjection())
    events = list(journal.read())

    class Exploding(CatalogProjection):
        def apply_many(self, c: apsw.Connection, evs: Iterable[StoredEvent]) -> None:
            evs = list(evs)
            super().apply_many(c, evs)  # everything written, then a failure before the commit
            if any(ev.position == 7 for ev in evs):
                raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        apply_batch(conn, Exploding(), events)
    assert read_checkpoint(conn)[0] == 0
    assert conn.execute("SELECT count(*) FROM pending_titles").fetchone()[0] == 0
    assert apply_batch(conn, CatalogProjection(), events)[0] == events[-1].position
    assert apply_batch(conn, CatalogProjection(), events)[0] == events[-1].position  # already applied: no-op
    assert conn.execute("SELECT count(*) FROM pending_titles").fetchone()[0] == 10
    conn.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_content_hash_is_stable_across_processes(tmp_path: Path, journal: Journal, scenario: Scenario) -> None:
    write(journal, scenario.events)
    a = rebuild(journal, tmp_path / "a.db", CatalogProjection(), swap=False)
    code = ("import sys; from pathlib import Path; from anibridge.events import Journal;"
            "from anibridge.projections.replay import rebuild; from anibridge.projections.catalog import "
            "CatalogProjection; j = Journal(Path(sys.argv[1]));"
            "print(rebuild(j, Path(sys.argv[2]), CatalogProjection(), swap=False).content_hash); j.close()")
    out = subprocess.run([sys.executable, "-c", code, str(journal.path), str(tmp_path / "b.db")], check=True,
                         capture_output=True, text=True, cwd=REPO).stdout.strip()
    assert out == a.content_hash
