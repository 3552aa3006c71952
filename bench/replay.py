"""Projection throughput: replaying a large catalogue journal into a fresh file, and projector lag.

    .venv/bin/python bench/replay.py [--events 1000000] [--dir DIR] [--lag-seconds 10] [--keep]

1. Generates a journal of ``--events`` catalogue events with the real event models (mostly
   ``titles.upserted`` and ``details.recorded`` with about ten episodes each, three sites, a few
   title generations, some removals and canonical matches), appended in batches via
   ``Journal.append``; prints how long that took.
2. Replays it into a fresh catalog file (``projections.replay.rebuild``, as ``anibridge replay``
   does) in a separate process, so the peak RSS printed is the replay's own; prints events/s,
   wall time (catch-up and content hash separately) and peak RSS.
3. Appends at full speed (a writer thread appending batches continuously) while a projector
   follows, samples ``lag_events`` / ``lag_seconds`` every 50 ms and prints p50/p99/max: once with
   the catalogue projector in a child process (what ``anibridge serve`` runs), once with it as a
   thread of the appending process, and once at a sustained ``--lag-pace``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

from anibridge.events import Journal
from anibridge.events.registry import Event
from anibridge.events.types import (
    CanonicalRunCompleted,
    CanonicalRunStarted,
    DetailsRunCompleted,
    DetailsRunStarted,
    EpisodeInfo,
    EpisodeMapRecorded,
    SeriesMatched,
    TitleDetailsRecorded,
    TitleRemoved,
    TitlesGenerationCompleted,
    TitlesGenerationStarted,
    TitleUpserted,
)

try:
    from bench._common import Stopwatch, peak_child_rss_mb, peak_rss_mb, percentile, print_table, rate
except ImportError:  # run as a script: bench/ is on sys.path
    from _common import Stopwatch, peak_child_rss_mb, peak_rss_mb, percentile, print_table, rate  # type: ignore[no-redef]

TARGET_EVENTS_PER_S = 50_000
TARGET_RSS_MB = 300
TARGET_LAG_P99_S = 1.0
SITES = ("aniworld.to", "s.to", "megakino")
GENERATIONS = 3
APPEND_BATCH = 2000
_WORDS = ("Shingeki", "no", "Kyojin", "Kimetsu", "Yaiba", "Bär", "Straße", "Über", "Café", "Großstadt", "Tōkyō",
          "Ghoul", "Hunter", "One", "Piece", "Naruto", "Dr.", "Stone", "Frieren", "Sousou", "Ränder", "Nacht")
_LANGS = ("German Dub", "German Sub", "English Sub", "English Dub")
_HOSTERS = ("VOE", "Filemoon", "Vidoza", "Streamtape", "Doodstream")


# --- the synthetic catalogue ----------------------------------------------------------------------
def _name(rng: random.Random, k: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 4))) + f" {k}"


def _upsert(site: str, gen: int, k: int, rng: random.Random) -> TitleUpserted:
    name = _name(rng, k)
    movie = site == "megakino"
    return TitleUpserted(site=site, generation=gen, slug=f"title-{k}", title=name,
                         alt_titles=[f"{name} Alt", _name(rng, k)][: rng.randint(0, 2)],
                         path=f"/{'film' if movie else 'anime/stream'}/title-{k}",
                         media_type="movie" if movie else "series",
                         content_hash=f"{zlib.crc32(f'{site}/{k}/{gen}'.encode()):08x}")


def _details(site: str, run: int, k: int, rng: random.Random) -> TitleDetailsRecorded:
    n = rng.randint(6, 14)  # about ten episodes
    eps = [EpisodeInfo(season=1 + i // 12, episode=1 + i % 12, title_de=f"Folge {i + 1}", title_en=f"Episode {i + 1}",
                       languages=list(_LANGS[: 1 + (k + i) % 3]), hosters=list(_HOSTERS[: 1 + (k * 7 + i) % 4]),
                       path=f"/anime/stream/title-{k}/staffel-{1 + i // 12}/episode-{1 + i % 12}")
           for i in range(n)]
    return TitleDetailsRecorded(site=site, run=run, slug=f"title-{k}", content_hash=f"d{run}-{k}",
                                description=f"Beschreibung von Titel {k}", year=1990 + k % 35, episodes=eps)


def site_stream(site: str, titles: int, rng: random.Random) -> Iterator[Event]:
    """One site's crawl history: generation 1 lists everything, later ones change about a third."""
    live: set[int] = set()
    next_k = 0
    for gen in range(1, GENERATIONS + 1):
        yield TitlesGenerationStarted(site=site, generation=gen, url=f"https://{site}/alle")
        if gen == 1:
            upserts, removed = list(range(titles)), []
            next_k = titles
        else:
            ordered = sorted(live)
            upserts = [k for k in ordered if k % 3 == gen % 3] + list(range(next_k, next_k + titles // 50))
            next_k += titles // 50
            removed = [k for k in ordered if k % 97 == gen and k % 3 != gen % 3]
        for k in upserts:
            yield _upsert(site, gen, k, rng)
        for k in removed:
            yield TitleRemoved(site=site, generation=gen, slug=f"title-{k}")
        live = (live | set(upserts)) - set(removed)
        yield TitlesGenerationCompleted(site=site, generation=gen, total=len(live), added=0, changed=len(upserts),
                                        removed=len(removed), duration_s=3.0)
        yield DetailsRunStarted(site=site, run=gen, total=len(upserts))
        for k in upserts:
            yield _details(site, gen, k, rng)
        yield DetailsRunCompleted(site=site, run=gen, done=len(upserts), failed=0, unchanged=0,
                                  changed=len(upserts), duration_s=60.0)
        if site != "megakino":
            yield CanonicalRunStarted(site=site, run=gen, total=len(upserts))
            for k in upserts[::10]:
                yield SeriesMatched(site=site, slug=f"title-{k}", tvdb_id=70000 + k, tvdb_title=f"Series {k}",
                                    confidence=0.9, source="skyhook", reason="title+year")
                yield EpisodeMapRecorded(site=site, slug=f"title-{k}", tvdb_id=70000 + k,
                                         entries=[(1, e, 1, e, e) for e in range(1, 11)])
            yield CanonicalRunCompleted(site=site, run=gen, matched=len(upserts[::10]), unmatched=0, ambiguous=0,
                                        failed=0, duration_s=5.0)


def catalogue(n: int, seed: int = 1) -> Iterator[Event]:
    """Exactly ``n`` events, sites interleaved in chunks of 100 (concurrent crawls)."""
    # per site, events are about 2.2 x titles (gen 1) + 2 x 2 x 0.35 x titles (later gens) + canonical
    titles = max(10, int(n / len(SITES) / 3.8))
    rng = random.Random(seed)
    streams = [site_stream(site, titles, rng) for site in SITES]
    count = 0
    while streams and count < n:
        for it in list(streams):
            for _ in range(100):
                ev = next(it, None)
                if ev is None:
                    streams.remove(it)
                    break
                yield ev
                count += 1
                if count >= n:
                    return
    # the planned history was short: pad with further details runs of the first site
    k = 0
    while count < n:
        yield _details(SITES[0], 99, k % titles, rng)
        k += 1
        count += 1


def generate(journal_path: Path, n: int) -> tuple[int, float]:
    with Journal(journal_path) as journal, Stopwatch() as sw:
        batch: list[Event] = []
        for ev in catalogue(n):
            batch.append(ev)
            if len(batch) >= APPEND_BATCH:
                journal.append(batch)
                batch = []
        if batch:
            journal.append(batch)
        head = journal.head()
    return head, sw.seconds


# --- replay (runs in its own process) ----------------------------------------------------------------
def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def replay_child(journal_path: Path, base: Path) -> None:
    from anibridge.projections.catalog import CatalogProjection
    from anibridge.projections.replay import rebuild

    caught_up: list[tuple[float, float]] = []
    started, cpu0 = time.perf_counter(), _cpu()

    def progress(done: int, total: int) -> None:
        if done >= total:
            caught_up.append((time.perf_counter() - started, _cpu() - cpu0))

    with Journal(journal_path) as journal:
        result = rebuild(journal, base, CatalogProjection(), progress=progress, swap=False)
    wall, cpu = time.perf_counter() - started, _cpu() - cpu0
    catch_wall, catch_cpu = caught_up[-1] if caught_up else (wall, cpu)
    print(json.dumps({"events": result.checkpoint, "wall_s": wall, "catch_up_s": catch_wall,
                      "catch_up_cpu_s": catch_cpu, "rss_mb": peak_rss_mb(), "helper_rss_mb": peak_child_rss_mb(),
                      "hash": result.content_hash,
                      "file": str(result.file),
                      "size_mb": sum(p.stat().st_size for p in base.parent.glob(result.file.name + "*")) / 2**20}))


def replay(journal_path: Path, base: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--replay-child", str(journal_path), str(base)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- lag while appending at full speed ------------------------------------------------------------------
def measure_lag(root: Path, seconds: float, batch: int, pace: float = 0.0, mode: str = "process") -> dict[str, float]:
    """Lag samples every 50 ms while a writer appends ``batch``-event batches back to back, or at
    ``pace`` events/s when given (a sustained rate, for comparison with full speed).

    ``mode`` "process" follows with the child-process projector ``anibridge serve`` runs for the
    catalogue; "thread" with the in-process one (CATALOG_PROJECTOR_PROCESS=false)."""
    from anibridge.projections.catalog import CatalogProjection
    from anibridge.projections.process import ProjectorProcess
    from anibridge.projections.projector import Projector

    # Built up front: the writer only appends. The first generation of every site is appended and
    # applied before measuring, so the measured stream is the steady-state mix (mostly details,
    # later generations with their completions), not just cheap title staging.
    pool = list(catalogue(200_000, seed=2))
    warm = next(i for i in range(len(pool) - 1, -1, -1)
                if isinstance(pool[i], TitlesGenerationCompleted) and pool[i].generation == 1) + 1
    work = root / f"lag-{mode}-{pace:g}"
    journal = Journal(work / "journal.db")
    for i in range(0, warm, 5000):
        journal.append(pool[i:min(i + 5000, warm)])
    pool = pool[warm:]
    projector: Projector | ProjectorProcess
    if mode == "process":
        projector = ProjectorProcess(journal, work / "catalog.db", CatalogProjection(), "WARNING")
    else:
        projector = Projector(journal, work / "catalog.db", CatalogProjection())
    projector.start()
    projector.wait_until(journal.head(), 300)
    stop = threading.Event()
    appended = [0]

    def writer() -> None:
        i = 0
        t0 = time.perf_counter()
        while not stop.is_set() and i < len(pool):
            journal.append(pool[i:i + batch])
            i += batch
            appended[0] = i
            if pace:
                ahead = i / pace - (time.perf_counter() - t0)
                if ahead > 0:
                    time.sleep(ahead)
        stop.set()

    samples: list[tuple[float, int]] = []
    t = threading.Thread(target=writer, name="bench-writer")
    started = time.perf_counter()
    t.start()
    while not stop.is_set() and time.perf_counter() - started < seconds:
        lag = projector.lag()
        samples.append((lag.lag_seconds, lag.lag_events))
        time.sleep(0.05)
    stop.set()
    t.join()
    elapsed = time.perf_counter() - started
    caught = projector.wait_until(journal.head(), 120)
    drain = time.perf_counter() - started - elapsed
    projector.stop()
    journal.close()
    secs = [s for s, _ in samples]
    evs = [float(e) for _, e in samples]
    return {"appended": appended[0], "append_rate": rate(appended[0], elapsed), "samples": len(samples),
            "p50_s": percentile(secs, 50), "p99_s": percentile(secs, 99), "max_s": max(secs),
            "p50_events": percentile(evs, 50), "p99_events": percentile(evs, 99), "drain_s": drain,
            "caught_up": caught}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, help="work directory (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--lag-seconds", type=float, default=10.0)
    ap.add_argument("--lag-batch", type=int, default=500, help="events per append in the lag measurement")
    ap.add_argument("--lag-pace", type=float, default=5000.0,
                    help="also measure lag at this sustained append rate (events/s; 0 to skip)")
    ap.add_argument("--skip-lag", action="store_true")
    ap.add_argument("--replay-child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.replay_child:
        replay_child(*args.replay_child)
        return

    root = Path(tempfile.mkdtemp(prefix="anibridge-replay-", dir=args.dir))
    try:
        journal_path = root / "journal.db"
        head, gen_s = generate(journal_path, args.events)
        jsize = sum(p.stat().st_size for p in root.glob("journal.db*")) / 2**20
        print(f"generated {head:,} events in {gen_s:.1f} s ({rate(head, gen_s):,.0f} events/s,"
              f" journal {jsize:,.0f} MiB)")
        r = replay(journal_path, root / "catalog.db")
        eps = rate(int(r["events"]), r["catch_up_s"])
        rows: list[list[object]] = [
            ["replay events/s (catch-up)", round(eps), f">= {TARGET_EVENTS_PER_S:,}",
             "ok" if eps >= TARGET_EVENTS_PER_S else "MISSED"],
            ["replay events/CPU-second (catch-up)", round(rate(int(r["events"]), r["catch_up_cpu_s"])), "", ""],
            ["replay wall time s (catch-up)", round(r["catch_up_s"], 2), "", ""],
            ["replay CPU time s (catch-up)", round(r["catch_up_cpu_s"], 2), "", ""],
            ["replay wall time s (with content hash)", round(r["wall_s"], 2), "", ""],
            ["replay peak RSS MiB: rebuild process", round(r["rss_mb"], 1), "", ""],
            ["replay peak RSS MiB: its helper process (episodes loader)", round(r["helper_rss_mb"], 1), "", ""],
            ["replay peak RSS MiB: both (sum of peaks)", round(r["rss_mb"] + r["helper_rss_mb"], 1),
             f"< {TARGET_RSS_MB}", "ok" if r["rss_mb"] + r["helper_rss_mb"] < TARGET_RSS_MB else "MISSED"],
            ["catalog file MiB", round(r["size_mb"], 1), "", ""],
        ]
        if not args.skip_lag:
            runs = [("full speed", 0.0, "process"), ("full speed", 0.0, "thread")]
            if args.lag_pace:
                runs.append((f"{args.lag_pace:,.0f} events/s", args.lag_pace, "process"))
            for speed, pace, mode in runs:
                label = f"{speed}, projector {'in a child process' if mode == 'process' else 'thread'}"
                lag = measure_lag(root, args.lag_seconds, args.lag_batch, pace, mode)
                ok = "ok" if lag["p99_s"] < TARGET_LAG_P99_S else "MISSED"
                rows += [
                    [f"lag @ {label}: appended events/s", round(lag["append_rate"]), "", ""],
                    [f"lag @ {label}: lag_seconds p50", round(lag["p50_s"], 3), "", ""],
                    [f"lag @ {label}: lag_seconds p99", round(lag["p99_s"], 3), f"< {TARGET_LAG_P99_S}", ok],
                    [f"lag @ {label}: lag_seconds max", round(lag["max_s"], 3), "", ""],
                    [f"lag @ {label}: lag_events p50 / p99", f"{lag['p50_events']:,.0f} / {lag['p99_events']:,.0f}",
                     "", ""],
                    [f"lag @ {label}: drain after writer stopped s", round(lag["drain_s"], 2), "", ""],
                ]
        print_table(["measure", "value", "target", ""], rows,
                    title=f"\nreplay of {int(r['events']):,} catalogue events (hash {r['hash']})")
    finally:
        if args.keep:
            print(f"files kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
