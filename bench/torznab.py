"""Torznab under concurrent load, served by a separate ``anibridge serve`` process while a crawl appends.

    .venv/bin/python bench/torznab.py [--data DIR] [--titles 12000] [--seconds 8] [--conns 16,64]

1. Prepare once (reused while ``DIR/prepared.json`` matches): run the local provider world
   (``python -m anibridge.devworld``, titles split evenly over the three sites) and crawl it with
   ``anibridge crawl`` (titles, details, canonical) into ``DIR``. How long that took is printed.
2. Start the world again on day 1 (titles added, removed, renamed; new episodes) and
   ``anibridge serve`` on ``DIR`` as its own process. During the load the server crawls day 1 the way
   a deployment does, with its own scheduler (a niced child process; each site's crawl is started
   again through ``POST /admin/crawl/<site>`` whenever it finishes), so the journal grows and the
   server's projector applies events while requests are answered. ``--crawl-in cli`` runs
   ``anibridge crawl`` in a loop beside a ``serve --no-crawl`` instead (the previous set-up).
3. For 16 and 64 keep-alive connections (a small raw asyncio HTTP/1.1 client, so the client costs
   little CPU next to the server) measure requests/s and p50/p99 latency of
   tvsearch q+season+ep, tvsearch tvdbid+season+ep and search q; count errors (non-200, bad XML)
   and whether any body said "database is locked". ``empty`` counts answers without releases (the
   requests are drawn from the day-0 catalogue; day 1 renames and removes titles), ``journal+``
   the events the crawl appended while that row ran.
4. Peer row: the same query texts in-process against the same catalogue file, once through the
   FTS-backed ``CatalogQueries.search_titles`` and once through a naive
   ``SELECT ... FROM titles WHERE norm_title LIKE '%q%'``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from anibridge.events.journal import open_connection
from anibridge.projections.catalog import CATALOG_SCHEMA_VERSION
from anibridge.projections.projector import live_file
from anibridge.projections.queries import CatalogQueries
from anibridge.projections.reader import ProjectionReader
from anibridge.text import normalize

try:
    from bench._common import percentile, print_table
except ImportError:  # run as a script: bench/ is on sys.path
    from _common import percentile, print_table  # type: ignore[no-redef]

TARGET_P99_MS = 25.0
SEED = 7
ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def world_env(base: str) -> dict[str, str]:
    return {"ANIWORLD_BASE_URL": f"{base}/aniworld", "STO_BASE_URL": f"{base}/sto",
            "MEGAKINO_BASE_URL": f"{base}/megakino", "SKYHOOK_BASE_URL": f"{base}/skyhook"}


def anibridge_env(data: Path, world_base: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(world_env(world_base))
    env.update({"DATA_DIR": str(data), "LOG_LEVEL": "WARNING", "INDEXER_API_KEY": ""})
    env.update(extra)
    return env


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up")
        time.sleep(0.2)


class World:
    """The provider world as a subprocess."""

    def __init__(self, per_site: int, day: int = 0) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "anibridge.devworld", "--port", str(self.port), "--titles", str(per_site),
             "--seed", str(SEED), "--day", str(day)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"{self.base}/_world")

    def stop(self) -> None:
        stop_process(self.proc)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def catalog_counts(data: Path) -> dict[str, int]:
    conn = open_connection(live_file(data / "catalog.db"), readonly=True)
    try:
        one = lambda sql: int(conn.execute(sql).fetchone()[0])  # noqa: E731
        return {"titles": one("SELECT count(*) FROM titles"), "episodes": one("SELECT count(*) FROM episodes"),
                "names": one("SELECT count(*) FROM title_names"),
                "tvdb_mapped": one("SELECT count(*) FROM canonical WHERE status = 'matched'"),
                "episode_map": one("SELECT count(*) FROM episode_map")}
    finally:
        conn.close()


def catalog_schema(data: Path) -> str | None:
    conn = open_connection(live_file(data / "catalog.db"), readonly=True)
    try:
        row = conn.execute("SELECT value FROM projection_meta WHERE key = 'schema_version'").fetchone()
        return str(row[0]) if row else None
    finally:
        conn.close()


def journal_head(data: Path) -> int:
    conn = open_connection(data / "journal.db", readonly=True)
    try:
        return int(conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()[0])
    finally:
        conn.close()


def prepare(data: Path, titles: int) -> None:
    marker = data / "prepared.json"
    per_site = max(1, titles // 3)
    if marker.exists():
        info = json.loads(marker.read_text())
        if info.get("per_site") == per_site and info.get("seed") == SEED:
            print(f"catalogue: reusing {data} ({info['how']})")
            if catalog_schema(data) != str(CATALOG_SCHEMA_VERSION):
                # the projection's schema changed since: rebuild it from the same journal
                started = time.perf_counter()
                subprocess.run([PYTHON, "-m", "anibridge.cli", "replay"], cwd=ROOT, check=True,
                               env=anibridge_env(data, "http://127.0.0.1:9"), capture_output=True)
                print(f"catalogue: schema changed, rebuilt catalog.db from the journal with `anibridge replay`"
                      f" in {time.perf_counter() - started:.0f} s")
            return
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True)
    world = World(per_site)
    try:
        started = time.perf_counter()
        proc = subprocess.run([PYTHON, "-m", "anibridge.cli", "crawl"], cwd=ROOT,
                              env=anibridge_env(data, world.base), capture_output=True, text=True)
        seconds = time.perf_counter() - started
    finally:
        world.stop()
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
        raise SystemExit("preparing the catalogue failed")
    counts = catalog_counts(data)
    how = (f"crawled a {per_site * 3:,}-title devworld (seed {SEED}, {per_site:,} per site) with `anibridge crawl`"
           f" (titles, details, canonical) in {seconds:.0f} s: {counts['titles']:,} titles, {counts['episodes']:,}"
           f" episodes, {counts['names']:,} names, {counts['tvdb_mapped']:,} TVDB-mapped,"
           f" {counts['episode_map']:,} episode-map rows, journal head {journal_head(data):,}")
    marker.write_text(json.dumps({"per_site": per_site, "seed": SEED, "how": how}))
    print(f"catalogue: {how}")


# --- request mix ---------------------------------------------------------------------------------
@dataclass
class Mix:
    tv_q: list[str] = field(default_factory=list)
    tv_tvdb: list[str] = field(default_factory=list)
    search_q: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


def build_mix(data: Path, n: int = 400) -> Mix:
    """Realistic requests drawn from the catalogue (titles, alternative names, TVDB ids with maps)."""
    conn = open_connection(live_file(data / "catalog.db"), readonly=True)
    rnd = random.Random(1)
    try:
        # the numbers Sonarr asks for: TVDB's when the title is mapped, else the provider's
        eps = conn.execute(
            "SELECT n.name, coalesce(m.tvdb_season, e.season), coalesce(m.tvdb_episode, e.episode)"
            " FROM episodes e JOIN title_names n ON n.site = e.site AND n.slug = e.slug"
            " LEFT JOIN episode_map m ON m.site = e.site AND m.slug = e.slug AND m.season = e.season"
            " AND m.episode = e.episode WHERE e.season > 0 AND e.site != 'megakino' ORDER BY random() LIMIT ?",
            (n,)).fetchall()
        maps = conn.execute(
            "SELECT c.tvdb_id, m.tvdb_season, m.tvdb_episode FROM episode_map m JOIN canonical c ON"
            " c.site = m.site AND c.slug = m.slug WHERE c.status = 'matched' ORDER BY random() LIMIT ?",
            (n,)).fetchall()
        names = [r[0] for r in conn.execute("SELECT name FROM title_names ORDER BY random() LIMIT ?", (n,))]
    finally:
        conn.close()
    mix = Mix()
    cats = "5000,5070"
    for name, season, episode in eps:
        q = urllib.parse.quote(name)
        mix.tv_q.append(f"/torznab/api?t=tvsearch&cat={cats}&extended=1&offset=0&limit=100&q={q}"
                        f"&season={season}&ep={episode}")
    for tvdb, season, episode in maps:
        mix.tv_tvdb.append(f"/torznab/api?t=tvsearch&cat={cats}&extended=1&offset=0&limit=100&tvdbid={tvdb}"
                           f"&season={season}&ep={episode}")
    for name in names:
        # Sonarr/Prowlarr style free-text search; a share of them are partial (first words only).
        words = name.split()
        text = " ".join(words[: max(1, len(words) - 1)]) if rnd.random() < 0.3 and len(words) > 1 else name
        mix.search_q.append(f"/torznab/api?t=search&extended=1&offset=0&limit=100&q={urllib.parse.quote(text)}")
        mix.texts.append(text)
    for paths in (mix.tv_q, mix.tv_tvdb, mix.search_q):
        rnd.shuffle(paths)
    return mix


# --- a small keep-alive HTTP/1.1 client -------------------------------------------------------------
@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    locked: int = 0
    empty: int = 0
    error_samples: list[str] = field(default_factory=list)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        lname = name.strip().lower()
        if lname == "content-length":
            length = int(value.strip())
        elif lname == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length)
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return status, bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)


async def _connection(host: str, port: int, paths: list[str], start: int, stride: int, deadline: float,
                      result: Result, check_items: bool) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = start
    try:
        while time.perf_counter() < deadline:
            path = paths[i % len(paths)]
            i += stride
            request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: keep-alive\r\n\r\n".encode()
            t0 = time.perf_counter()
            writer.write(request)
            status, body = await _read_response(reader)
            result.latencies.append(time.perf_counter() - t0)
            if b"database is locked" in body:
                result.locked += 1
            if status != 200:
                result.errors += 1
                if len(result.error_samples) < 3:
                    result.error_samples.append(f"{status} {path}: {body[:200]!r}")
                continue
            if check_items and b"<item>" not in body:
                result.empty += 1
    finally:
        writer.close()


async def run_load(base: str, paths: list[str], conns: int, seconds: float, check_items: bool) -> Result:
    parsed = urllib.parse.urlsplit(base)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    result = Result()
    # warm-up (connections, caches), not measured
    await asyncio.gather(*(_connection(host, port, paths, k, conns, time.perf_counter() + 0.5, Result(), False)
                           for k in range(conns)))
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(*(_connection(host, port, paths, k, conns, deadline, result, check_items)
                           for k in range(conns)))
    result.latencies.append(0.0) if not result.latencies else None
    result.__dict__["seconds"] = time.perf_counter() - started
    return result


def validate_sample(base: str, paths: list[str]) -> int:
    """Parse a few full responses as XML (the load loop only checks status and markers)."""
    bad = 0
    with httpx.Client(base_url=base, timeout=10) as client:
        for path in paths[:20]:
            r = client.get(path)
            try:
                ET.fromstring(r.content)
            except ET.ParseError:
                bad += 1
    return bad


# --- peer: naive LIKE search in-process -----------------------------------------------------------------
def peer_rows(data: Path, texts: list[str]) -> list[list[object]]:
    catalog_file = live_file(data / "catalog.db")
    sites = ["aniworld.to", "s.to", "megakino"]
    queries = CatalogQueries(ProjectionReader(data / "catalog.db"))
    conn = open_connection(catalog_file, readonly=True)

    def fts(text: str) -> int:
        return len(queries.search_titles(text, sites, None, 5))

    def like(text: str) -> int:
        norm = normalize(text)
        rows = conn.execute(
            "SELECT site, slug, title FROM titles WHERE norm_title LIKE ? AND site IN (?,?,?) LIMIT 5",
            (f"%{norm}%", *sites)).fetchall()
        return len(rows)

    rows: list[list[object]] = []
    for label, fn in (("in-process FTS search_titles", fts), ("in-process naive LIKE '%q%'", like)):
        for text in texts[:20]:
            fn(text)  # warm
        lat: list[float] = []
        hits = 0
        started = time.perf_counter()
        for text in texts:
            t0 = time.perf_counter()
            hits += fn(text) > 0
            lat.append(time.perf_counter() - t0)
        total = time.perf_counter() - started
        rows.append([label, 1, len(lat) / total, percentile(lat, 50) * 1000, percentile(lat, 99) * 1000,
                     0, f"{hits}/{len(texts)} found"])
    conn.close()
    return rows


# --- main ----------------------------------------------------------------------------------------
def start_server(data: Path, world_base: str, crawl: bool = False) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([PYTHON, "-m", "anibridge.cli", "serve", *([] if crawl else ["--no-crawl"]),
                             "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=anibridge_env(data, world_base),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/health")
    return proc, base


class ServerCrawls:
    """The server's own scheduled crawls of day 1, started again (``POST /admin/crawl/<site>``) whenever
    one finishes."""

    SITES = ("aniworld.to", "s.to", "megakino")

    def __init__(self, data: Path, base: str) -> None:
        self.data, self.base = data, base
        self.runs = 0
        self.head_before = journal_head(data)

    def tick(self) -> None:
        for site in self.SITES:
            r = httpx.post(f"{self.base}/admin/crawl/{site}", timeout=10)
            r.raise_for_status()
            self.runs += bool(r.json()["started"])

    def stop(self) -> None:
        pass  # stopping the server stops its crawls


class CrawlLoop:
    """``anibridge crawl`` against day 1 of the world, restarted whenever it finishes."""

    def __init__(self, data: Path, world_base: str) -> None:
        self.data, self.world_base = data, world_base
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self.head_before = journal_head(data)

    def tick(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self.runs += 1
            self.proc = subprocess.Popen([PYTHON, "-m", "anibridge.cli", "crawl"], cwd=ROOT,
                                         env=anibridge_env(self.data, self.world_base),
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


async def sample_lag(base: str, samples: list[tuple[float, int]], stop: asyncio.Event) -> None:
    """The server's catalogue projection lag (``/admin/projections``) every 100 ms."""
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        while not stop.is_set():
            try:
                r = await client.get("/admin/projections")
                for p in r.json()["projections"]:
                    if p["name"] == "catalog":
                        samples.append((float(p["lag_seconds"]), int(p["lag_events"])))
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)


async def load_phase(base: str, mix: Mix, conns_list: list[int], seconds: float,
                     crawl: CrawlLoop | ServerCrawls | None,
                     lag: list[tuple[float, int]], only: set[str] | None = None) -> list[list[object]]:
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_lag(base, lag, stop))
    try:
        return await _load_phase(base, mix, conns_list, seconds, crawl, only)
    finally:
        stop.set()
        await sampler


async def _load_phase(base: str, mix: Mix, conns_list: list[int], seconds: float,
                      crawl: CrawlLoop | ServerCrawls | None,
                      only: set[str] | None) -> list[list[object]]:
    rows: list[list[object]] = []
    scenarios = [("tvsearch q+season+ep", mix.tv_q, True), ("tvsearch tvdbid+season+ep", mix.tv_tvdb, True),
                 ("search q", mix.search_q, True)]
    if only:
        scenarios = [s for s in scenarios if s[0] in only]
    for conns in conns_list:
        for label, paths, check in scenarios:
            if crawl is not None:
                crawl.tick()
            head = journal_head(crawl.data) if crawl is not None else 0
            res = await run_load(base, paths, conns, seconds, check)
            grew = f" journal+{journal_head(crawl.data) - head}" if crawl is not None else ""
            lat = res.latencies
            secs = res.__dict__["seconds"]
            rows.append([label, conns, len(lat) / secs, percentile(lat, 50) * 1000, percentile(lat, 99) * 1000,
                         res.errors, f"locked={res.locked} empty={res.empty}{grew}"])
            for sample in res.error_samples:
                print(f"  error sample: {sample}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/tmp/anibridge-bench-torznab"))
    parser.add_argument("--titles", type=int, default=12_000, help="catalogue size over all three sites")
    parser.add_argument("--seconds", type=float, default=8.0, help="per scenario and concurrency")
    parser.add_argument("--conns", default="16,64")
    parser.add_argument("--prepare-only", action="store_true")
    parser.add_argument("--no-crawl", action="store_true", help="no concurrent crawl during the load")
    parser.add_argument("--crawl-in", choices=("server", "cli"), default="server",
                        help="who crawls during the load: the server's scheduler (default) or `anibridge crawl`")
    parser.add_argument("--only", default="", help="comma-separated scenarios to run (default: all),"
                        " e.g. 'search q,tvsearch q+season+ep'")
    args = parser.parse_args()
    base_dir: Path = args.data / "base"
    prepare(base_dir, args.titles)
    if args.prepare_only:
        return
    # Load runs on a copy, so every run starts from the same prepared catalogue.
    data = args.data / "run"
    if data.exists():
        shutil.rmtree(data)
    shutil.copytree(base_dir, data)
    counts = catalog_counts(data)
    print(f"catalogue now: {counts}")
    mix = build_mix(data)
    world = World(max(1, args.titles // 3), day=1)
    server_crawls = not args.no_crawl and args.crawl_in == "server"
    server, base = start_server(data, world.base, crawl=server_crawls)
    crawl: CrawlLoop | ServerCrawls | None = None
    if server_crawls:
        crawl = ServerCrawls(data, base)
    elif not args.no_crawl:
        crawl = CrawlLoop(data, world.base)
    lag: list[tuple[float, int]] = []
    try:
        bad_xml = validate_sample(base, mix.tv_q + mix.tv_tvdb + mix.search_q)
        only = {name.strip() for name in args.only.split(",") if name.strip()} or None
        rows = asyncio.run(load_phase(base, mix, [int(c) for c in args.conns.split(",")], args.seconds, crawl,
                                      lag, only))
    finally:
        if crawl is not None:
            crawl.stop()
        stop_process(server)
        world.stop()
    stderr = server.stderr.read().decode(errors="replace") if server.stderr else ""
    rows += peer_rows(data, mix.texts)
    print()
    print_table(["request", "conns", "req/s", "p50 ms", "p99 ms", "errors", "notes"], rows,
                title=f"Torznab over loopback ({os.cpu_count()} CPUs; server: `anibridge serve` subprocess,"
                      f" uvicorn, asyncio loop, {'httptools' if _has('httptools') else 'h11'})")
    at16 = [r for r in rows if r[1] == 16]
    worst = max((float(r[4]) for r in at16), default=0.0)  # type: ignore[arg-type]
    errors = sum(int(r[5]) for r in rows)  # type: ignore[call-overload]
    print(f"\ntarget: p99 < {TARGET_P99_MS:.0f} ms at 16 connections, zero errors ->"
          f" worst p99 at 16 = {worst:.1f} ms, errors = {errors}, XML parse failures in sample = {bad_xml},"
          f" 'database is locked' in server log: {'database is locked' in stderr}")
    if crawl is not None:
        who = "server-scheduled crawl" if isinstance(crawl, ServerCrawls) else "`anibridge crawl`"
        print(f"concurrent crawl: {crawl.runs} {who} run(s) on day 1; journal grew from"
              f" {crawl.head_before:,} to {journal_head(data):,} events during the load")
    if lag:
        secs = [s for s, _ in lag]
        evs = [float(e) for _, e in lag]
        print(f"server's catalogue projection lag during the load ({len(lag)} samples, 100 ms apart):"
              f" p50 {percentile(secs, 50):.3f} s, p99 {percentile(secs, 99):.3f} s, max {max(secs):.3f} s;"
              f" events behind p99 {percentile(evs, 99):,.0f}")


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
