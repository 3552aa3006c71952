"""The download queue as qBittorrent's API moves it: topPrio, bottomPrio, increasePrio, decreasePrio and
setForceStart. Waiting downloads start in queue order, at most MAX_CONCURRENCY at once; forced ones start at
once and do not count towards that limit, up to MAX_CONCURRENCY more (Sonarr's "Force Start" forces every
grab: a season search must not start dozens of downloads against the same video hosts). A running download
is never stopped for one moved above it: its progress would be lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from ..events.registry import Event
from ..events.types import TaskForceStartSet, TaskQueueMoved, TaskResumed
from .tasks import TaskRow, commit, download_queue

if TYPE_CHECKING:
    from ..runtime import Runtime

Move = Literal["top", "bottom", "up", "down"]


def reorder(order: list[str], chosen: set[str], move: Move) -> list[str]:
    """The queue after moving the ``chosen`` hashes; they keep their order among themselves."""
    if move == "top":
        return [h for h in order if h in chosen] + [h for h in order if h not in chosen]
    if move == "bottom":
        return [h for h in order if h not in chosen] + [h for h in order if h in chosen]
    result = list(order) if move == "up" else list(reversed(order))
    for i in range(1, len(result)):  # each chosen one passes the one before it, unless that is chosen too
        if result[i] in chosen and result[i - 1] not in chosen:
            result[i - 1], result[i] = result[i], result[i - 1]
    return result if move == "up" else list(reversed(result))


def move(runtime: Runtime, tasks: Iterable[TaskRow], where: Move) -> None:
    """Move downloads in the queue (finished and failed ones have no place in it: ignored, as in qBittorrent)."""
    queue = download_queue(runtime)
    rank = dict(queue)
    chosen = {t.hash for t in tasks} & rank.keys()
    if not chosen:
        return
    new_order = reorder([h for h, _ in queue], chosen, where)
    events: list[Event] = [TaskQueueMoved(hash=h, rank=float(i)) for i, h in enumerate(new_order) if rank[h] != i]
    commit(runtime, events)


def set_force_start(runtime: Runtime, tasks: Iterable[TaskRow], forced: bool) -> None:
    """As qBittorrent's ``start(Forced or AutoManaged)``: a stopped download is started either way."""
    events: list[Event] = []
    for task in tasks:
        if task.paused:
            events.append(TaskResumed(hash=task.hash))  # which also clears forced
        if (task.forced and not task.paused) != forced:
            events.append(TaskForceStartSet(hash=task.hash, forced=forced))
    commit(runtime, events)
