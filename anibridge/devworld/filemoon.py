"""Filemoon-shaped embed pages: the packed jwplayer page and the API-only ("Byse") player.

Shapes (``/_world/shapes`` ``{"filemoon": ...}``):

- ``mixed`` (default): a third of the videos are Byse pages, the rest packed pages, as Filemoon serves now.
- ``packed``: ``eval(function(p,a,c,k,e,d){...}('<payload>',36,<n>,'<words>'.split('|')))`` around
  ``jwplayer("vplayer").setup({sources:[{file:"<m3u8>"}], ...})``.
- ``byse``: an app shell with no source; ``/hosts/filemoon/api/videos/<vid>`` answers JSON whose
  ``playback`` is ``{"algorithm": "AES-256-GCM", "iv", "payload", "key_parts": [k1, k2]}`` (base64url;
  key = k1 + k2, payload = ciphertext + 16-byte tag) over ``{"sources": [{"url", "mime_type", ...}]}``.
- ``plain``: the jwplayer setup without packing (the devworld's old page).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

from yt_dlp.aes import aes_ctr_encrypt, aes_encrypt, ghash, inc, key_expansion

from anibridge.devworld.rng import base36, rng

SHAPES = ("mixed", "packed", "byse", "plain")


def is_byse(shape: str, vid: str) -> bool:
    return shape == "byse" or (shape == "mixed" and rng("filemoon-byse", vid).random() < 1 / 3)


def setup_script(m3u8: str, base: str, vid: str) -> str:
    return (f'jwplayer("vplayer").setup({{sources:[{{file:"{m3u8}"}}],image:"{base}/hosts/media/{vid}.jpg",'
            'width:"100%",height:"100%",stretching:"uniform",preload:"auto",androidhls:"true"});')


def pack(source: str) -> str:
    """Dean Edwards' packer with radix 36: every word becomes its base-36 index in the word table."""
    words: list[str] = []
    index: dict[str, int] = {}
    for word in re.findall(r"\b\w+\b", source):
        if word not in index:
            index[word] = len(words)
            words.append(word)
    payload = re.sub(r"\b\w+\b", lambda m: base36(index[m.group(0)]), source)
    payload = payload.replace("\\", "\\\\").replace("'", "\\'")
    return ("eval(function(p,a,c,k,e,d){while(c--)if(k[c])p=p.replace(new RegExp('\\\\b'+c.toString(a)+'\\\\b',"
            f"'g'),k[c]);return p}}('{payload}',36,{len(words)},'{'|'.join(words)}'.split('|')))")


def byse_shell(vid: str) -> str:
    return ('<div id="root"></div>'
            f'<script type="module" crossorigin src="/assets/index-{hashlib.sha1(vid.encode()).hexdigest()[:8]}.js">'
            "</script>")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def gcm_encrypt(plain: bytes, key: bytes, nonce: bytes) -> bytes:
    """AES-GCM (12-byte nonce, no associated data): ciphertext followed by the 16-byte tag."""
    key_list, j0 = list(key), [*nonce, 0, 0, 0, 1]
    cipher = aes_ctr_encrypt(list(plain), key_list, inc(j0))
    subkey = aes_encrypt([0] * 16, key_expansion(key_list))
    pad = (16 - len(cipher) % 16) % 16
    tag = aes_ctr_encrypt(ghash(subkey, cipher + [0] * (pad + 8) + list((len(cipher) * 8).to_bytes(8))), key_list, j0)
    return bytes(cipher + tag)


def api_answer(vid: str, m3u8: str) -> dict[str, object]:
    r = rng("filemoon-keys", vid)
    parts = [r.randbytes(16), r.randbytes(16)]
    nonce = r.randbytes(12)
    sources = {"sources": [{"quality": "h", "label": "720p", "mime_type": "application/vnd.apple.mpegurl",
                            "url": m3u8}]}
    sealed = gcm_encrypt(json.dumps(sources).encode(), parts[0] + parts[1], nonce)
    return {"id": vid, "title": f"Video {vid}",
            "playback": {"algorithm": "AES-256-GCM", "iv": _b64url(nonce), "payload": _b64url(sealed),
                         "key_parts": [_b64url(p) for p in parts]}}
