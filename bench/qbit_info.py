"""torrents/info as Sonarr polls it, with many tasks: plain clients against Sonarr (failed tasks shown with
their marker files), side by side in one run.

    .venv/bin/python bench/qbit_info.py [--tasks 2000] [--requests 300] [--legacy]

``--legacy`` records only events AniBridge understood before failure markers and the queue (no marker,
no queue moves). ``--compare-with <old checkout>`` (e.g. ``git worktree add /tmp/old 5ad02b2``) runs the
same legacy workload against that checkout and against this one, side by side.

A fresh DATA_DIR gets ``--tasks`` tasks recorded straight into the journal: a third finished (with their
files), a third failed with a marker file, a third waiting in the queue (some moved, some forced). AniBridge
then serves them on loopback (uvicorn, downloads off) and one client asks ``torrents/info?category=...``
``--requests`` times with each User-Agent. Prints req/s, p50/p99 latency and the answer size.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

try:
    from bench._common import peak_rss_mb, percentile, print_table
except ImportError:  # run as a script: bench/ is on sys.path
    from _common import peak_rss_mb, percentile, print_table  # type: ignore[no-redef]

from anibridge.events import Journal
from anibridge.events.registry import Event
from anibridge.events.types import CategoryCreated, TaskCompleted, TaskFailed, TaskRequested
from anibridge.testing import running_anibridge

AGENTS = {"qbittorrent-api (plain)": "python-requests/2.32", "Sonarr (markers shown)": "Sonarr/4.0.16.2944 (ubuntu)"}


def seed(data: Path, tasks: int, legacy: bool = False) -> None:
    downloads = data / "downloads"
    journal = Journal(data / "journal.db")
    events: list[Event] = [CategoryCreated(name="tv-sonarr", save_path="")]
    for i in range(tasks):
        h = f"{i:040x}"
        name = f"Title.{i}.S01E{1 + i % 24:02d}.WEB.H264.GER-ANIWORLD"
        events.append(TaskRequested(hash=h, site="aniworld.to", slug=f"title-{i}", season=1, episode=1 + i % 24,
                                    language="German Dub", name=name, magnet=f"magnet:?xt=urn:btih:{h}",
                                    category="tv-sonarr", added_on=1_700_000_000 + i))
        kind = i % 3
        if kind == 0:
            path = f"tv-sonarr/{name}/{name}.mkv"
            (downloads / path).parent.mkdir(parents=True, exist_ok=True)
            (downloads / path).write_bytes(b"x" * 64)
            events.append(TaskCompleted(hash=h, path=path, size=64, quality="720p", completed_on=1_700_100_000 + i))
        elif kind == 1 and legacy:
            events.append(TaskFailed(hash=h, reason="every hoster failed"))
        elif kind == 1:
            path = f"tv-sonarr/{name}/{name}.anibridge-failed.sh"
            (downloads / path).parent.mkdir(parents=True, exist_ok=True)
            (downloads / path).write_text("#!/bin/sh\nexit 1\n")
            events.append(TaskFailed(hash=h, reason="every hoster failed", marker_path=path, marker_size=17))
        elif i % 7 == 2 and not legacy:
            from anibridge.events.types import TaskForceStartSet, TaskQueueMoved
            events.append(TaskQueueMoved(hash=h, rank=-float(i)))
            events.append(TaskForceStartSet(hash=h, forced=i % 14 == 2))
    for start in range(0, len(events), 1000):
        journal.append(events[start:start + 1000])
    journal.close()


def measure(base: str, agent: str, requests: int) -> tuple[float, float, float, int]:
    latencies: list[float] = []
    size = 0
    with httpx.Client(base_url=base, timeout=30, headers={"User-Agent": agent}) as client:
        client.get("/api/v2/torrents/info", params={"category": "tv-sonarr"})  # warm-up
        started = time.perf_counter()
        for _ in range(requests):
            t0 = time.perf_counter()
            r = client.get("/api/v2/torrents/info", params={"category": "tv-sonarr"})
            latencies.append(time.perf_counter() - t0)
            r.raise_for_status()
            size = len(r.content)
        elapsed = time.perf_counter() - started
    return requests / elapsed, percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--legacy", action="store_true", help="only events older AniBridge releases know")
    parser.add_argument("--compare-with", metavar="CHECKOUT", help="an older checkout to measure beside this one")
    args = parser.parse_args()
    if args.compare_with:
        base = [sys.executable, __file__, "--tasks", str(args.tasks), "--requests", str(args.requests), "--legacy"]
        for label, path in (("older checkout " + args.compare_with, args.compare_with), ("this checkout", "")):
            print(f"== {label} ==", flush=True)
            env = dict(os.environ, PYTHONPATH=path) if path else dict(os.environ)
            subprocess.run(base, env=env, check=True)
        return
    with tempfile.TemporaryDirectory(prefix="anibridge-qbit-info-") as tmp:
        data = Path(tmp)
        seed(data, args.tasks, args.legacy)
        with running_anibridge(data, downloads=False, CATALOG_ENABLED="false") as h:
            rows = []
            for label, agent in AGENTS.items():
                rps, p50, p99, size = measure(h.base_url, agent, args.requests)
                rows.append([label, f"{rps:,.0f}", f"{p50:.1f}", f"{p99:.1f}", f"{size / 1024:,.0f}"])
    print(f"torrents/info with {args.tasks} tasks ({args.requests} requests each, one client):")
    print_table(["client", "req/s", "p50 ms", "p99 ms", "answer KiB"], rows)
    print(f"peak RSS of this process (server in-process): {peak_rss_mb():.0f} MiB")


if __name__ == "__main__":
    main()
