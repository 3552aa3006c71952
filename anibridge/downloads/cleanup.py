"""DOWNLOADS_TTL_HOURS: finished downloads (and .strm files) older than the TTL are removed.

Every CLEANUP_SCAN_INTERVAL_MIN the download worker asks ``Cleanup.tick``; completed tasks whose
completion is older than the TTL are deleted like Sonarr deletes them (a ``task.deleted`` event with
``delete_files``, then their files), so the journal says what happened and when.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from . import tasks as task_cmds

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger("anibridge.cleanup")


class Cleanup:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._next = 0.0

    def tick(self, now: float | None = None) -> int:
        """Run when due; returns how many downloads were removed."""
        settings = self.runtime.settings
        if settings.downloads_ttl_hours <= 0:
            return 0
        now = time.time() if now is None else now
        if now < self._next:
            return 0
        self._next = now + settings.cleanup_scan_interval_min * 60
        return self.run(now)

    def run(self, now: float) -> int:
        ttl_s = self.runtime.settings.downloads_ttl_hours * 3600
        expired = [t for t in task_cmds.all_tasks(self.runtime)
                   if (t.status == "completed" or (t.status == "failed" and t.path))  # a failure's marker file
                   and t.completed_on is not None and now - t.completed_on > ttl_s]
        if not expired:
            return 0
        for task in expired:
            log.info("removing %s: finished %.1f h ago, longer than DOWNLOADS_TTL_HOURS=%g", task.name,
                     (now - (task.completed_on or now)) / 3600, self.runtime.settings.downloads_ttl_hours)
        task_cmds.delete(self.runtime, expired, delete_files=True)
        return len(expired)
