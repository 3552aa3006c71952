"""Rewriting an HLS playlist so every URI in it (segments, variant playlists, keys, init maps,
alternative renditions) points back at the STRM proxy. Relative URIs resolve against the playlist's
own URL first."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urljoin

_URI_TAGS = ("#EXT-X-KEY", "#EXT-X-MAP", "#EXT-X-MEDIA", "#EXT-X-I-FRAME-STREAM-INF", "#EXT-X-SESSION-KEY",
             "#EXT-X-PART", "#EXT-X-PRELOAD-HINT", "#EXT-X-RENDITION-REPORT", "#EXT-X-SESSION-DATA")
_URI_ATTR = re.compile(r'URI=(?:"([^"]*)"|([^,]*))')
_EXTINF = re.compile(r"#EXTINF:\s*([0-9.]+)")


def is_playlist(url_path: str, content_type: str) -> bool:
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime in ("application/vnd.apple.mpegurl", "application/x-mpegurl", "audio/mpegurl", "audio/x-mpegurl"):
        return True
    return url_path.lower().endswith((".m3u8", ".m3u"))


def duration(text: str) -> float:
    """Seconds of media a playlist lists (sum of #EXTINF); 0 for a master playlist."""
    return sum(float(m.group(1)) for m in _EXTINF.finditer(text) if m.group(1).count(".") <= 1)


def rewrite(text: str, base_url: str, proxied: Callable[[str], str]) -> str:
    """``text`` with every URI replaced by ``proxied(absolute URI)``; other lines untouched."""
    out: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            out.append(line)
        elif stripped.startswith("#"):
            if stripped.startswith(_URI_TAGS):
                line = _URI_ATTR.sub(lambda m: _attr(m, base_url, proxied), line)
            out.append(line)
        else:
            out.append(proxied(urljoin(base_url, stripped)))
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def _attr(match: re.Match[str], base_url: str, proxied: Callable[[str], str]) -> str:
    quoted, bare = match.group(1), match.group(2)
    uri = quoted if quoted is not None else bare
    if uri.startswith("data:"):
        return match.group(0)
    new = proxied(urljoin(base_url, uri))
    return f'URI="{new}"' if quoted is not None else f"URI={new}"
