"""Everything a running AniBridge owns: journal, projectors, readers, crawl scheduler, downloads.

``anibridge serve`` builds one Runtime and hands it to the FastAPI app; tests build their own
against a temporary DATA_DIR.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from .config import Settings
from .crawlers.domains import MegakinoDomain
from .datalock import DataDirLock
from .events import Journal
from .projections.catalog import CatalogProjection
from .projections.process import ProjectorProcess
from .projections.projector import Projector
from .projections.queries import CatalogQueries
from .projections.reader import ProjectionReader
from .projections.replay import rebuild_if_stale
from .projections.tasks import TaskProjection

log = logging.getLogger("anibridge")


@dataclass
class Runtime:
    settings: Settings
    crawl: bool = True
    downloads: bool = True
    started_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        s.downloads_path.mkdir(parents=True, exist_ok=True)
        # One server per data folder (DataDirBusy names the one in the way); released by stop(), or by
        # the kernel however this process ends.
        self._lock = DataDirLock(s.data_dir).acquire()
        try:
            # Opening checks the journal's end (JournalDamaged); projections built from another history
            # (an older journal put in place) are rebuilt before anything is served from them.
            self.journal = Journal(s.journal_path)
            try:
                rebuild_if_stale(self.journal, s.catalog_path, CatalogProjection())
                rebuild_if_stale(self.journal, s.tasks_path, TaskProjection())
            except BaseException:
                self.journal.close()
                raise
        except BaseException:
            self._lock.release()
            raise
        self.catalog_projector: Projector | ProjectorProcess
        if s.catalog_projector_process:
            self.catalog_projector = ProjectorProcess(self.journal, s.catalog_path, CatalogProjection(), s.log_level)
        else:
            self.catalog_projector = Projector(self.journal, s.catalog_path, CatalogProjection())
        self.task_projector = Projector(self.journal, s.tasks_path, TaskProjection())
        self.catalog = CatalogQueries(ProjectionReader(s.catalog_path))
        self.tasks_reader = ProjectionReader(s.tasks_path)
        from .strm.links import LinkCache

        self.strm_links = LinkCache(s.strm_proxy_cache_ttl_seconds)
        self.megakino = MegakinoDomain(s)
        self.scheduler = None
        self.worker = None
        self._started = False

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self.catalog_projector.start()
        self.task_projector.start()
        log.info("AniBridge data in %s (journal head %d); downloads go to %s", self.settings.data_dir.resolve(),
                 self.journal.head(), self.settings.downloads_path.resolve())
        for warning in self.settings.dropped_settings:
            log.warning(warning)
        if self.downloads:
            try:
                from .downloads.worker import DownloadWorker
            except ModuleNotFoundError:
                log.warning("download worker not available in this build")
            else:
                self.worker = DownloadWorker(self)
                self.worker.start()
        if self.crawl and "megakino" in self.settings.sites:
            self.megakino.start()  # before the first crawl: it needs this week's domain
        if self.crawl and self.settings.sites:
            from .crawlers.scheduler import CrawlScheduler

            self.scheduler = CrawlScheduler(self)
            self.scheduler.start()

    def stop(self) -> None:
        self.megakino.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.worker is not None:
            self.worker.stop()
        self.catalog_projector.stop()
        self.task_projector.stop()
        self.catalog.reader.close()
        self.tasks_reader.close()
        self.journal.close()
        self._lock.release()
        self._started = False

    def projectors(self) -> list[Projector | ProjectorProcess]:
        return [self.catalog_projector, self.task_projector]
