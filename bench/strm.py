"""STRM proxy under load: 32 players streaming through AniBridge while Sonarr-style searches run.

    .venv/bin/python bench/strm.py [--data DIR] [--titles 1500] [--streams 32] [--seconds 10]
                                   [--size-mb 512] [--pace-mbps 0] [--conns 8]

1. A catalogue: the local provider world crawled once with ``anibridge crawl`` (as bench/torznab.py
   prepares it, kept in DIR/base and reused).
2. Processes: ``anibridge serve`` (STRM_PROXY_MODE=proxy, token auth, allow-list 127.0.0.1) on a copy
   of that catalogue; a media host (this script, ``--media``) serving a ``--size-mb`` file with Range
   support from a 1 MiB pattern (no file on disk); the players (this script, ``--players``), each
   streaming the file through a signed ``/strm/proxy`` URL, flat out or paced at ``--pace-mbps`` MB/s,
   checking every byte against the pattern and starting over at the end.
3. Searches: ``--conns`` keep-alive connections of tvsearch q+season+ep from bench/torznab.py's mix,
   first alone, then beside the streams. The server's RSS is sampled every 100 ms in both phases.

Printed: search req/s and p50/p99 without and with streams, stream throughput (total and per stream),
the server's RSS (start, peak; it must not grow with what was streamed) and byte errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BLOCK = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(1 << 20))  # the media's 1 MiB repeating pattern
SECRET = "bench-strm-secret"


# --- the media host (a subprocess: --media PORT SIZE) ------------------------------------------------
async def _media_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, size: int) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            start, end = 0, size - 1
            status = "200 OK"
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "range" and value.strip().startswith("bytes="):
                    first, _, last = value.strip()[6:].partition("-")
                    start = int(first) if first else max(0, size - int(last))
                    end = min(int(last), size - 1) if first and last else size - 1
                    status = "206 Partial Content"
            headers = [f"HTTP/1.1 {status}", "Content-Type: video/mp4", "Accept-Ranges: bytes",
                       f"Content-Length: {end - start + 1}"]
            if status.startswith("206"):
                headers.append(f"Content-Range: bytes {start}-{end}/{size}")
            writer.write(("\r\n".join(headers) + "\r\n\r\n").encode())
            if lines[0].startswith("HEAD"):
                await writer.drain()
                continue
            pos = start
            while pos <= end:
                offset = pos % len(BLOCK)
                n = min(len(BLOCK) - offset, end - pos + 1, 256 * 1024)
                writer.write(BLOCK[offset: offset + n])
                pos += n
                await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def serve_media(port: int, size: int) -> None:
    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: _media_conn(r, w, size), "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# --- the players (a subprocess: --players URL N SECONDS PACE SIZE; prints JSON) ----------------------
async def _player(url: str, deadline: float, pace: float, size: int, stats: dict[str, int]) -> None:
    parts = urllib.parse.urlsplit(url)
    target = parts.path + "?" + parts.query
    while time.perf_counter() < deadline:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            writer.write(f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode())
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            if " 200 " not in head.split("\r\n", 1)[0]:
                stats["errors"] += 1
                await asyncio.sleep(0.2)
                continue
            pos, started = 0, time.perf_counter()
            while time.perf_counter() < deadline:
                chunk = await reader.read(256 * 1024)
                if not chunk:
                    break
                offset = pos % len(BLOCK)
                expected = (BLOCK[offset:] + BLOCK)[: len(chunk)] if offset + len(chunk) > len(BLOCK) \
                    else BLOCK[offset: offset + len(chunk)]
                if chunk != expected:
                    stats["bad_bytes"] += 1
                pos += len(chunk)
                stats["bytes"] += len(chunk)
                if pace:
                    ahead = pos / pace - (time.perf_counter() - started)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
            if pos >= size:
                stats["complete"] += 1
        finally:
            writer.close()


def run_players(url: str, streams: int, seconds: float, pace: float, size: int) -> None:
    stats = {"bytes": 0, "errors": 0, "bad_bytes": 0, "complete": 0}

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(_player(url, deadline, pace, size, stats) for _ in range(streams)))

    started = time.perf_counter()
    asyncio.run(main())
    stats["seconds_x1000"] = int((time.perf_counter() - started) * 1000)
    print(json.dumps(stats))


# --- the benchmark ---------------------------------------------------------------------------------------
def _wait_port(port: int, timeout: float = 20.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"port {port} did not open") from None
            time.sleep(0.1)


def main() -> None:
    import psutil

    try:
        from bench._common import percentile, print_table
        from bench.torznab import (
            World,
            anibridge_env,
            build_mix,
            free_port,
            prepare,
            run_load,
            stop_process,
            wait_http,
        )
    except ImportError:  # run as a script: bench/ is on sys.path
        from _common import percentile, print_table  # type: ignore[no-redef]
        from torznab import (  # type: ignore[no-redef]
            World,
            anibridge_env,
            build_mix,
            free_port,
            prepare,
            run_load,
            stop_process,
            wait_http,
        )
    from anibridge.strm.auth import Signer
    from anibridge.strm.urls import proxy_url

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/tmp/anibridge-bench-strm"))
    parser.add_argument("--titles", type=int, default=1500, help="catalogue size over all three sites")
    parser.add_argument("--streams", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size-mb", type=int, default=512, help="size of the streamed file")
    parser.add_argument("--pace-mbps", type=float, default=0.0, help="per-player read rate in MB/s; 0 = flat out")
    parser.add_argument("--conns", type=int, default=8, help="search connections")
    args = parser.parse_args()

    base_dir = args.data / "base"
    prepare(base_dir, args.titles)
    data = args.data / "run"
    if data.exists():
        shutil.rmtree(data)
    shutil.copytree(base_dir, data)
    mix = build_mix(data)
    size = args.size_mb * 1024 * 1024

    world = World(max(1, args.titles // 3))
    media_port = free_port()
    media = subprocess.Popen([PYTHON, __file__, "--media", str(media_port), str(size)], cwd=ROOT)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = anibridge_env(data, world.base, STRM_PROXY_MODE="proxy", STRM_PUBLIC_BASE_URL=base,
                        STRM_PROXY_SECRET=SECRET, STRM_PROXY_UPSTREAM_ALLOWLIST="127.0.0.1")
    server = subprocess.Popen([PYTHON, "-m", "anibridge.cli", "serve", "--no-crawl", "--host", "127.0.0.1",
                               "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    rows: list[list[object]] = []
    try:
        wait_http(f"{base}/health")
        _wait_port(media_port)
        proc = psutil.Process(server.pid)
        url = proxy_url(base, Signer("token", SECRET, 3600), f"http://127.0.0.1:{media_port}/movie.mp4")

        async def sample(rss: list[float], stop: asyncio.Event) -> None:
            while not stop.is_set():
                rss.append(sum(p.memory_info().rss for p in [proc]) / 2**20)
                await asyncio.sleep(0.1)

        async def searches(with_streams: bool) -> tuple[object, list[float], dict[str, int] | None]:
            rss: list[float] = []
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample(rss, stop))
            players = None
            if with_streams:
                players = await asyncio.create_subprocess_exec(
                    PYTHON, __file__, "--players", url, str(args.streams), str(args.seconds + 2),
                    str(args.pace_mbps * 2**20), str(size), stdout=subprocess.PIPE)
                await asyncio.sleep(1.0)  # streams running before the searches start
            result = await run_load(base, mix.tv_q, args.conns, args.seconds, True)
            stats = None
            if players is not None:
                out, _ = await players.communicate()
                stats = json.loads(out.decode().strip().splitlines()[-1])
            stop.set()
            await sampler
            return result, rss, stats

        alone, rss_alone, _ = asyncio.run(searches(False))
        loaded, rss_loaded, stats = asyncio.run(searches(True))
    finally:
        stop_process(server)
        media.terminate()
        media.wait(10)
        world.stop()

    for label, result, rss in (("searches alone", alone, rss_alone),
                               (f"beside {args.streams} streams", loaded, rss_loaded)):
        lat = [v * 1000 for v in result.latencies]  # type: ignore[attr-defined]
        secs = result.__dict__["seconds"]  # type: ignore[attr-defined]
        errors = result.errors  # type: ignore[attr-defined]
        rows.append([label, args.conns, f"{len(lat) / secs:,.0f}", f"{percentile(lat, 50):.1f}",
                     f"{percentile(lat, 99):.1f}", errors, f"{rss[0]:.0f} -> {max(rss):.0f}"])
    print()
    print_table(["tvsearch q+season+ep", "conns", "req/s", "p50 ms", "p99 ms", "errors", "server RSS MiB"], rows,
                title=f"Torznab beside the STRM proxy ({os.cpu_count()} CPUs, `anibridge serve` subprocess)")
    assert stats is not None
    seconds = stats["seconds_x1000"] / 1000
    total = stats["bytes"] / 2**20
    pace = f"paced at {args.pace_mbps:g} MB/s each" if args.pace_mbps else "flat out"
    print(f"\nstreams: {args.streams} players ({pace}) through signed /strm/proxy URLs of a"
          f" {args.size_mb} MiB file: {total:,.0f} MiB in {seconds:.1f} s = {total / seconds:,.1f} MiB/s total,"
          f" {total / seconds / args.streams:,.2f} MiB/s per stream; {stats['complete']} complete plays,"
          f" {stats['errors']} errors, {stats['bad_bytes']} chunks with wrong bytes")
    growth = max(rss_loaded) - rss_loaded[0]
    print(f"server RSS while streaming: {rss_loaded[0]:.0f} -> peak {max(rss_loaded):.0f} MiB"
          f" (+{growth:.0f} MiB) for {total:,.0f} MiB streamed ({total / max(args.streams, 1):,.0f} MiB per stream)")
    stderr = server.stderr.read().decode(errors="replace") if server.stderr else ""
    problems = [ln for ln in stderr.splitlines() if "Traceback" in ln or "ERROR" in ln]
    print(f"server log: {len(problems)} error line(s)" + (f", first: {problems[0][:200]}" if problems else ""))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--media":
        serve_media(int(sys.argv[2]), int(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--players":
        run_players(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]))
    else:
        main()
