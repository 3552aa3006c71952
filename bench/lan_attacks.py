"""LAN and browser attacks on a real ``anibridge serve`` (loopback only): what got through.

    .venv/bin/python bench/lan_attacks.py [--slowloris 300] [--dribble-seconds 20]

Starts ``anibridge serve`` twice as a subprocess (no secrets, as in the cross-site attack; then with
an API key and a qBittorrent login) and attacks it from other loopback addresses (127.0.0.2-9) than
the well-behaved client (127.0.0.1). Prints per attack how many attempts were made and how many
succeeded, with the goal (0 for every attack). Settings the server does not know are ignored, so the
same script measures an older AniBridge too (``PYTHONPATH=/path/to/old/checkout``).
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx

from anibridge.releases import build_magnet

API = "/api/v2"
KEY, USER, PASSWORD = "bench-Key-1", "sonarr", "bench-Pass-2"
FORGED = "2026-01-01 00:00:00 INFO    anibridge.http: admin logged in from 10.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def magnet(slug: str, dn: str | None = None) -> str:
    return build_magnet("aniworld.to", slug, 1, 1, "German Dub", dn or f"{slug}.S01E01-ANIWORLD")


def client(base: str, source: str = "127.0.0.1", timeout: float = 10) -> httpx.Client:
    return httpx.Client(base_url=base, timeout=timeout, transport=httpx.HTTPTransport(local_address=source))


@contextmanager
def serve(data: Path, **env: str) -> Iterator[tuple[str, list[str]]]:
    """``anibridge serve`` on a free loopback port; yields its base URL and (after exit) its log lines."""
    port = free_port()
    full = {**os.environ, "DATA_DIR": str(data), "ANIBRIDGE_PORT": str(port), "LOG_LEVEL": "INFO",
            "CATALOG_ENABLED": "false", "ANIWORLD_BASE_URL": "http://127.0.0.1:9", **env}
    proc = subprocess.Popen([sys.executable, "-m", "anibridge.cli", "serve", "--host", "127.0.0.1", "--no-crawl"],
                            env=full, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    log: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("anibridge serve did not start")
            time.sleep(0.2)
        yield base, log
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        log.extend(err.splitlines())


def row(attack: str, tried: int, through: int, note: str = "") -> None:
    print(f"  {attack:<44} {tried:>6} tried {through:>6} got through (goal 0){'  ' + note if note else ''}")


def login_guessing(base: str) -> None:
    with client(base, "127.0.0.3") as attacker:
        answers = [attacker.post(f"{API}/auth/login", data={"username": USER, "password": f"guess-{n}"})
                   for n in range(300)]
        right = attacker.post(f"{API}/auth/login", data={"username": USER, "password": PASSWORD})
    fails = sum(r.text == "Fails." for r in answers)
    banned = sum(r.status_code == 403 for r in answers)
    row("login: 300 wrong passwords, then the right one", 1, int(right.text == "Ok."),
        f"(answers: {fails} Fails., {banned} banned 403; the right one: {right.status_code} {right.text[:20]!r})")


def cross_site(base: str) -> None:
    hostile = [{"Origin": "http://evil.example"}, {"Origin": "null"}, {"Referer": "http://evil.example/p"},
               {"Sec-Fetch-Site": "cross-site"}]
    tried = through = 0
    with client(base) as sonarr, client(base, "127.0.0.6") as browser:
        for headers in hostile:
            for slug in ("evil-a", "evil-b"):
                sonarr.post(f"{API}/torrents/add", data={"urls": magnet("kept")})
                before = len(sonarr.get(f"{API}/torrents/info").json())
                for path, body in ((f"{API}/torrents/add", "urls=" + quote(magnet(slug), safe="")),
                                   (f"{API}/torrents/delete", "hashes=all&deleteFiles=true")):
                    r = browser.post(path, content=body.encode(),
                                     headers={"content-type": "application/x-www-form-urlencoded"} | headers)
                    tried += 1
                    after = len(sonarr.get(f"{API}/torrents/info").json())
                    through += r.status_code < 400 and after != before
                    before = after
                r = browser.post("/admin/crawl/aniworld", headers=headers)
                tried += 1
                through += r.status_code not in (401, 403)  # 404/409: reached the endpoint
    row("cross-site form POSTs (add, delete all, crawl)", tried, through)
    port = base.rsplit(":", 1)[1]
    tried = through = 0
    with client(base) as c:
        for host in ("evil.example", f"evil.example:{port}", "rebind.attacker.net", "127.0.0.1.nip.io"):
            for path in (f"{API}/torrents/info", "/health", "/torznab/api?t=caps", "/"):
                tried += 1
                through += c.get(path, headers={"Host": host}).status_code == 200
    row("foreign Host header (DNS rebinding) answered", tried, through)


def locked_reads(base: str) -> None:
    with client(base) as c:
        header_key = c.get("/torznab/api", params={"t": "caps"}, headers={"X-Api-Key": KEY}).status_code
        paths = ("/docs", "/redoc", "/openapi.json", "/health/downloads", "/health/catalog")
        shown = sum(c.get(p).status_code == 200 for p in paths)
        health = c.get("/health").json()
    print(f"  Torznab with the key as X-Api-Key: HTTP {header_key} (goal 200)")
    row("anonymous reads of details (docs, health)", len(paths) + 1, shown + int(set(health) != {"status"}),
        f"(/health shows: {sorted(health)})")


def slowloris(base: str, count: int, seconds: float) -> None:
    port = int(base.rsplit(":", 1)[1])
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        s.setblocking(False)
        socks.append(s)
    served, failed = [], 0
    stop = threading.Event()

    def well_behaved() -> None:
        nonlocal failed
        with client(base, timeout=5) as c:
            while not stop.is_set():
                t0 = time.monotonic()
                try:
                    c.get("/health").raise_for_status()
                    served.append(time.monotonic() - t0)
                except httpx.HTTPError:
                    failed += 1
                time.sleep(0.2)

    thread = threading.Thread(target=well_behaved)
    thread.start()
    open_ = set(range(count))
    start = time.monotonic()
    while time.monotonic() - start < seconds and open_:
        for i in list(open_):
            s = socks[i]
            if select.select([s], [], [], 0)[0]:
                open_.discard(i)
                continue
            try:
                s.send(b"X-a: b\r\n")
            except OSError:
                open_.discard(i)
        time.sleep(1.0)
    stop.set()
    thread.join()
    for s in socks:
        s.close()
    row(f"slowloris: connections open after {seconds:.0f} s", count, len(open_),
        f"(well-behaved client meanwhile: {len(served)} answered, {failed} failed,"
        f" slowest {max(served, default=0) * 1000:.0f} ms)")


def log_forging(base: str) -> None:
    dn = f"Evil.S01E01\n{FORGED}\x1b[2J"
    with client(base) as c:
        c.post(f"{API}/torrents/add", data={"urls": magnet("evil-show", dn=dn), "paused": "true"})
        c.post(f"{API}/torrents/delete", data={"hashes": "all"})


def bodies(base: str) -> None:
    port = int(base.rsplit(":", 1)[1])

    def raw(head: str, part: bytes) -> tuple[bytes, float]:
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.7", 0), timeout=5) as s:
            s.sendall(head.encode() + part)
            try:
                return s.recv(200), time.monotonic() - t0
            except TimeoutError:
                return b"", time.monotonic() - t0

    head = ("POST /torznab/api?t=search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data;"
            " boundary=XyZ\r\nContent-Length: 1500000\r\n\r\n")
    answer, took = raw(head, b"--XyZ\r\n" + b"A" * 1000)
    row("multipart Torznab POST without key: body awaited", 1, int(not answer.startswith(b"HTTP/1.1 401")),
        f"(answer {answer[:12]!r} after {took:.1f} s)")
    through = 0
    paths = ("/torznab/api?t=caps&apikey=" + KEY, f"{API}/torrents/add", f"{API}/auth/login", "/health")
    for path in paths:
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n"
                f"Content-Length: {40 * 1024 * 1024}\r\n\r\n")
        answer, _ = raw(head, b"--XyZ\r\n")
        through += not answer.startswith(b"HTTP/1.1 413")
    row("40 MB bodies not refused up front (413)", len(paths), through)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slowloris", type=int, default=300)
    parser.add_argument("--dribble-seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="anibridge-lan-") as tmp:
        print("server without secrets:")
        with serve(Path(tmp) / "open") as (base, log):
            cross_site(base)
            slowloris(base, args.slowloris, args.dribble_seconds)
            log_forging(base)
        forged = [line for line in log if line.startswith(FORGED)]
        ansi = sum("\x1b" in line for line in log)
        row("log forging: newline/ANSI in a magnet's dn", 1, int(bool(forged or ansi)),
            f"({len(forged)} forged lines, {ansi} lines with ANSI escapes)")
        print("server with INDEXER_API_KEY and a qBittorrent login:")
        with serve(Path(tmp) / "locked", INDEXER_API_KEY=KEY, QBIT_USERNAME=USER, QBIT_PASSWORD=PASSWORD) as (base, _):
            login_guessing(base)
            locked_reads(base)
            bodies(base)
    return 0


if __name__ == "__main__":
    sys.exit(main())
