"""yt-dlp downloads over loopback, file naming and placement, and the MP4 header reader."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from anibridge.downloads import ytdlp
from anibridge.downloads.files import atomic_finalize, partial_path, safe_component, safe_join
from anibridge.downloads.hosts import DirectLink
from anibridge.downloads.ytdlp import (
    DownloadCancelled,
    DownloadFailed,
    read_video_track,
    release_quality,
)
from anibridge.netguard import AddressPolicy

# The test media server listens on loopback, which the download guard refuses unless allowed.
LOOPBACK = AddressPolicy.parse("127.0.0.1")
download = functools.partial(ytdlp.download, policy=LOOPBACK)

REPO = Path(__file__).resolve().parent.parent
# The dev world ships a ~2 s 1280x720 MP4 and a two-segment HLS playlist; tests/data is the fallback.
MEDIA_DIRS = [REPO / "anibridge" / "devworld" / "media", REPO / "tests" / "data"]


def _media_dir() -> Path:
    for candidate in MEDIA_DIRS:
        if (candidate / "sample.mp4").is_file() and any(candidate.rglob("*.m3u8")):
            return candidate
    pytest.fail(f"no sample media in {[str(d) for d in MEDIA_DIRS]}")


MEDIA = _media_dir()
SAMPLE = (MEDIA / "sample.mp4").read_bytes()
PLAYLIST = next(MEDIA.rglob("*.m3u8")).relative_to(MEDIA).as_posix()
MEDIA_TYPES = {".mp4": "video/mp4", ".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t"}


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/media/{name:path}")
    async def media(name: str) -> Response:
        path = (MEDIA / name).resolve()
        if not path.is_relative_to(MEDIA) or not path.is_file():
            return Response(status_code=404)
        return Response(
            path.read_bytes(), media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream")
        )

    @app.get("/slow/sample.mp4")
    async def slow() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(SAMPLE), 2048):
                yield SAMPLE[start : start + 2048]
                await asyncio.sleep(0.05)

        headers = {"Content-Length": str(len(SAMPLE))}
        return StreamingResponse(chunks(), media_type="video/mp4", headers=headers)

    @app.get("/needs-referer/sample.mp4")
    async def needs_referer(request: Request) -> Response:
        if request.headers.get("referer") != "https://embed.example/e/1":
            return Response(status_code=403)
        return Response(SAMPLE, media_type="video/mp4")

    return app


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    srv = uvicorn.Server(
        uvicorn.Config(_app(), log_level="warning", timeout_graceful_shutdown=1, lifespan="off")
    )
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    srv.should_exit = True
    thread.join(timeout=10)
    sock.close()


def _visible(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _no_op(done: int, total: int | None, speed: float) -> None:
    pass


# ------------------------------------------------------------------------------------ downloads


def test_mp4_download(base_url: str, tmp_path: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    link = DirectLink(
        url=f"{base_url}/media/sample.mp4", kind="mp4", headers={"Referer": base_url}, host="VOE"
    )
    result = download(
        link,
        tmp_path,
        "Show.S01E02.GER",
        progress=lambda d, t, s: seen.append((d, t)),
        cancel=threading.Event(),
        timeout=10,
    )
    assert result.path == tmp_path / "Show.S01E02.GER.mp4"
    assert _visible(tmp_path) == ["Show.S01E02.GER.mp4"]
    assert result.path.read_bytes() == SAMPLE
    assert result.size == len(SAMPLE)
    assert (result.height, result.vcodec, result.quality_label) == (720, "h264", "720p")
    done = [d for d, _ in seen]
    assert done and done == sorted(done) and done[-1] == len(SAMPLE)
    assert all(t in (None, len(SAMPLE)) for _, t in seen)


def test_progress_increases_over_slow_transfer(base_url: str, tmp_path: Path) -> None:
    seen: list[int] = []
    link = DirectLink(url=f"{base_url}/slow/sample.mp4", kind="mp4", headers={}, host="generic")
    result = download(
        link, tmp_path, "slow", progress=lambda d, t, s: seen.append(d), cancel=threading.Event(), timeout=10
    )
    assert result.size == len(SAMPLE)
    assert len(set(seen)) >= 3 and seen == sorted(seen)


def test_cancel_mid_download_removes_partials(base_url: str, tmp_path: Path) -> None:
    cancel = threading.Event()
    seen: list[int] = []

    def progress(done: int, total: int | None, speed: float) -> None:
        seen.append(done)
        if done > 4096:
            cancel.set()

    link = DirectLink(url=f"{base_url}/slow/sample.mp4", kind="mp4", headers={}, host="generic")
    with pytest.raises(DownloadCancelled):
        download(link, tmp_path, "cancelled", progress=progress, cancel=cancel, timeout=10)
    assert seen and max(seen) < len(SAMPLE)
    assert _visible(tmp_path) == []


def test_cancel_hls_mid_download(base_url: str, tmp_path: Path) -> None:
    cancel = threading.Event()

    def progress(done: int, total: int | None, speed: float) -> None:
        cancel.set()

    link = DirectLink(url=f"{base_url}/media/{PLAYLIST}", kind="hls", headers={}, host="generic")
    with pytest.raises(DownloadCancelled):
        download(link, tmp_path, "Show [Dub] 100%", progress=progress, cancel=cancel, timeout=10)
    assert _visible(tmp_path) == []


def test_cancel_before_start(base_url: str, tmp_path: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    link = DirectLink(url=f"{base_url}/media/sample.mp4", kind="mp4", headers={}, host="generic")
    with pytest.raises(DownloadCancelled):
        download(link, tmp_path, "x", progress=_no_op, cancel=cancel, timeout=10)
    assert _visible(tmp_path) == []


def test_link_headers_are_sent(base_url: str, tmp_path: Path) -> None:
    link = DirectLink(
        url=f"{base_url}/needs-referer/sample.mp4",
        kind="mp4",
        headers={"Referer": "https://embed.example/e/1"},
        host="Vidoza",
    )
    result = download(link, tmp_path, "ref", progress=_no_op, cancel=threading.Event(), timeout=10)
    assert result.size == len(SAMPLE)
    with pytest.raises(DownloadFailed, match="403"):
        download(
            DirectLink(url=link.url, kind="mp4", headers={}, host="Vidoza"),
            tmp_path,
            "noref",
            progress=_no_op,
            cancel=threading.Event(),
            timeout=10,
        )
    assert _visible(tmp_path) == ["ref.mp4"]


def test_missing_file_fails_cleanly(base_url: str, tmp_path: Path) -> None:
    link = DirectLink(url=f"{base_url}/media/nope.mp4", kind="mp4", headers={}, host="generic")
    with pytest.raises(DownloadFailed, match="404"):
        download(link, tmp_path, "missing", progress=_no_op, cancel=threading.Event(), timeout=10)
    assert _visible(tmp_path) == []


def test_base_name_is_sanitized(base_url: str, tmp_path: Path) -> None:
    link = DirectLink(url=f"{base_url}/media/sample.mp4", kind="mp4", headers={}, host="generic")
    odd = download(
        link, tmp_path, "Show [Dub] 100%(title)s", progress=_no_op, cancel=threading.Event(), timeout=10
    )
    assert odd.path.name == "Show [Dub] 100%(title)s.mp4" and odd.size == len(SAMPLE)
    result = download(
        link, tmp_path, "../Evil/..Name: 1", progress=_no_op, cancel=threading.Event(), timeout=10
    )
    assert result.path.parent == tmp_path
    assert result.path.name == "_Evil_.Name_ 1.mp4"
    assert _visible(tmp_path) == sorted([odd.path.name, result.path.name])


_HLS_CHILD = """
import json, sys, threading
from pathlib import Path
from anibridge.downloads.hosts import DirectLink
from anibridge.netguard import AddressPolicy
from anibridge.downloads.ytdlp import download
link = DirectLink(url=sys.argv[1], kind="hls", headers={}, host="generic")
seen = []
r = download(link, Path(sys.argv[2]), "Show.S01E01", progress=lambda d, t, s: seen.append(d),
             cancel=threading.Event(), timeout=10, policy=AddressPolicy.parse("127.0.0.1"))
print(json.dumps({"path": str(r.path), "size": r.size, "height": r.height, "progress": seen}))
"""


def test_hls_without_ffmpeg(base_url: str, tmp_path: Path) -> None:
    """Native HLS download in a process whose PATH has neither ffmpeg nor ffprobe."""
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    out_dir = tmp_path / "out"
    env = {**os.environ, "PATH": str(empty_bin)}
    proc = subprocess.run(
        [sys.executable, "-c", _HLS_CHILD, f"{base_url}/media/{PLAYLIST}", str(out_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    segments = sorted(MEDIA.glob("*.ts"))
    assert result["path"] == str(out_dir / "Show.S01E01.ts")
    assert result["size"] == sum(p.stat().st_size for p in segments)
    assert result["progress"] and result["progress"] == sorted(result["progress"])
    assert _visible(out_dir) == ["Show.S01E01.ts"]


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed; remux path not testable")
def test_hls_with_ffmpeg_remuxes_to_mp4(base_url: str, tmp_path: Path) -> None:
    link = DirectLink(url=f"{base_url}/media/{PLAYLIST}", kind="hls", headers={}, host="generic")
    result = download(link, tmp_path, "Show.S01E01", progress=_no_op, cancel=threading.Event(), timeout=10)
    assert result.path == tmp_path / "Show.S01E01.mp4"
    assert (result.height, result.quality_label) == (720, "720p")
    assert _visible(tmp_path) == ["Show.S01E01.mp4"]


# ------------------------------------------------------------------------------ quality & probe


@pytest.mark.parametrize(
    ("height", "width", "label"),
    [
        (None, None, "SD"),
        (360, None, "SD"),
        (480, None, "480p"),
        (576, 720, "480p"),
        (720, None, "720p"),
        (1080, None, "1080p"),
        (800, 1920, "1080p"),
        (2160, None, "2160p"),
        (1600, 3840, "2160p"),
    ],
)
def test_release_quality(height: int | None, width: int | None, label: str) -> None:
    assert release_quality(height, width) == label


def test_mp4_header_reader() -> None:
    track = read_video_track(MEDIA / "sample.mp4")
    assert track is not None and (track.width, track.height, track.codec) == (1280, 720, "h264")


def test_mp4_header_reader_moov_after_mdat_and_garbage(tmp_path: Path) -> None:
    data = SAMPLE
    boxes: dict[bytes, bytes] = {}
    pos = 0
    while pos < len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        boxes[data[pos + 4 : pos + 8]] = data[pos : pos + size]
        pos += size
    assert b"moov" in boxes and b"mdat" in boxes
    moved = tmp_path / "moov-last.mp4"
    moved.write_bytes(boxes[b"ftyp"] + boxes[b"mdat"] + boxes[b"moov"])
    track = read_video_track(moved)
    assert track is not None and (track.width, track.height) == (1280, 720)
    for name, content in {"empty": b"", "junk": b"\x00\x00\x00\x01junkjunk", "short": data[:100]}.items():
        path = tmp_path / name
        path.write_bytes(content)
        assert read_video_track(path) is None
    assert read_video_track(tmp_path / "does-not-exist") is None


# ------------------------------------------------------------------------------------- files.py


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Attack on Titan S01E01", "Attack on Titan S01E01"),
        ("../../etc/passwd", "_._etc_passwd"),
        ("..", "unnamed"),
        ("", "unnamed"),
        ("   ", "unnamed"),
        (".hidden", "hidden"),
        ("a\x00b\x1fc\nd", "a b c d"),
        ('Re:Zero? <Kara> "Hajimeru" | *', "Re_Zero_ _Kara_ _Hajimeru_ _ _"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("trailing dots...", "trailing dots"),
    ],
)
def test_safe_component(raw: str, expected: str) -> None:
    assert safe_component(raw) == expected


def test_safe_component_trims_to_180_utf8_bytes() -> None:
    name = safe_component("ä" * 200)
    assert len(name.encode()) <= 180 and name == "ä" * 90
    assert len(safe_component("x" * 500).encode()) == 180


def test_safe_join_stays_inside_root(tmp_path: Path) -> None:
    assert safe_join(tmp_path, "Show", "Season 1") == tmp_path.resolve() / "Show" / "Season 1"
    assert safe_join(tmp_path, "a/b") == tmp_path.resolve() / "a_b"
    for bad in ("../../etc/passwd", "..", "/etc/passwd", "x/../../y", "..\\..\\windows", "C:\\temp"):
        with pytest.raises(ValueError):
            safe_join(tmp_path, "ok", bad)


def test_safe_join_refuses_symlink_escape(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    with pytest.raises(ValueError):
        safe_join(root, "escape", "file.mp4")
    # A root that is itself reached through a symlink is fine.
    (tmp_path / "alias").symlink_to(root)
    assert safe_join(tmp_path / "alias", "Show") == root.resolve() / "Show"


def test_atomic_finalize(tmp_path: Path) -> None:
    final = tmp_path / "Show.S01E01.mp4"
    tmp = partial_path(final)
    assert tmp == tmp_path / ".Show.S01E01.mp4.part"
    tmp.write_bytes(b"video")
    final.write_bytes(b"old")
    atomic_finalize(tmp, final)
    assert final.read_bytes() == b"video" and not tmp.exists()
