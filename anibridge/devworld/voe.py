"""VOE-shaped embed pages: today's encoded JSON blob, the mirror interstitial, and the older plain shape.

Shapes (``/_world/shapes`` ``{"voe": ...}``):

- ``encoded`` (default): the source only inside ``<script type="application/json">"<blob>"</script>``, the
  blob being JSON -> base64 -> reversed -> every character shifted up by 3 -> base64 -> marker strings
  scattered in -> ROT13 (what a player decodes in the opposite order). A quarter of the videos first
  answer an interstitial that sends the browser to a mirror (``window.location.href``), as VOE does.
- ``interstitial``: every video answers the interstitial first; the mirror serves the encoded page.
- ``legacy``: ``var sources = {'hls': '<base64 of the m3u8 URL>'}`` (VOE before 2025).
"""

from __future__ import annotations

import base64
import codecs
import json

from anibridge.devworld.rng import rng

SHAPES = ("encoded", "interstitial", "legacy")
MIRROR = "voe-mirror"  # the interstitial's target: /hosts/voe-mirror/e/<vid>
_MARKERS = ("@$", "^^", "~@", "%?", "*~", "!!", "#&")


def encode_payload(data: dict[str, object], salt: str) -> str:
    """The encoded blob for ``data``; ``salt`` decides where the marker strings go (deterministic)."""
    inner = base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()[::-1]
    shifted = "".join(chr(ord(ch) + 3) for ch in inner)
    outer = base64.b64encode(shifted.encode()).decode()
    r = rng("voe-markers", salt)
    pieces, step = [], 0
    while step < len(outer):
        size = r.randint(8, 40)
        pieces.append(outer[step:step + size])
        step += size
    mixed = "".join(piece + r.choice(_MARKERS) for piece in pieces)
    return codecs.encode(mixed, "rot13")


def wants_interstitial(shape: str, vid: str) -> bool:
    if shape == "interstitial":
        return True
    return shape == "encoded" and rng("voe-interstitial", vid).random() < 0.25


def interstitial_html(vid: str, base: str) -> str:
    return (
        "<!DOCTYPE html><html><head>"
        '<script src="https://challenges.cloudflare.com/turnstile/v0/api.js"></script></head><body>'
        f"<script>window.location.href = '{base}/hosts/{MIRROR}/e/{vid}';</script></body></html>"
    )


def encoded_body(vid: str, m3u8: str, base: str) -> str:
    data = {"file_code": vid, "title": f"Video {vid}", "source": m3u8,
            "direct_access_url": f"{base}/hosts/voe/{vid}", "fallback": []}
    blob = json.dumps(encode_payload(data, vid))
    return (f'<div id="vplayer" class="player"></div><script type="application/json">{blob}</script>'
            '<script src="/js/player.min.js?v=5"></script>')


def legacy_body(m3u8: str) -> str:
    encoded = base64.b64encode(m3u8.encode()).decode()
    return f"<script>var sources = {{'hls': '{encoded}', 'video_height': 720}};</script>"
