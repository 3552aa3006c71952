"""The marker file of a failed download (FAILED_DOWNLOAD_MARKER).

Sonarr and Radarr never fail a qBittorrent download by its state: ``error`` is only a warning in their
``QBittorrent.GetItems``. What they do fail is a finished download whose import finds an executable
file, when the indexer's "Fail Downloads" option includes "Executables"
(``DownloadedEpisodesImportService.ProcessFile`` / ``CheckEmptyResultForIssue``, then
``RejectedImportService.Process``): they blocklist the release and search another one. So a release that
cannot be downloaded gets ``<release>/<release>.anibridge-failed.sh`` - a plain-text note, not made
executable, saying what failed - and is shown to them as finished with that file. The blocklist is for
good, so only failures of the release itself get a marker (the worker decides), never passing faults.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from . import placement
from . import tasks as task_cmds

if TYPE_CHECKING:
    from ..runtime import Runtime

MARKER_SUFFIX = ".anibridge-failed.sh"
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\u0080-\u009f\u2028\u2029]+")


def _line(text: str, limit: int = 2000) -> str:
    # One comment line: a newline in a reason or a name must not start a command in the file.
    return _UNPRINTABLE.sub(" ", text).strip()[:limit]


def marker_content(task: task_cmds.TaskRow, reason: str, now: float) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now))
    episode = f"S{task.season:02d}E{task.episode:02d}"
    return "\n".join([
        "#!/bin/sh",
        "# AniBridge could not download this release. This file is not a program: it only tells Sonarr",
        "# or Radarr that the download failed, so that they blocklist the release and search another one",
        "# (their indexer setting \"Fail Downloads\" must include \"Executables\").",
        "#",
        f"# Release: {_line(task.name)}",
        f"# Episode: {_line(task.site)} {_line(task.slug)} {episode} {_line(task.language)}",
        f"# Reason:  {_line(reason)}",
        f"# Failed:  {when}",
        "exit 1",
        "",
    ])


def write_marker(runtime: Runtime, task: task_cmds.TaskRow, name: str, reason: str) -> tuple[str, int]:
    """Publish the marker where the download would have gone; its path relative to DOWNLOAD_DIR and size."""
    root = placement.local_root(runtime)
    staging = placement.staging_dir(runtime, task.hash)
    staging.mkdir(parents=True, exist_ok=True)
    tmp = staging / "failed.marker"
    data = marker_content(task, reason, time.time()).encode("utf-8")
    tmp.write_bytes(data)
    tmp.chmod(0o644)
    final = placement.publish(runtime, task, task_cmds.folder_parts(runtime, task), name, tmp,
                              lambda: task_cmds.published_paths(runtime, but=task.hash), suffix=MARKER_SUFFIX)
    return str(final.relative_to(root)), len(data)
