"""Settings of the earlier AniBridge (2.5) that this one deliberately does not read.

A user who keeps their compose file must not lose behaviour silently: every such variable that is
set gets one start-up warning naming it and what to do instead (``Runtime.start`` logs them).
Settings this AniBridge does read are in ``config.py``; this table is the rest of 2.5's config.py.
(2.5 also warned about ``NO_PROXY``; that one is the standard variable httpx honours, so it is not here.)
"""

from __future__ import annotations

from collections.abc import Mapping

_PROXY = ("outbound in-app proxy support was removed (as in AniBridge 2.5); route AniBridge's traffic"
          " through a VPN on the host or a VPN sidecar container instead")
_ALPHABET = ("the catalogue is crawled from the site's own alphabet page under its base URL; set"
             " ANIWORLD_BASE_URL / STO_BASE_URL if the site moved")
_UPDATES = "AniBridge does not check GitHub for updates; watch the image's releases instead"

DROPPED: dict[str, str] = {
    **{name: _PROXY for name in (
        "PROXY_ENABLED", "PROXY_URL", "HTTP_PROXY_URL", "HTTPS_PROXY_URL", "ALL_PROXY_URL", "PROXY_HOST",
        "PROXY_PORT", "PROXY_SCHEME", "PROXY_USERNAME", "PROXY_PASSWORD", "PROXY_FORCE_REMOTE_DNS",
        "PROXY_DISABLE_CERT_VERIFY", "PROXY_APPLY_ENV", "PROXY_IP_CHECK_INTERVAL_MIN", "PROXY_SCOPE")},
    "PUBLIC_IP_CHECK_ENABLED": "the public IP monitor was removed; check the address in your VPN container",
    "PUBLIC_IP_CHECK_INTERVAL_MIN": "the public IP monitor was removed; check the address in your VPN container",
    "ANIWORLD_ALPHABET_URL": _ALPHABET,
    "ANIWORLD_ALPHABET_HTML": _ALPHABET,
    "STO_ALPHABET_URL": _ALPHABET,
    "STO_ALPHABET_HTML": _ALPHABET,
    "AVAILABILITY_TTL_HOURS": ("languages and episodes come from the catalogue, refreshed every"
                               " PROVIDER_INDEX_REFRESH_HOURS (per site: *_INDEX_REFRESH_HOURS)"),
    "PROGRESS_FORCE_BAR": "download progress is shown in Sonarr (torrents/info) and on the status page at /",
    "PROGRESS_STEP_PERCENT": "download progress is shown in Sonarr (torrents/info) and on the status page at /",
    "ANIBRIDGE_RELOAD": "there is no auto-reload; restart the container after changing code",
    "ANIBRIDGE_TEST_MODE": "there is no test mode; tests run against the local provider world (anibridge demo)",
    "DB_MIGRATE_ON_STARTUP": ("there is no database to migrate: the journal is the data and the tables are"
                              " rebuilt from it (anibridge replay)"),
    "DATABASE_URL": "data lives in DATA_DIR (journal.db, catalog.db, tasks.db); set DATA_DIR instead",
    "ANIBRIDGE_LOG_PATH": "logs go to standard output; use docker logs or your service manager's journal",
    "ANIBRIDGE_UPDATE_CHECK": _UPDATES,
    "ANIBRIDGE_GITHUB_OWNER": _UPDATES,
    "ANIBRIDGE_GITHUB_REPO": _UPDATES,
    "ANIBRIDGE_GHCR_IMAGE": _UPDATES,
    "ANIBRIDGE_GITHUB_TOKEN": _UPDATES,
}


def dropped_settings(env: Mapping[str, str]) -> list[str]:
    """Warnings, one per dropped setting that ``env`` sets (names compared case-insensitively)."""
    out: list[str] = []
    upper = {key.upper(): value for key, value in env.items()}
    for name, advice in DROPPED.items():
        if name in upper:
            out.append(f"{name} is set but ignored: {advice}")
    if upper.get("STRM_PROXY_MODE", "").strip().lower() == "redirect":
        out.append("STRM_PROXY_MODE=redirect is not a mode of its own: AniBridge streams through the proxy"
                   " (as STRM_PROXY_MODE=proxy, which is what AniBridge 2.5 did too); set proxy to silence this")
    return out
