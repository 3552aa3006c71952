"""Download a resolved DirectLink with yt-dlp into the download folder.

``download`` blocks; callers run it in a worker thread. It writes under a hidden temporary name
in ``dest_dir`` and publishes ``<base_name>.<ext>`` atomically, or leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import struct
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from yt_dlp.utils import YoutubeDLError

from anibridge.downloads.files import atomic_finalize, safe_component
from anibridge.downloads.hosts import DirectLink
from anibridge.downloads.ytdlp_net import DownloadStopped, DownloadWatch, GuardedYoutubeDL
from anibridge.netguard import AddressPolicy, BlockedAddress

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int | None, float], None]
_TS_SYNC = 0x47
# Only protocols whose every byte passes through our guarded request handler: no external program
# (ffmpeg, rtmpdump) ever fetches a provider-supplied URL.
_SAFE = "[protocol~='^(https?|m3u8_native)$']"


@dataclass(slots=True, frozen=True)
class DownloadLimits:
    """Caps for one download (settings DOWNLOAD_MAX_SIZE_GB, DOWNLOAD_STALL_SECONDS, DOWNLOAD_MIN_FREE_GB)."""

    max_bytes: int = 10 * 1024**3
    stall_seconds: float = 120.0
    min_free_bytes: int = 1024**3


class DownloadCancelled(Exception):
    """The caller set the cancel event; partial files have been removed."""


class DownloadFailed(Exception):
    """yt-dlp could not download the link; ``reason`` is plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True, frozen=True)
class DownloadResult:
    path: Path
    size: int
    height: int | None
    vcodec: str | None
    quality_label: str


def release_quality(height: int | None, width: int | None = None) -> str:
    """Release-name quality: 480p/720p/1080p/2160p, 'SD' below or when unknown.

    Width counts too, so a letterboxed 1920x800 film is still 1080p.
    """
    if not height and not width:
        return "SD"
    effective = max(height or 0, (width or 0) * 9 // 16)
    for floor, label in ((1800, "2160p"), (900, "1080p"), (600, "720p"), (400, "480p")):
        if effective >= floor:
            return label
    return "SD"


class _LogBridge:
    """yt-dlp's logger interface, routed to Python logging (its own output is switched off)."""

    def debug(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def info(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def warning(self, msg: str) -> None:
        log.warning("yt-dlp: %s", msg)

    def error(self, msg: str) -> None:
        log.error("yt-dlp: %s", msg)


def _ydl_options(
    link: DirectLink, template: str, hook: Callable[[dict[str, Any]], None], timeout: float, ffmpeg: bool,
    rate_limit: int = 0,
) -> dict[str, Any]:
    return {
        # DOWNLOAD_RATE_LIMIT_BYTES_PER_SEC: yt-dlp's own per-download cap (None = unlimited)
        "ratelimit": rate_limit or None,
        "outtmpl": {"default": template},
        "http_headers": dict(link.headers),
        "format": f"best{_SAFE}/bestvideo{_SAFE}+bestaudio{_SAFE}",
        # The link is already resolved: a host-specific yt-dlp extractor would re-scrape a media URL.
        "force_generic_extractor": True,
        "external_downloader": {"default": "native", "m3u8": "native"},
        "hls_prefer_native": True,
        # Should yt-dlp still hand a stream to ffmpeg, ffmpeg may read local files only.
        "external_downloader_args": {"ffmpeg_i": ["-protocol_whitelist", "file,crypto,data"]},
        "fixup": "detect_or_warn" if ffmpeg else "never",
        "noprogress": True,
        "quiet": True,
        "no_warnings": False,
        "logger": _LogBridge(),
        "progress_hooks": [hook],
        "retries": 3,
        "fragment_retries": 3,
        "skip_unavailable_fragments": False,  # a missing segment fails the download, not a file with a gap
        "socket_timeout": timeout,
        "noplaylist": True,
        "continuedl": False,
        "overwrites": True,
        "updatetime": False,
        "cachedir": False,
    }


def download(
    link: DirectLink,
    dest_dir: Path,
    base_name: str,
    *,
    progress: ProgressFn,
    cancel: threading.Event,
    timeout: float,
    rate_limit: int = 0,
    policy: AddressPolicy | None = None,
    limits: DownloadLimits | None = None,
) -> DownloadResult:
    """Download ``link`` to ``dest_dir/<base_name>.<ext>``; raises DownloadCancelled or DownloadFailed.

    Every connection yt-dlp opens passes ``policy`` (default: public addresses only) and is watched
    against ``limits``.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    limits = limits or DownloadLimits()
    watch = DownloadWatch(cancel=cancel, max_bytes=limits.max_bytes, stall_seconds=limits.stall_seconds,
                          folder=dest_dir, min_free_bytes=limits.min_free_bytes)
    stem = safe_component(base_name)
    prefix = f".{stem}.{secrets.token_hex(4)}"
    ffmpeg = shutil.which("ffmpeg") is not None

    def hook(status: dict[str, Any]) -> None:
        if cancel.is_set():
            raise DownloadCancelled(f"download of {stem} was cancelled")
        if status.get("status") == "downloading":
            total = status.get("total_bytes") or status.get("total_bytes_estimate")
            progress(
                int(status.get("downloaded_bytes") or 0),
                int(total) if total else None,
                float(status.get("speed") or 0.0),
            )

    try:
        if cancel.is_set():
            raise DownloadCancelled(f"download of {stem} was cancelled")
        # '%' in a title would otherwise be read as a yt-dlp template field.
        template = str(dest_dir / prefix).replace("%", "%%") + ".%(ext)s"
        options = _ydl_options(link, template, hook, timeout, ffmpeg, rate_limit)
        with GuardedYoutubeDL(options, policy=policy or AddressPolicy(), watch=watch) as ydl:
            info = ydl.extract_info(link.url, download=True, ie_key="Generic")
        tmp = _downloaded_file(info, dest_dir, prefix)
        final = dest_dir / f"{stem}.{_final_ext(tmp, link)}"
        atomic_finalize(tmp, final)
    except DownloadCancelled:
        _remove_partials(dest_dir, prefix)
        raise
    except (YoutubeDLError, DownloadStopped) as exc:
        _remove_partials(dest_dir, prefix)
        if cancel.is_set():
            raise DownloadCancelled(f"download of {stem} was cancelled") from exc
        raise DownloadFailed(watch.reason or _refusal(exc) or _plain(exc)) from exc
    except OSError as exc:
        _remove_partials(dest_dir, prefix)
        raise DownloadFailed(f"could not write to {dest_dir}: {exc.strerror or exc}") from exc
    except BaseException:
        _remove_partials(dest_dir, prefix)
        raise
    _remove_partials(dest_dir, prefix)  # leftovers such as .ytdl fragment state
    return _describe(final, info)


def _downloaded_file(info: dict[str, Any] | None, dest_dir: Path, prefix: str) -> Path:
    for entry in (info or {}).get("requested_downloads") or []:
        path = Path(entry.get("filepath") or "")
        if path.name.startswith(prefix) and path.is_file():
            return path
    found = [p for p in _with_prefix(dest_dir, prefix) if p.is_file() and p.suffix not in (".part", ".ytdl")]
    if len(found) != 1:
        raise DownloadFailed("yt-dlp finished without writing a file")
    return found[0]


def _final_ext(path: Path, link: DirectLink) -> str:
    with open(path, "rb") as fh:
        head = fh.read(189)
    # Without ffmpeg, HLS segments are concatenated MPEG-TS even when yt-dlp names the file .mp4.
    if len(head) >= 189 and head[0] == _TS_SYNC and head[188] == _TS_SYNC:
        return "ts"
    if link.kind == "hls" or path.suffix.lower() in ("", ".unknown_video"):
        return "mp4"
    return path.suffix.lstrip(".").lower() or "mp4"


def _with_prefix(dest_dir: Path, prefix: str) -> list[Path]:
    # Not glob(): titles may contain '[' or ']'.
    return [p for p in dest_dir.iterdir() if p.name.startswith(prefix)]


def _remove_partials(dest_dir: Path, prefix: str) -> None:
    for leftover in _with_prefix(dest_dir, prefix):
        try:
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove partial file %s: %s", leftover, exc)


def _refusal(exc: BaseException) -> str | None:
    """The address guard's own words when a refused connection is what failed the download."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for candidate in (current, getattr(current, "reason", None), getattr(current, "exc_info", (None,) * 2)[1]):
            if isinstance(candidate, BlockedAddress):
                return candidate.reason
        current = current.__cause__ or current.__context__
    return None


def _plain(exc: BaseException) -> str:
    text = str(exc).removeprefix("ERROR: ").strip()
    return text or type(exc).__name__


def _describe(path: Path, info: dict[str, Any] | None) -> DownloadResult:
    info = info or {}
    height, width = _int(info.get("height")), _int(info.get("width"))
    vcodec = _codec_name(info.get("vcodec"))
    if height is None or vcodec is None:
        probed = probe_video(path)
        if probed is not None:
            height = height or probed.height
            width = width or probed.width
            vcodec = vcodec or probed.codec
    return DownloadResult(
        path=path,
        size=path.stat().st_size,
        height=height,
        vcodec=vcodec,
        quality_label=release_quality(height, width),
    )


_CODEC_PREFIXES = (
    ("avc", "h264"),
    ("h264", "h264"),
    ("hvc", "hevc"),
    ("hev", "hevc"),
    ("h265", "hevc"),
    ("hevc", "hevc"),
    ("av01", "av1"),
    ("av1", "av1"),
    ("vp09", "vp9"),
    ("vp9", "vp9"),
)


def _codec_name(value: object) -> str | None:
    """yt-dlp reports RFC 6381 strings such as 'avc1.64001f'; keep only the codec family."""
    if not isinstance(value, str) or value in ("", "none"):
        return None
    lowered = value.lower()
    return next((name for prefix, name in _CODEC_PREFIXES if lowered.startswith(prefix)), lowered)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def probe_video(path: Path) -> VideoTrack | None:
    """Size and codec of the first video stream: the MP4 header when it has one (no subprocess),
    else ffprobe when installed (MPEG-TS from HLS, unusual containers)."""
    track = read_video_track(path)
    if track is not None and track.height:
        return track
    if shutil.which("ffprobe"):
        probed = _ffprobe(path)
        if probed is not None:
            return probed
    return track


def _ffprobe(path: Path) -> VideoTrack | None:
    cmd = [
        "ffprobe",
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=width,height,codec_name",
        "-of",
        "json",
        str(path),
    ]
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=30, check=True).stdout
        stream = json.loads(out)["streams"][0]
        return VideoTrack(
            width=int(stream["width"]), height=int(stream["height"]), codec=stream.get("codec_name")
        )
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, IndexError, TypeError):
        return None


# ------------------------------------------------------------------------ minimal MP4 header reader

_CODECS = {b"avc1": "h264", b"avc3": "h264", b"hvc1": "hevc", b"hev1": "hevc", b"av01": "av1", b"vp09": "vp9"}
_MAX_MOOV = 64 * 1024 * 1024


@dataclass(slots=True, frozen=True)
class VideoTrack:
    width: int
    height: int
    codec: str | None


def read_video_track(path: Path) -> VideoTrack | None:
    """Width/height (``tkhd``) and codec (``stsd``) of the first video track of an MP4, or None."""
    try:
        with open(path, "rb") as fh:
            moov = _read_moov(fh)
    except OSError:
        return None
    if moov is None:
        return None
    for kind, start, end in _boxes(moov, 0, len(moov)):
        if kind == b"trak" and (track := _video_track(moov, start, end)) is not None:
            return track
    return None


def _read_moov(fh: BinaryIO) -> bytes | None:
    """Body of the top-level ``moov`` box, found by seeking so a large ``mdat`` before it is skipped."""
    file_end = fh.seek(0, 2)
    pos = 0
    while pos + 8 <= file_end:
        fh.seek(pos)
        head = fh.read(16)
        size, kind, header = _box_header(head, 0, file_end - pos)
        if size < header:
            return None
        if kind == b"moov":
            if size > _MAX_MOOV:
                return None
            fh.seek(pos + header)
            return fh.read(size - header)
        pos += size
    return None


def _box_header(data: bytes, pos: int, available: int) -> tuple[int, bytes, int]:
    if len(data) - pos < 8:
        return 0, b"", 8
    size, kind = struct.unpack_from(">I4s", data, pos)
    if size == 1:  # 64-bit size follows the type
        if len(data) - pos < 16:
            return 0, kind, 16
        return struct.unpack_from(">Q", data, pos + 8)[0], kind, 16
    if size == 0:  # box runs to the end of its container
        return available, kind, 8
    return size, kind, 8


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    pos = start
    while pos + 8 <= end:
        size, kind, header = _box_header(data, pos, end - pos)
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def _child(data: bytes, start: int, end: int, *path: bytes) -> tuple[int, int] | None:
    for kind in path:
        found = next(((s, e) for k, s, e in _boxes(data, start, end) if k == kind), None)
        if found is None:
            return None
        start, end = found
    return start, end


def _video_track(data: bytes, start: int, end: int) -> VideoTrack | None:
    tkhd = _child(data, start, end, b"tkhd")
    if tkhd is None:
        return None
    # width/height are 16.16 fixed point after the version-dependent times and the 3x3 matrix
    offset = tkhd[0] + (88 if data[tkhd[0]] == 1 else 76)
    if offset + 8 > tkhd[1]:
        return None
    width, height = (v >> 16 for v in struct.unpack_from(">II", data, offset))
    if not width or not height:
        return None  # audio and subtitle tracks have no picture size
    codec = None
    stsd = _child(data, start, end, b"mdia", b"minf", b"stbl", b"stsd")
    if stsd is not None and stsd[0] + 16 <= stsd[1]:
        fourcc = data[stsd[0] + 12 : stsd[0] + 16]
        codec = _CODECS.get(fourcc, fourcc.decode("latin-1").strip() or None)
    return VideoTrack(width=width, height=height, codec=codec)
