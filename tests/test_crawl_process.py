"""Scheduled crawls run in a niced child process: the server's interpreter lock and CPU stay with
requests. The child appends to the journal and reads the catalogue the server projects; it is gone
when the crawl ends, when the server stops, and when the server is killed with -9. Real processes,
a real provider world over loopback."""

from __future__ import annotations

import os
import textwrap
import threading
import time
from pathlib import Path

import pytest
from processes import alive, child_gone_after_parent_killed, open_fds_settled

from anibridge.devworld.testing import running_world
from anibridge.testing import running_anibridge, settings_for, world_env

REPO = Path(__file__).resolve().parent.parent


def _wait(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


# Every megakino page answers 0.3 s late: the crawl lasts long enough to be looked at.
SLOW = [{"site": "megakino", "path": ".*", "mode": "latency", "seconds": 0.3}]


def test_scheduled_crawl_runs_in_a_niced_child_and_fills_the_catalogue(tmp_path: Path) -> None:
    with running_world(seed=3, titles=6, faults=SLOW) as world, running_anibridge(
            tmp_path, crawl=True, downloads=False, CATALOG_SITES="megakino", CRAWL_NICE="7", **world_env(world)) as h:
        scheduler = h.runtime.scheduler
        assert scheduler is not None
        _wait(lambda: "megakino" in scheduler._children, 20, "no crawl process was started")
        pid = scheduler._children["megakino"].process.pid
        assert pid is not None and pid != os.getpid()
        server_nice = os.getpriority(os.PRIO_PROCESS, 0)
        _wait(lambda: os.getpriority(os.PRIO_PROCESS, pid) == min(19, server_nice + 7), 10,
              "the crawl process did not lower its priority")
        assert os.getpriority(os.PRIO_PROCESS, 0) == server_nice  # the server's own priority is untouched
        _wait(lambda: not scheduler.is_running("megakino"), 120, "the crawl did not finish")
        assert not alive(pid)
        catalog = h.runtime.catalog
        assert catalog.titles_ready("megakino")
        status = catalog.stage_status()["megakino"]
        assert status["details"]["state"] == "ready" and status["canonical"]["state"] in ("ready", "failed")
        assert catalog.counts("megakino")["with_details"] == catalog.counts("megakino")["titles"] > 0


def test_stopping_the_server_mid_crawl_stops_the_child_and_the_next_start_finishes(tmp_path: Path) -> None:
    with running_world(seed=3, titles=6, faults=SLOW) as world:
        env = {"CATALOG_SITES": "megakino", **world_env(world)}
        with running_anibridge(tmp_path, crawl=True, downloads=False, **env) as h:
            scheduler = h.runtime.scheduler
            assert scheduler is not None
            _wait(lambda: "megakino" in scheduler._children, 20, "no crawl process was started")
            pid = scheduler._children["megakino"].process.pid
            assert pid is not None
            _wait(lambda: h.runtime.journal.head() > 0, 20, "the crawl appended nothing")
        assert not alive(pid), "the crawl process outlived the server"
        world.clear_faults()
        with running_anibridge(tmp_path, crawl=True, downloads=False, **env) as h:
            catalog = h.runtime.catalog
            _wait(lambda: catalog.titles_ready("megakino") and catalog.stage_status()["megakino"].get(
                "details", {}).get("state") == "ready", 120, "the restarted crawl did not finish")
            assert catalog.counts("megakino")["titles"] > 0


_SERVER = textwrap.dedent("""
    import pickle, sys, time
    from anibridge.crawlers.process import CrawlProcess
    from anibridge.events import Journal
    from anibridge.projections.catalog import CatalogProjection
    from anibridge.projections.projector import Projector
    settings = pickle.loads(bytes.fromhex(sys.argv[1]))
    Projector(Journal(settings.journal_path), settings.catalog_path, CatalogProjection()).start()
    crawl = CrawlProcess(settings, "megakino")
    print(crawl.process.pid, flush=True)
    time.sleep(600)
""")


def test_crawl_child_exits_when_its_server_is_killed(tmp_path: Path) -> None:
    import pickle

    with running_world(seed=3, titles=6, faults=SLOW) as world:
        settings = settings_for(tmp_path, CATALOG_SITES="megakino", **world_env(world))
        assert child_gone_after_parent_killed(_SERVER, pickle.dumps(settings).hex(), cwd=REPO), \
            "the crawl process outlived its server"


def test_a_crawl_stopped_while_waited_for_ends_once_and_leaves_no_files_open(tmp_path: Path) -> None:
    """The scheduler's worker thread waits for the crawl while stop() ends it from another thread: both
    wake when the child exits, and its pipe and process object are closed once (a second close of a
    descriptor number closes whatever reused it), not left open."""
    from anibridge.crawlers.process import CrawlProcess
    from anibridge.events import Journal
    from anibridge.projections.catalog import CatalogProjection
    from anibridge.projections.projector import Projector

    with running_world(seed=3, titles=6, faults=SLOW) as world:
        settings = settings_for(tmp_path, CATALOG_SITES="megakino", **world_env(world))
        journal = Journal(settings.journal_path)
        projector = Projector(journal, settings.catalog_path, CatalogProjection())  # the catalogue the child reads
        projector.start()
        counts = []
        for _ in range(3):
            crawl = CrawlProcess(settings, "megakino")
            codes: list[int | None] = []
            waiter = threading.Thread(target=lambda c=crawl, out=codes: out.append(c.wait()))
            waiter.start()
            time.sleep(0.3)
            crawl.stop()
            waiter.join(15)
            assert codes == [-15]  # SIGTERM, seen alike by the waiter
            crawl.stop()  # again: nothing left to do
            assert crawl.wait() == -15
            # (the world closes its side of the killed crawl's connections a moment later)
            counts.append(open_fds_settled(below=counts[0] + 1 if counts else None))
        projector.stop()
        journal.close()
        # (the first crawl may start multiprocessing's fork server, which stays)
        assert counts[1:] == [counts[0]] * 2, f"open files after each crawl: {counts}"


def test_crawl_process_off_crawls_in_the_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from anibridge.crawlers import scheduler as scheduler_module

    children: list[str] = []
    monkeypatch.setattr(scheduler_module, "CrawlProcess", lambda settings, site: children.append(site))
    with running_world(seed=3, titles=4) as world, running_anibridge(
            tmp_path, crawl=True, downloads=False, CATALOG_SITES="megakino", CRAWL_PROCESS="false",
            **world_env(world)) as h:
        scheduler = h.runtime.scheduler
        assert scheduler is not None
        catalog = h.runtime.catalog
        _wait(lambda: bool(children) or (catalog.titles_ready("megakino") and not scheduler.is_running("megakino")),
              60, "the in-process crawl did not finish")
        assert children == []  # no crawl process was asked for
        assert catalog.counts("megakino")["with_details"] == catalog.counts("megakino")["titles"] > 0
