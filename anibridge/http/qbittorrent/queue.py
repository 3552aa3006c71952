"""torrents/topPrio, bottomPrio, increasePrio, decreasePrio and setForceStart: the download queue
(downloads/queue.py). Sonarr and Radarr call topPrio after a grab when its priority is "First", and
setForceStart when the client's initial state is "Force Start"."""

from __future__ import annotations

from ...downloads import queue
from ...downloads import tasks as cmd
from ...downloads.tasks import CommandError
from .plumbing import Call, endpoint


def _hashes(call: Call) -> list[cmd.TaskRow]:
    if not call.get("hashes").strip():
        raise CommandError(400, "Missing parameter: hashes")  # qBittorrent's requireParams
    return cmd.select(call.runtime, call.get("hashes"))


def _mover(name: str, where: queue.Move) -> None:
    def handler(call: Call) -> None:
        queue.move(call.runtime, _hashes(call), where)

    handler.__name__ = f"torrents_{name}"
    endpoint(f"torrents/{name}", write=True)(handler)


for _name, _where in (("topPrio", "top"), ("bottomPrio", "bottom"), ("increasePrio", "up"),
                      ("decreasePrio", "down")):
    _mover(_name, _where)  # type: ignore[arg-type]


@endpoint("torrents/setForceStart", write=True)
def torrents_set_force_start(call: Call) -> None:
    if not call.get("value").strip():
        raise CommandError(400, "Missing parameter: value")
    queue.set_force_start(call.runtime, _hashes(call), call.flag("value"))
