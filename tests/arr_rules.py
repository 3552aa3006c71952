"""Small Python re-implementations of the decisions Sonarr, Radarr and Prowlarr make on AniBridge's answers.

Each function names the C# file and method it follows (Sonarr at /work/.mirror/Sonarr+Sonarr, Radarr and
Prowlarr likewise; Radarr's qBittorrent client and Torznab parser match Sonarr's in every rule used here).
Only the rules the tests need are re-implemented, but those exactly as the C# decides.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

TORZNAB_NS = "{http://torznab.com/schemas/2015/feed}"


# --- qBittorrent download client ---------------------------------------------------------------------
def accepts_magnet(preferences: dict[str, Any], magnet: str) -> bool:
    """Sonarr QBittorrent.AddFromMagnetLink (Radarr's is the same): a magnet without ``&tr=`` is refused
    with NotSupportedException when ``app/preferences`` says ``dht`` is off."""
    return bool(preferences.get("dht")) or "&tr=" in magnet


def magnet_hash(magnet: str) -> str:
    """TorrentClientBase.DownloadFromMagnetUrl: MagnetLink.Parse(...).InfoHashes.V1OrV2.ToHex() (upper case)."""
    fields = dict(parse_qsl(magnet.split("?", 1)[1], keep_blank_values=True))
    xt = fields["xt"]
    assert xt.lower().startswith("urn:btih:"), xt
    value = xt[9:]
    assert re.fullmatch(r"[0-9A-Fa-f]{40}", value), value
    return value.upper()
