"""A long-running AniBridge keeps a bounded number of open files: starting and stopping it (tests do it
hundreds of times, a self-hoster's restarts and replays do it too) leaves nothing open, and reading
threads that come and go (the server's worker threads) take their database connections with them.
Counted in /proc/self/fd, with real servers, real child processes and real database files. And a
cancelled download leaves no coroutine behind that was never awaited."""

from __future__ import annotations

import gc
import os
import threading
import warnings
from functools import partial
from pathlib import Path

import httpx
import pytest
from processes import open_fds_settled

from anibridge.devworld.testing import running_world
from anibridge.events import Journal
from anibridge.events.journal import open_connection
from anibridge.projections.reader import ProjectionReader
from anibridge.testing import running_anibridge, world_env


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _use(base_url: str) -> None:
    """Requests that read the journal, the task table and the catalogue from the server's worker threads."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/api/v2/torrents/info").status_code == 200
        assert client.get("/torznab/api", params={"t": "caps"}).status_code == 200


def test_starting_and_stopping_anibridge_again_and_again_leaves_no_files_open(tmp_path: Path) -> None:
    counts: list[int] = []
    for _ in range(5):
        with running_anibridge(tmp_path, downloads=True) as h:
            _use(h.base_url)
        counts.append(open_fds_settled(below=counts[0] + 1 if counts else None))
    # The first cycle may start helpers that stay (multiprocessing's fork server and resource tracker).
    assert counts[1:] == [counts[0]] * 4, f"open files after each start and stop: {counts}"


def test_a_crawling_anibridge_started_and_stopped_again_and_again_leaves_no_files_open(tmp_path: Path) -> None:
    """Each start crawls (a child process, the scheduler's event loop); each stop ends it mid-crawl."""
    with running_world(seed=3, titles=4) as world:
        counts: list[int] = []
        for _ in range(4):
            with running_anibridge(tmp_path, crawl=True, downloads=False, CATALOG_SITES="megakino",
                                   **world_env(world)) as h:
                _use(h.base_url)
            counts.append(open_fds_settled(below=counts[0] + 1 if counts else None))
    assert counts[1:] == [counts[0]] * 3, f"open files after each start and stop: {counts}"


def test_journal_readers_of_threads_that_ended_are_closed(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.db")
    try:
        journal.head()  # this thread's reader (and the shared memory file) open first
        before = open_fds()
        for _ in range(20):  # worker threads of a long-running server come and go
            thread = threading.Thread(target=journal.head)
            thread.start()
            thread.join()
        assert open_fds() <= before + 2, "the journal kept the connections of threads that ended"
    finally:
        journal.close()


def test_projection_reader_close_closes_every_threads_connection(tmp_path: Path) -> None:
    base = tmp_path / "p.db"
    before = open_fds()
    writer = open_connection(base)
    writer.execute("CREATE TABLE t (x INTEGER)")
    writer.execute("INSERT INTO t VALUES (1)")
    reader = ProjectionReader(base)
    opened, release = threading.Barrier(4), threading.Event()

    def read_and_stay() -> None:  # a worker thread that is still alive when the owner stops
        reader.connection().execute("SELECT count(*) FROM t").fetchone()
        opened.wait()
        release.wait(10)

    threads = [threading.Thread(target=read_and_stay) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        opened.wait()
        reader.close()
        # (SQLite keeps a closed connection's file open while another one holds locks on it: the writer)
        writer.close()
        assert open_fds() == before
    finally:
        release.set()
        for t in threads:
            t.join()
    assert reader.connection().execute("SELECT count(*) FROM t").fetchone()[0] == 1  # a read afterwards works
    reader.close()
    assert open_fds() == before


def test_a_download_cancelled_before_its_page_lookup_leaves_no_coroutine_never_awaited() -> None:
    from anibridge.downloads.worker import Cancelled, Job, _Loop, _within

    looked_up: list[str] = []

    async def find_hosters(slug: str) -> list[str]:  # stands in for resolve.find_hosters
        looked_up.append(slug)
        return []

    job = Job(task=None)  # type: ignore[arg-type]  # the task is not looked at before the lookup runs
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with _Loop() as loop:
            assert loop.run(_within(5, partial(find_hosters, "a")), job) == []
            job.cancel.set()  # the job is cancelled while the worker is between two steps
            with pytest.raises(Cancelled):
                loop.run(_within(5, partial(find_hosters, "b")), job)
        gc.collect()
    assert looked_up == ["a"]
    assert not [w for w in seen if "never awaited" in str(w.message)]
