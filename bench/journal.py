"""Journal throughput: durable appends (single, batched, concurrent with group commit), reads, RSS.

    .venv/bin/python bench/journal.py [--dir DIR] [--repeats 3] [--seconds 0.6]

Each measurement runs on a fresh journal file, ``--repeats`` times; the table shows the median
(and the spread). A "previous design" row runs naive one-transaction-per-append writers (one apsw
connection per thread, BEGIN IMMEDIATE / INSERT / COMMIT, busy timeout) next to the group-commit
appender so the gain is visible side by side.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from anibridge.events import Journal
from anibridge.events.journal import checksum, open_connection
from anibridge.events.registry import encode
from anibridge.events.types import TitleUpserted

try:
    from bench._common import Stopwatch, median, peak_rss_mb, print_table, rate, repeat
except ImportError:  # run as a script: bench/ is on sys.path
    from _common import Stopwatch, median, peak_rss_mb, print_table, rate, repeat  # type: ignore[no-redef]

TARGET_BATCH = 200_000  # events/s in large batches
TARGET_CONCURRENT = 1_000  # durable single appends/s under concurrency
_NAIVE_INSERT = (
    "INSERT INTO events (position, recorded_at, stream, type, version, payload, checksum)"
    " VALUES ((SELECT coalesce(max(position), 0) + 1 FROM events), ?, ?, ?, ?, ?, ?)"
)


def make_events(n: int, offset: int = 0) -> list[TitleUpserted]:
    """Realistic catalogue events (a title listing each), built outside the timed section."""
    return [
        TitleUpserted(site="aniworld.to", generation=1, slug=f"title-{k}", title=f"Title Nummer {k}",
                      alt_titles=[f"Alt {k}", f"別名 {k}"], path=f"/anime/stream/title-{k}",
                      media_type="series", content_hash=f"{k * 2654435761 % 2**64:016x}")
        for k in range(offset, offset + n)
    ]


class Bench:
    def __init__(self, root: Path, seconds: float) -> None:
        self.root = root
        self.seconds = seconds
        self._n = 0
        self.events = make_events(10_000)

    def fresh(self) -> Path:
        self._n += 1
        path = self.root / f"j{self._n}" / "journal.db"
        path.parent.mkdir(parents=True)
        return path

    # --- measurements: each returns events/s ------------------------------------------------
    def sequential_single(self) -> float:
        with Journal(self.fresh()) as j:
            j.append_one(self.events[0])  # warm up the appender and the file
            count, deadline = 0, time.perf_counter() + self.seconds
            with Stopwatch() as sw:
                while time.perf_counter() < deadline:
                    j.append_one(self.events[count % len(self.events)])
                    count += 1
        return rate(count, sw.seconds)

    def batches(self, size: int, total: int) -> Callable[[], float]:
        def run() -> float:
            with Journal(self.fresh()) as j:
                j.append_one(self.events[0])
                batch = self.events[:size]
                with Stopwatch() as sw:
                    for _ in range(total // size):
                        j.append(batch)
            return rate(total // size * size, sw.seconds)

        return run

    def _threads(self, n: int, body: Callable[[int, threading.Event], int]) -> float:
        stop = threading.Event()
        counts = [0] * n
        barrier = threading.Barrier(n + 1)

        def worker(tid: int) -> None:
            barrier.wait()
            counts[tid] = body(tid, stop)

        workers = [threading.Thread(target=worker, args=(t,)) for t in range(n)]
        for w in workers:
            w.start()
        barrier.wait()
        with Stopwatch() as sw:
            time.sleep(self.seconds)
            stop.set()
            for w in workers:
                w.join()
        return rate(sum(counts), sw.seconds)

    def concurrent_single(self, n: int) -> Callable[[], float]:
        def run() -> float:
            with Journal(self.fresh()) as j:
                j.append_one(self.events[0])

                def body(tid: int, stop: threading.Event) -> int:
                    done = 0
                    while not stop.is_set():
                        j.append_one(self.events[(tid * 997 + done) % len(self.events)])
                        done += 1
                    return done

                return self._threads(n, body)

        return run

    def naive_concurrent(self, n: int) -> Callable[[], float]:
        """The previous design: every append its own transaction and fsync, writers contend on the lock."""

        def run() -> float:
            path = self.fresh()
            Journal(path).close()  # schema

            def body(tid: int, stop: threading.Event) -> int:
                conn = open_connection(path)
                done = 0
                try:
                    while not stop.is_set():
                        ev = self.events[(tid * 997 + done) % len(self.events)]
                        payload = encode(ev)
                        stream = ev.stream()
                        crc = checksum(stream, ev.type_name, ev.version, payload)
                        conn.execute("BEGIN IMMEDIATE")
                        conn.execute(_NAIVE_INSERT, (time.time(), stream, ev.type_name, ev.version, payload, crc))
                        conn.execute("COMMIT")
                        done += 1
                finally:
                    conn.close()
                return done

            return self._threads(n, body)

        return run

    def read_all(self, decode: bool) -> Callable[[], float]:
        """Stream the whole journal (built once, 200,000 events)."""
        path = self.root / "read" / "journal.db"
        if not path.exists():
            path.parent.mkdir(parents=True)
            with Journal(path) as j:
                for k in range(20):
                    j.append(make_events(10_000, offset=k * 10_000))

        def run() -> float:
            with Journal(path) as j, Stopwatch() as sw:
                n = 0
                if decode:
                    for stored in j.read():
                        stored.event  # noqa: B018  (the decode is what is measured)
                        n += 1
                else:
                    for _ in j.read():
                        n += 1
            return rate(n, sw.seconds)

        return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="where to put the journal files (default: a temp dir)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=0.6, help="duration of each timed-loop measurement")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="anibridge-bench-", dir=args.dir))
    started = time.perf_counter()
    try:
        b = Bench(root, args.seconds)
        batch_target, concurrent_target = f">= {TARGET_BATCH:,}", f">= {TARGET_CONCURRENT:,}"
        plan: list[tuple[str, Callable[[], float], str]] = [
            ("append batch=1, sequential (durable)", b.sequential_single, ""),
            ("append batch=100", b.batches(100, 20_000), ""),
            ("append batch=10,000", b.batches(10_000, 50_000), batch_target),
            ("append batch=1, 8 threads (group commit)", b.concurrent_single(8), concurrent_target),
            ("append batch=1, 32 threads (group commit)", b.concurrent_single(32), concurrent_target),
            ("previous design: 8 threads, 1 txn/append", b.naive_concurrent(8), "(comparison)"),
            ("read whole journal (rows)", b.read_all(decode=False), ""),
            ("read whole journal + decode to models", b.read_all(decode=True), ""),
        ]
        rows: list[list[object]] = []
        results: dict[str, float] = {}
        for name, fn, target in plan:
            runs = repeat(fn, args.repeats)
            med = median(runs)
            results[name] = med
            verdict = ""
            if target.startswith(">="):
                verdict = "ok" if med >= int(target[3:].replace(",", "")) else "BELOW TARGET"
            rows.append([name, med, f"{min(runs):,.0f}..{max(runs):,.0f}", target, verdict])
        print_table(["measurement", "events/s (median)", f"range of {args.repeats}", "target", ""], rows,
                    title=f"AniBridge journal benchmark ({root})")
        gain = results[plan[3][0]] / max(results[plan[5][0]], 1e-9)
        print(f"\ngroup commit vs previous design, 8 threads: {gain:.1f}x")
        print(f"peak RSS: {peak_rss_mb():.0f} MiB")
        print(f"total time: {time.perf_counter() - started:.1f} s")
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
