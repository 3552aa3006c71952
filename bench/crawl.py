"""Crawl throughput: titles + details of an AniWorld-shaped site, 1,200 and 12,000 titles side by side.

    .venv/bin/python bench/crawl.py [--sizes 1200,12000] [--episodes 10] [--concurrency 8]

Per size, the provider world runs in its own process (``python -m anibridge.devworld``, so its memory
and CPU are not the crawler's) and the crawl runs in a fresh child process (this file with
``--child``: journal + catalogue projector + StageRunner, exactly what ``anibridge crawl`` runs), so
peak RSS is per size. A third measurement fetches pages from the world with a bare httpx client and
no parsing, to show how fast the world itself can serve (the ceiling for any crawler).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

try:
    from bench._common import peak_rss_mb, print_table, rate
except ImportError:  # run as a script: bench/ is on sys.path
    from _common import peak_rss_mb, print_table, rate  # type: ignore[no-redef]

TARGET_PAGES_S = 300.0
TARGET_RSS_MB = 200.0
ROOT = Path(__file__).resolve().parent.parent


# --- child: one crawl, measured -------------------------------------------------------------------
def child(base: str, data_dir: Path, concurrency: int) -> dict[str, Any]:
    from anibridge.config import load_settings
    from anibridge.crawlers.scheduler import crawl_site
    from anibridge.crawlers.stages import StageRunner
    from anibridge.events import Journal
    from anibridge.projections.catalog import CatalogProjection
    from anibridge.projections.projector import Projector
    from anibridge.projections.queries import CatalogQueries
    from anibridge.projections.reader import ProjectionReader

    settings = load_settings({"DATA_DIR": str(data_dir), "ANIWORLD_BASE_URL": base, "LOG_LEVEL": "WARNING",
                              "CRAWL_CONCURRENCY": str(concurrency)})
    journal = Journal(settings.journal_path)
    projector = Projector(journal, settings.catalog_path, CatalogProjection())
    projector.start()
    runner = StageRunner(settings, journal, projector, CatalogQueries(ProjectionReader(settings.catalog_path)))
    import resource

    started = time.perf_counter()
    results = asyncio.run(crawl_site(runner, "aniworld.to", ("titles", "details")))
    crawl_s = time.perf_counter() - started
    projector.wait_until(journal.head(), 600)
    total_s = time.perf_counter() - started
    counts = runner.queries.counts("aniworld.to")
    head = journal.head()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    projector.stop()
    journal.close()
    return {
        "ok": all(r.ok for r in results),
        "pages": sum(r.fetch.get("requests", 0) for r in results),
        "retries": sum(r.fetch.get("retries", 0) for r in results),
        "events": head,
        "crawl_s": crawl_s,
        "wall_s": total_s,
        "titles": counts["titles"],
        "episodes": counts["episodes"],
        "peak_rss_mb": peak_rss_mb(),
        "cpu_s": usage.ru_utime + usage.ru_stime,  # all threads: event loop, journal appender, projector
    }


# --- world speed alone ----------------------------------------------------------------------------
async def world_speed(base: str, seconds: float, concurrency: int) -> float:
    """Pages/s the world serves to a bare client (series + season pages, no parsing)."""
    import httpx

    async with httpx.AsyncClient(base_url=base, limits=httpx.Limits(max_connections=concurrency)) as client:
        alphabet = (await client.get("/animes-alphabet")).text
        slugs = [part.split('"', 1)[0] for part in alphabet.split('href="/anime/stream/')[1:200]]
        paths = [p for s in slugs for p in (f"/anime/stream/{s}", f"/anime/stream/{s}/staffel-1")]
        done = 0
        deadline = time.perf_counter() + seconds

        async def worker(k: int) -> None:
            nonlocal done
            i = k
            while time.perf_counter() < deadline:
                (await client.get(paths[i % len(paths)])).raise_for_status()
                done += 1
                i += concurrency

        started = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        return rate(done, time.perf_counter() - started)


# --- parent ---------------------------------------------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_world(titles: int, episodes: float) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "anibridge.devworld", "--port", str(port), "--titles", "10",
         "--sizes", f"aniworld={titles}", "--episodes-per-title", str(episodes)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/_world", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("devworld did not start") from None
            time.sleep(0.1)
    # warm the world's alphabet cache so its one-off build is not timed as crawl time
    urllib.request.urlopen(f"{base}/aniworld/animes-alphabet", timeout=120).read()
    return proc, base


def run_size(titles: int, episodes: float, concurrency: int, world_seconds: float) -> dict[str, Any]:
    proc, base = _start_world(titles, episodes)
    try:
        with tempfile.TemporaryDirectory(prefix="anibridge-bench-crawl-") as tmp:
            out = subprocess.run(
                [sys.executable, __file__, "--child", "--base", f"{base}/aniworld", "--data", tmp,
                 "--concurrency", str(concurrency)],
                cwd=ROOT, capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)})
            if out.returncode != 0:
                raise RuntimeError(f"crawl child failed:\n{out.stderr[-3000:]}")
            result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        result["world_pages_s"] = asyncio.run(world_speed(f"{base}/aniworld", world_seconds, concurrency))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    result["size"] = titles
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1200,12000")
    parser.add_argument("--episodes", type=float, default=10.0, help="mean episodes per title")
    parser.add_argument("--concurrency", type=int, default=8, help="CRAWL_CONCURRENCY for the crawl")
    parser.add_argument("--world-seconds", type=float, default=5.0, help="duration of the world-only probe")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.base, Path(args.data), args.concurrency)))
        return 0
    rows = []
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        r = run_size(size, args.episodes, args.concurrency, args.world_seconds)
        results.append(r)
        rows.append([f"{size:,}", r["pages"], rate(r["pages"], r["crawl_s"]), rate(r["events"], r["wall_s"]),
                     r["wall_s"], r["peak_rss_mb"], 1000 * r["cpu_s"] / max(1, r["pages"]), r["episodes"],
                     r["world_pages_s"], "ok" if r["ok"] else "FAILED"])
    print_table(["titles", "pages", "pages/s", "events/s", "wall s", "peak RSS MB", "CPU ms/page", "episodes",
                 "world-only pages/s", "crawl"], rows,
                title=f"AniWorld-shaped crawl (titles + details), ~{args.episodes:g} episodes/title,"
                      f" CRAWL_CONCURRENCY={args.concurrency}, world in a separate process")
    worst_rate = min(rate(r["pages"], r["crawl_s"]) for r in results)
    rss = [r["peak_rss_mb"] for r in results]
    flat = max(rss) - min(rss)
    print()
    print(f"target pages/s >= {TARGET_PAGES_S:.0f}: worst {worst_rate:,.0f}"
          f" -> {'MET' if worst_rate >= TARGET_PAGES_S else 'MISSED'}")
    print(f"target peak RSS < {TARGET_RSS_MB:.0f} MB: worst {max(rss):.0f} MB"
          f" -> {'MET' if max(rss) < TARGET_RSS_MB else 'MISSED'}")
    print("CPU ms/page is the crawling process's CPU time (all threads) per page: the crawler's own cost,"
          " independent of how busy the machine is; 1000 / (CPU ms/page) is its single-core ceiling in pages/s.")
    print(f"RSS flat across sizes: spread {flat:.0f} MB ({' / '.join(f'{x:.0f}' for x in rss)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
