"""STRM tasks: instead of downloading, write ``<release>/<release>.strm`` holding one playable URL.

STRM_PROXY_MODE=direct: the host's direct link as resolved now (it may expire later).
STRM_PROXY_MODE=proxy: AniBridge's stable ``/strm/stream`` URL, which looks the link up again on
every play; the link found now warms that lookup's cache.
The file is published like a download (staging folder, fsync, rename), so Sonarr imports it at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..strm.auth import signer_of
from ..strm.urls import stream_url
from . import placement
from . import tasks as task_cmds
from .hosts import DirectLink
from .resolve import EpisodeRef

if TYPE_CHECKING:
    from ..runtime import Runtime


def identity_of(task: task_cmds.TaskRow) -> EpisodeRef:
    return EpisodeRef(task.site, task.slug, task.season, task.episode, task.language, task.provider)


def strm_content(runtime: Runtime, task: task_cmds.TaskRow, link: DirectLink) -> str:
    """The one line of the file (with its newline)."""
    settings = runtime.settings
    if settings.strm_proxy_mode == "proxy":
        runtime.strm_links.put(identity_of(task), link)
        url = stream_url(settings.strm_public_base_url, signer_of(settings), identity_of(task))
    else:
        url = link.url
    return url + "\n"


def write_strm(runtime: Runtime, task: task_cmds.TaskRow, name: str, content: str) -> tuple[str, int]:
    """Publish ``<save folder>/<name>/<name>.strm`` (where a download would go); returns its path relative to
    DOWNLOAD_DIR and its size."""
    root = placement.local_root(runtime)
    staging = placement.staging_dir(runtime, task.hash)
    staging.mkdir(parents=True, exist_ok=True)
    tmp: Path = staging / "file.strm"
    data = content.encode("utf-8")
    tmp.write_bytes(data)
    final = placement.publish(runtime, task, task_cmds.folder_parts(runtime, task), name, tmp,
                              lambda: task_cmds.published_paths(runtime, but=task.hash))
    return str(final.relative_to(root)), len(data)
