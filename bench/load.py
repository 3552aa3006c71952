"""Load: 64 Torznab clients and 3 "Sonarr instances" against ``anibridge serve`` while a full crawl runs.

    .venv/bin/python bench/load.py [--clients 64] [--sonarrs 3] [--titles 150] [--max-seconds 300]

A local provider world (with a little latency per page) runs in this process; ``anibridge serve``
runs as a subprocess on a fresh DATA_DIR, so its first full crawl starts at once. Meanwhile:

- ``--clients`` Torznab clients loop over caps, RSS probes, ``search``, ``tvsearch`` (with season /
  episode / tvdbid) and ``movie`` requests for titles the world really has;
- ``--sonarrs`` qBittorrent pollers call ``torrents/info`` and ``sync/maindata`` (with ``rid``)
  every second and add a magnet every few seconds, remembering every add answered ``Ok.``.

The run ends when the crawl is complete (``/health/catalog`` ready) and the clients did at least
``--min-seconds``, or at ``--max-seconds``. It prints requests sent, errors by kind, p50/p99 and
fails (exit 1) on any 5xx other than Torznab's documented 503 "initializing", or any lost task.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

try:
    from bench._common import percentile, print_table
    from bench.crash import API, SITE_NAMES, btih, catalog_ready, server_env, start_server, world_magnets
except ImportError:  # run as a script: bench/ is on sys.path
    from _common import percentile, print_table  # type: ignore[no-redef]
    from crash import (  # type: ignore[no-redef]
        API,
        SITE_NAMES,
        btih,
        catalog_ready,
        server_env,
        start_server,
        world_magnets,
    )

from anibridge.devworld.testing import RunningWorld, running_world
from anibridge.testing import free_port


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    acknowledged: set[str] = field(default_factory=set)

    def record(self, kind: str, started: float, response: httpx.Response | None, error: str | None = None) -> None:
        self.sent += 1
        if response is not None:
            self.latencies[kind].append(time.perf_counter() - started)
            self.statuses[(kind, response.status_code)] += 1
            if response.status_code >= 400:
                self.errors[f"{kind} HTTP {response.status_code}"] += 1
        else:
            self.errors[f"{kind} {error}"] += 1

    def server_errors(self) -> dict[str, int]:
        """5xx answers except the documented Torznab 503 while the catalogue initializes."""
        return {f"{kind} {code}": n for (kind, code), n in self.statuses.items()
                if code >= 500 and not (code == 503 and kind.startswith("torznab"))}


def torznab_queries(world: RunningWorld, rng: random.Random) -> list[tuple[str, dict[str, str]]]:
    out: list[tuple[str, dict[str, str]]] = [("torznab caps", {"t": "caps"}),
                                             ("torznab rss", {"t": "tvsearch", "cat": "5000,5070", "extended": "1"}),
                                             ("torznab rss", {"t": "search", "extended": "1"})]
    for dev_site in SITE_NAMES:
        for entry in world.world.entries(dev_site)[:40]:
            if dev_site == "megakino":
                out.append(("torznab movie", {"t": "movie", "q": entry.title}))
                continue
            out.append(("torznab search", {"t": "search", "q": entry.title}))
            out.append(("torznab tvsearch", {"t": "tvsearch", "q": entry.title, "season": "1",
                                             "ep": str(rng.randint(1, 12))}))
            truth = world.truth(dev_site, entry.slug) or {}
            if truth.get("tvdb_id"):
                out.append(("torznab tvdbid", {"t": "tvsearch", "tvdbid": str(truth["tvdb_id"]), "season": "1"}))
    return out


async def torznab_client(base: str, queries: list[tuple[str, dict[str, str]]], stats: Stats, stop: asyncio.Event,
                         rng: random.Random) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while not stop.is_set():
            kind, params = rng.choice(queries)
            params = params | {"limit": "100", "offset": str(rng.choice((0, 0, 0, 100)))}
            started = time.perf_counter()
            try:
                r = await client.get("/torznab/api", params=params)
            except httpx.HTTPError as exc:
                stats.record(kind, started, None, type(exc).__name__)
                continue
            stats.record(kind, started, r)


async def sonarr(base: str, magnets: list[str], stats: Stats, stop: asyncio.Event, rng: random.Random) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        rid, tick = 0, 0
        while not stop.is_set():
            tick += 1
            calls: list[tuple[str, str, dict[str, str]]] = [
                ("qbit torrents/info", f"{API}/torrents/info", {"category": "tv-sonarr"}),
                ("qbit sync/maindata", f"{API}/sync/maindata", {"rid": str(rid)}),
            ]
            if tick % 3 == 0 and magnets:
                calls.append(("qbit torrents/add", f"{API}/torrents/add", {"urls": magnets.pop(),
                                                                           "category": "tv-sonarr"}))
            for kind, path, data in calls:
                started = time.perf_counter()
                try:
                    r = await client.post(path, data=data)
                except httpx.HTTPError as exc:
                    stats.record(kind, started, None, type(exc).__name__)
                    continue
                stats.record(kind, started, r)
                if kind == "qbit sync/maindata" and r.status_code == 200:
                    rid = int(r.json().get("rid", 0))
                if kind == "qbit torrents/add" and r.text == "Ok.":
                    stats.acknowledged.add(btih(data["urls"]))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=rng.uniform(0.9, 1.1))


async def drive(base: str, world: RunningWorld, *, clients: int, sonarrs: int, min_seconds: float,
                max_seconds: float, seed: int) -> tuple[Stats, float, bool]:
    rng = random.Random(seed)
    stats = Stats()
    stop = asyncio.Event()
    queries = torznab_queries(world, rng)
    magnets = world_magnets(world, 40 * sonarrs, rng)
    shares = [magnets[i::sonarrs] for i in range(sonarrs)]
    tasks = [asyncio.create_task(torznab_client(base, queries, stats, stop, random.Random(seed + i)))
             for i in range(clients)]
    tasks += [asyncio.create_task(sonarr(base, shares[i], stats, stop, random.Random(seed * 100 + i)))
              for i in range(sonarrs)]
    started = time.monotonic()
    ready = False
    while time.monotonic() - started < max_seconds:
        await asyncio.sleep(1.0)
        ready = await asyncio.to_thread(catalog_ready, base)
        if ready and time.monotonic() - started >= min_seconds:
            break
    stop.set()
    await asyncio.gather(*tasks)
    return stats, time.monotonic() - started, ready


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=64, help="concurrent Torznab clients")
    parser.add_argument("--sonarrs", type=int, default=3, help="qBittorrent pollers")
    parser.add_argument("--titles", type=int, default=150, help="titles per site in the provider world")
    parser.add_argument("--latency", type=float, default=0.05, help="added to every provider response (s)")
    parser.add_argument("--min-seconds", type=float, default=20.0)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", help="work directory (default: a temporary one, removed afterwards)")
    args = parser.parse_args(argv)

    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="anibridge-load-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        with running_world(seed=args.seed, titles=args.titles) as world:
            world.set_faults([{"mode": "latency", "site": "*", "seconds": args.latency}])
            env = server_env(work / "data", world, free_port(), LOG_LEVEL="WARNING")
            server = start_server(env, work / "serve.log")
            try:
                stats, seconds, ready = asyncio.run(drive(
                    server.base, world, clients=args.clients, sonarrs=args.sonarrs, min_seconds=args.min_seconds,
                    max_seconds=args.max_seconds, seed=args.seed))
                tasks = httpx.get(f"{server.base}{API}/torrents/info", timeout=60).json()
                alive = httpx.get(f"{server.base}/health", timeout=10).status_code == 200
            finally:
                server.stop()
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)

    lost = sorted(stats.acknowledged - {t["hash"].lower() for t in tasks})
    rows = []
    for kind in sorted(stats.latencies):
        lat = stats.latencies[kind]
        rows.append([kind, str(len(lat)), percentile(lat, 50) * 1000, percentile(lat, 99) * 1000, max(lat) * 1000])
    all_lat = [v for lat in stats.latencies.values() for v in lat]
    if all_lat:
        rows.append(["ALL", str(len(all_lat)), percentile(all_lat, 50) * 1000, percentile(all_lat, 99) * 1000,
                     max(all_lat) * 1000])
    print()
    print_table(["request", "answered", "p50 ms", "p99 ms", "max ms"], rows,
                title=f"{args.clients} Torznab clients + {args.sonarrs} Sonarr pollers, {seconds:.0f} s,"
                      f" crawl {'complete' if ready else 'NOT complete'}")
    print()
    print(f"requests sent:           {stats.sent} ({stats.sent / seconds:.0f}/s)")
    print("errors by kind:          " + (", ".join(f"{k}: {n}" for k, n in sorted(stats.errors.items())) or "none"))
    server_errors = stats.server_errors()
    print("5xx besides Torznab 503: " + (", ".join(f"{k}: {n}" for k, n in server_errors.items()) or "0"))
    print(f"adds acknowledged:       {len(stats.acknowledged)}; lost tasks: {len(lost)}")
    print(f"server alive at the end: {alive}")
    ok = not server_errors and not lost and alive
    print("RESULT: " + ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
