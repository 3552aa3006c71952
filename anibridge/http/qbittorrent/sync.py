"""transfer/info and sync/maindata (with rid deltas, as qBittorrent's WebUI polls)."""

from __future__ import annotations

import shutil
import threading
from collections import OrderedDict
from typing import Any

from ...downloads import tasks as cmd
from ...downloads.tasks import CommandError
from ...runtime import Runtime
from .plumbing import Call, app_state, endpoint
from .torrents import infos, sees_failure_markers


def _server_state(runtime: Runtime, items: list[dict[str, Any]]) -> dict[str, Any]:
    try:
        free = shutil.disk_usage(cmd.local_root(runtime)).free
    except OSError:
        free = 0
    return {"connection_status": "connected", "dl_info_speed": sum(t["dlspeed"] for t in items),
            "dl_info_data": sum(t["downloaded"] for t in items), "up_info_speed": 0, "up_info_data": 0,
            "dl_rate_limit": 0, "up_rate_limit": 0, "dht_nodes": 0, "free_space_on_disk": free,
            "queueing": True, "use_alt_speed_limits": False, "refresh_interval": 1500}


@endpoint("transfer/info")
def transfer_info(call: Call) -> dict[str, Any]:
    state = _server_state(call.runtime, infos(call.runtime))
    return {k: state[k] for k in ("connection_status", "dl_info_speed", "dl_info_data", "up_info_speed",
                                  "up_info_data", "dl_rate_limit", "up_rate_limit", "dht_nodes")}


class SyncHistory:
    """Recent ``sync/maindata`` snapshots by rid, so clients get deltas as from qBittorrent."""

    def __init__(self, keep: int = 32) -> None:
        self._snapshots: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._rid = 0
        self._keep = keep
        self._lock = threading.Lock()

    def record(self, snapshot: dict[str, Any]) -> int:
        """Store ``snapshot``; returns its rid."""
        with self._lock:
            self._rid += 1
            self._snapshots[self._rid] = snapshot
            while len(self._snapshots) > self._keep:
                self._snapshots.popitem(last=False)
            return self._rid

    def get(self, rid: int) -> dict[str, Any] | None:
        with self._lock:
            return self._snapshots.get(rid)


def _diff(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    changed: dict[str, Any] = {}
    for key, value in new.items():
        before = old.get(key)
        if before is None:
            changed[key] = value
        else:
            delta = {k: v for k, v in value.items() if before.get(k) != v}
            if delta:
                changed[key] = delta
    return changed, [key for key in old if key not in new]


@endpoint("sync/maindata")
def sync_maindata(call: Call) -> dict[str, Any]:
    items = infos(call.runtime, sees_failure_markers(call))
    snapshot = {
        "torrents": {t["hash"]: {k: v for k, v in t.items() if k != "hash"} for t in items},
        "categories": {n: {"name": n, "savePath": p} for n, p in cmd.categories(call.runtime).items()},
        "server_state": _server_state(call.runtime, items),
    }
    history: SyncHistory = app_state(call.request, "qbit_sync", SyncHistory)
    previous = history.get(call.integer("rid", 0))
    rid = history.record(snapshot)
    if previous is None:
        tags = sorted({x.strip() for t in items for x in t["tags"].split(",") if x.strip()})
        return {"rid": rid, "full_update": True, **snapshot, "tags": tags, "trackers": {}}
    torrents, removed = _diff(previous["torrents"], snapshot["torrents"])
    cats, cats_removed = _diff(previous["categories"], snapshot["categories"])
    server = {k: v for k, v in snapshot["server_state"].items() if previous["server_state"].get(k) != v}
    answer: dict[str, Any] = {"rid": rid, "full_update": False}
    for key, value in (("torrents", torrents), ("torrents_removed", removed), ("categories", cats),
                       ("categories_removed", cats_removed), ("server_state", server)):
        if value:
            answer[key] = value
    return answer


@endpoint("sync/torrentPeers")
def sync_torrent_peers(call: Call) -> Any:
    """No BitTorrent peers: always a full, empty update (404 for an unknown hash, as qBittorrent)."""
    if cmd.get_task(call.runtime, call.get("hash").strip()) is None:
        raise CommandError(404, "Not Found")
    return {"rid": call.integer("rid", 0) + 1, "full_update": True, "show_flags": True, "peers": {}}
