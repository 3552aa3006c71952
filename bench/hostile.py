"""Attacks from hostile providers and hosts against a real AniBridge server (issue 16), all on loopback.

A real ``anibridge serve`` process (catalogue crawls in the server process, so their memory counts)
points at the hostile stand-ins of ``anibridge.devworld.hostile``: an AniWorld-shaped provider on
127.0.0.1 (allowed by DOWNLOAD_ALLOWED_HOSTS) and a "LAN" server on 127.0.0.2 (not allowed) that
counts every request reaching it. Prints each attempt and whether it held, the server's peak RSS
while the attacks ran (goal: never above 300 MiB) and the bytes written outside DATA_DIR and
DOWNLOAD_DIR (goal: 0): every file under the bench's folder (the server's cwd, HOME and TMPDIR, and
a user folder a symlinked staging folder points at) is compared before and after.

    python bench/hostile.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table  # noqa: E402

from anibridge.devworld.hostile import (  # noqa: E402
    CRAWL_ATTACK,
    RESOURCE_ATTACKS,
    SSRF_ATTACKS,
    HostileWorld,
    running_hostile,
)
from anibridge.releases import build_magnet, info_hash, release_title  # noqa: E402
from anibridge.testing import free_port  # noqa: E402

MIB = 1024 * 1024
RSS_GOAL_MIB = 300
EXPECTED = {  # what the task error must say for the attack to count as held
    "drip-page": "no complete answer within",
    "endless-page": "PROVIDER_MAX_PAGE_MB",
    "bomb-page": "PROVIDER_MAX_PAGE_MB",
    "bomb-embed": "larger than",
    "drip-media": "DOWNLOAD_STALL_SECONDS",
    "zeros-media": "DOWNLOAD_MAX_SIZE_GB",
}


@dataclass
class Attempt:
    attack: str
    what: str
    held: bool
    detail: str


class Server:
    """``anibridge serve`` as a child process, its RSS sampled every 20 ms."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        for folder in ("cwd", "home", "tmp"):
            (root / folder).mkdir(exist_ok=True)
        full = {**os.environ, "HOME": str(root / "home"), "TMPDIR": str(root / "tmp"), "LOG_LEVEL": "WARNING",
                "ANIBRIDGE_HOST": "127.0.0.1", "ANIBRIDGE_PORT": str(self.port), **env}
        self.log = open(root / "server.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-c", "from anibridge.cli import main; raise SystemExit(main())",
                                      "serve"], cwd=root / "cwd", env=full, stdout=self.log, stderr=self.log)
        self.peak_rss = 0
        self.phase_peak = 0
        self.phases: dict[str, int] = {}
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the server did not start; see server.log")
        self.http = httpx.Client(base_url=self.base, timeout=30)
        self.http.post("/api/v2/auth/login", data={"username": "bench", "password": "bench"})

    def _sample(self) -> None:
        process = psutil.Process(self.proc.pid)
        while not self._stop.is_set():
            try:
                rss = process.memory_info().rss
                self.peak_rss = max(self.peak_rss, rss)
                self.phase_peak = max(self.phase_peak, rss)
            except psutil.Error:
                return
            time.sleep(0.02)

    def phase(self, name: str) -> None:
        """Close the running phase: its peak RSS is recorded under ``name``."""
        self.phases[name] = self.phase_peak
        self.phase_peak = 0

    def add(self, *magnets: str) -> httpx.Response:
        return self.http.post("/api/v2/torrents/add", data={"urls": "\n".join(magnets)})

    def info(self, task_hash: str) -> dict[str, object]:
        found = self.http.get("/api/v2/torrents/info", params={"hashes": task_hash}).json()
        return found[0] if found else {}

    def wait(self, task_hash: str, timeout: float = 90) -> tuple[str, str]:
        """(state, error) once the task errored or completed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.info(task_hash)
            if info.get("state") in ("error", "stoppedUP"):
                return str(info["state"]), str(info.get("comment", ""))
            time.sleep(0.2)
        return "stuck", f"still {self.info(task_hash).get('state')} after {timeout:g} s"

    def stop(self) -> None:
        self._stop.set()
        self.http.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@contextmanager
def server(root: Path, env: dict[str, str]) -> Iterator[Server]:
    running = Server(root, env)
    try:
        yield running
    finally:
        running.stop()


def magnet(slug: str, episode: int = 1, dn: str | None = None) -> str:
    name = dn or release_title(slug.replace("-", " "), 1, episode, "German Dub", "aniworld.to")
    return build_magnet("aniworld.to", slug, 1, episode, "German Dub", name)


def task_hash(slug: str, episode: int = 1) -> str:
    return info_hash(slug, 1, episode, "German Dub")


def snapshot(root: Path, skip: Path) -> dict[str, tuple[int, int]]:
    """path -> (size, mtime_ns) of every file under ``root`` outside ``skip``."""
    out = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and not path.is_relative_to(skip):
            stat = path.stat()
            out[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return out


def written_outside(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]],
                    ignore: Callable[[str], bool]) -> int:
    return sum(size for path, (size, mtime) in after.items()
               if not ignore(path) and before.get(path) != (size, mtime))


def ssrf_attacks(srv: Server, world: HostileWorld) -> list[Attempt]:
    before = world.hits.count()
    srv.add(*(magnet(slug) for slug in SSRF_ATTACKS))
    out = []
    for slug, what in SSRF_ATTACKS.items():
        state, error = srv.wait(task_hash(slug))
        held = state == "error" and "refused to connect" in error
        out.append(Attempt(slug, what, held, error.split(": ", 1)[-1][:110] if held else f"{state}: {error[:100]}"))
    lan = world.hits.count() - before
    out.append(Attempt("lan-requests", "requests that reached the LAN stand-in (127.0.0.2)", lan == 0, str(lan)))
    return out


def resource_attacks(srv: Server) -> list[Attempt]:
    srv.add(*(magnet(slug) for slug in RESOURCE_ATTACKS))
    out = []
    for slug, what in RESOURCE_ATTACKS.items():
        started = time.monotonic()
        state, error = srv.wait(task_hash(slug))
        held = state == "error" and EXPECTED[slug] in error
        detail = error[error.find(EXPECTED[slug]) - 60:][:110] if held else f"{state}: {error[:100]}"
        out.append(Attempt(slug, what, held, f"{detail} ({time.monotonic() - started:.0f} s)"))
    return out


def magnet_flood(srv: Server) -> Attempt:
    before = len(srv.http.get("/api/v2/torrents/info").json())
    answer = srv.add(*(magnet(f"flood-{i}") for i in range(3000)))
    after = len(srv.http.get("/api/v2/torrents/info").json())
    held = answer.status_code == 400 and after == before
    return Attempt("magnet-flood", "3,000 magnets in one torrents/add", held,
                   f"HTTP {answer.status_code} {answer.text[:80]}")


def file_attacks(srv: Server, downloads: Path) -> list[Attempt]:
    out = []
    dn = release_title("plain", 1, 1, "German Dub", "aniworld.to")
    srv.add(magnet("plain", 1), magnet("plain", 2, dn=dn))
    done = [srv.wait(task_hash("plain", e)) for e in (1, 2)]
    paths = {str(p) for p in downloads.rglob("*.mp4")}
    held = all(s == "stoppedUP" for s, _ in done) and len(paths) == 2
    out.append(Attempt("same-dn", "two episodes whose magnets carry the same dn", held,
                       f"{len(paths)} distinct files" if held else str(done)))
    content = Path(str(srv.info(task_hash("plain", 1))["content_path"]))
    user_file = content.parent / "my-notes.txt"
    user_file.write_text("mine")
    srv.http.post("/api/v2/torrents/delete", data={"hashes": task_hash("plain", 1), "deleteFiles": "true"})
    held = not content.exists() and user_file.read_text() == "mine"
    out.append(Attempt("delete-user-file", "deleteFiles=true with a user's file in the release folder", held,
                       "the user's file and its folder stayed" if held else "the user's file is gone"))
    return out


def staging_symlink(root: Path, base_env: dict[str, str], victim: Path) -> Attempt:
    """A server started with DOWNLOAD_DIR/.incoming pointing at a user folder."""
    data = root / "data-symlink"
    (data / "downloads").mkdir(parents=True)
    os.symlink(victim, data / "downloads" / ".incoming")
    before = sorted(p.name for p in victim.rglob("*"))
    with server(root, base_env | {"DATA_DIR": str(data), "CATALOG_ENABLED": "false"}) as srv:
        srv.add(magnet("plain", 3))
        state, error = srv.wait(task_hash("plain", 3))
    after = sorted(p.name for p in victim.rglob("*"))
    held = before == after and state == "error" and "symbolic link" in error
    return Attempt("staging-symlink", "DOWNLOAD_DIR/.incoming is a link to a user folder", held,
                   f"{len(after)} of {len(before)} user entries kept; task: {error[:70]}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="anibridge-hostile-") as tmp, running_hostile() as world:
        root = Path(tmp)
        victim = root / "user-photos"
        (victim / ("f" * 40)).mkdir(parents=True)
        (victim / "holiday.jpg").write_bytes(b"\xff\xd8" + b"x" * 4096)
        (victim / ("f" * 40) / "keep.txt").write_text("keep")
        data = root / "data"
        base_env = world.env() | {"CATALOG_SITES": "aniworld.to", "CRAWL_PROCESS": "false",
                                  "PROVIDER_DIRECT_LINK_TIMEOUT_SECONDS": "5", "PROVIDER_FETCH_DEADLINE_SECONDS": "5",
                                  "DOWNLOAD_STALL_SECONDS": "5", "DOWNLOAD_MAX_SIZE_GB": "0.03"}
        before = snapshot(root, data)
        started = time.monotonic()
        attempts: list[Attempt] = [staging_symlink(root, base_env, victim)]
        with server(root, base_env | {"DATA_DIR": str(data)}) as srv:
            srv.phase("start-up and start-up crawl")
            crawl = srv.http.post("/admin/crawl/aniworld")
            attempts += ssrf_attacks(srv, world)
            srv.phase("SSRF attacks (and the crawl)")
            attempts += resource_attacks(srv)
            srv.phase("page and media caps")
            attempts.append(magnet_flood(srv))
            srv.phase("magnet flood")
            attempts += file_attacks(srv, data / "downloads")
            srv.phase("file attacks")
            titles = srv.http.get("/health/catalog").text
            attempts.append(Attempt("crawl-bomb", CRAWL_ATTACK, srv.peak_rss < RSS_GOAL_MIB * MIB,
                                    f"crawl trigger HTTP {crawl.status_code}; catalogue names the cap:"
                                    f" {'PROVIDER_MAX_PAGE_MB' in titles}; peak RSS {srv.peak_rss / MIB:.0f} MiB"))
            peak = srv.peak_rss
            phases = srv.phases
        elapsed = time.monotonic() - started
        after = snapshot(root, data)
        outside = written_outside(before, after, ignore=lambda p: p.endswith("server.log")
                                  or p.startswith(str(root / "data-symlink")))

    print_table(["attack", "what", "held", "detail"],
                [[a.attack, a.what, "yes" if a.held else "NO", a.detail] for a in attempts],
                title="Hostile providers and hosts against a real AniBridge server (loopback only)")
    held = sum(a.held for a in attempts)
    print()
    print(f"attempts: {len(attempts)}, held: {held}, broke: {len(attempts) - held}  ({elapsed:.0f} s)")
    print(f"peak RSS of the server under hostile providers: {peak / MIB:.0f} MiB (goal: at most {RSS_GOAL_MIB} MiB)")
    print("peak RSS by phase: " + ", ".join(f"{name} {rss / MIB:.0f} MiB" for name, rss in phases.items()))
    print(f"bytes written outside DATA_DIR/DOWNLOAD_DIR: {outside} (goal: 0)")
    return 0 if held == len(attempts) and peak <= RSS_GOAL_MIB * MIB and outside == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
