"""The catalogue projector in a child process: it applies what the server appends, read-your-writes
still holds, it comes back after being killed, and it never outlives a server killed with -9.
Real processes, real journal and projection files."""

from __future__ import annotations

import os
import signal
import textwrap
import time
from pathlib import Path

from journal_factory import catalog_scenario, write
from processes import alive, child_gone_after_parent_killed

from anibridge.events import Journal
from anibridge.events.types import TitlesGenerationCompleted, TitlesGenerationStarted, TitleUpserted
from anibridge.projections import projector as projector_module
from anibridge.projections.catalog import CatalogProjection
from anibridge.projections.process import ProjectorProcess
from anibridge.projections.projector import Projector, catch_up, file_content_hash, live_file, open_projection
from anibridge.projections.tasks import TaskProjection

REPO = Path(__file__).resolve().parent.parent


def _generation(site: str, gen: int, slugs: list[str]) -> list:
    return [TitlesGenerationStarted(site=site, generation=gen, url=f"https://{site}/"),
            *[TitleUpserted(site=site, generation=gen, slug=s, title=s.title(), path=f"/anime/stream/{s}",
                            media_type="series", content_hash=s) for s in slugs],
            TitlesGenerationCompleted(site=site, generation=gen, total=len(slugs), added=len(slugs), changed=0,
                                      removed=0, duration_s=1.0)]


def test_child_applies_appends_and_equals_the_in_process_projector(tmp_path: Path, journal: Journal) -> None:
    scenario = catalog_scenario(titles=60, tasks=0)
    proc = ProjectorProcess(journal, tmp_path / "catalog.db", CatalogProjection())
    proc.start()
    try:
        head = write(journal, scenario.events, batch=200)
        assert proc.wait_until(head, 60), proc.error
        assert proc.checkpoint == head
        lag = proc.lag()
        assert (lag.head, lag.checkpoint, lag.lag_events) == (head, head, 0)
        # read-your-writes for a single fresh append
        pos = journal.append(_generation("aniworld.to", 99, ["late-title"]))[-1]
        assert proc.wait_until(pos, 10)
    finally:
        proc.stop()
    assert proc.error == ""
    reference = Projector(journal, tmp_path / "reference.db", CatalogProjection())
    while reference.step():
        pass
    reference.stop()
    assert file_content_hash(live_file(tmp_path / "catalog.db"), CatalogProjection()) == \
        file_content_hash(tmp_path / "reference.db", CatalogProjection())


def test_killed_child_is_started_again_and_catches_up(tmp_path: Path, journal: Journal) -> None:
    proc = ProjectorProcess(journal, tmp_path / "catalog.db", CatalogProjection())
    proc.start()
    try:
        first = journal.append(_generation("s.to", 1, ["a", "b"]))[-1]
        assert proc.wait_until(first, 30)
        assert proc._process is not None
        old_pid = proc._process.pid
        os.kill(old_pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while "exited" not in proc.error and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "exited with code -9" in proc.error
        later = journal.append(_generation("s.to", 2, ["a", "b", "c"]))[-1]
        assert proc.wait_until(later, 30), proc.error
        assert proc._process.pid != old_pid
        assert proc.error == ""
        pid = proc._process.pid
    finally:
        proc.stop()
    assert not alive(pid)


_SERVER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from anibridge.events import Journal
    from anibridge.projections.catalog import CatalogProjection
    from anibridge.projections.process import ProjectorProcess

    data = Path(sys.argv[1])
    journal = Journal(data / "journal.db")
    proc = ProjectorProcess(journal, data / "catalog.db", CatalogProjection())
    proc.start()
    print(proc._process.pid, flush=True)
    time.sleep(600)
""")


def test_child_exits_when_its_server_is_killed(tmp_path: Path) -> None:
    assert child_gone_after_parent_killed(_SERVER, str(tmp_path), cwd=REPO), "the projector process outlived its server"


def test_a_projector_skips_other_projections_events_in_sqlite(tmp_path: Path, journal: Journal) -> None:
    """The task projection moves past a crawl's catalogue events without reading them one by one, and
    still ends where a projector reading everything ends (same rows, same checkpoint)."""
    scenario = catalog_scenario(titles=600, tasks=6)
    head = write(journal, scenario.events)
    catalogue_only = sum(1 for ev in scenario.events if not type(ev).__name__.startswith(("Task", "Download")))
    assert catalogue_only > 3 * projector_module.BATCH  # reading everything would take more than 3 steps
    tasks = Projector(journal, tmp_path / "tasks.db", TaskProjection())
    steps = 0
    while tasks.step():
        steps += 1
    assert tasks.checkpoint == head and steps <= 2
    last = next(iter(journal.read(after=head - 1)))
    assert tasks.checkpoint_recorded_at == last.recorded_at
    reference = tmp_path / "reference.db"
    conn = open_projection(reference, TaskProjection())
    assert catch_up(journal, conn, TaskProjection()) == head
    conn.close()
    tasks.stop()
    assert file_content_hash(tmp_path / "tasks.db", TaskProjection()) == file_content_hash(reference, TaskProjection())
