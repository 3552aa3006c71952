"""Small Python re-implementations of the decisions Sonarr, Radarr and Prowlarr make on AniBridge's answers.

Each function names the C# file and method it follows (Sonarr at /work/.mirror/Sonarr+Sonarr, Radarr and
Prowlarr likewise; Radarr's qBittorrent client and Torznab parser match Sonarr's in every rule used here).
Only the rules the tests need are re-implemented, but those exactly as the C# decides.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
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


def parse_version(text: str) -> tuple[int, ...]:
    """System.Version.Parse as QBittorrentProxyV2.GetApiVersion uses it: two to four dotted integers."""
    assert re.fullmatch(r"\d+(\.\d+){1,3}", text), f"Version.Parse would throw on {text!r}"
    return tuple(int(p) for p in text.split("."))


def removes_completed_downloads(config: dict[str, Any]) -> bool:
    """QBittorrent.RemovesCompletedDownloads: the client test fails when this is true."""
    minimum_retention = 60 * 24 * 14
    return bool((config["max_ratio_enabled"] or (config["max_seeding_time_enabled"]
                                                  and config["max_seeding_time"] < minimum_retention))
                and config["max_ratio_act"] in (1, 3))


def _seeding_time_reached(torrent: dict[str, Any], config: dict[str, Any], properties: Any) -> bool:
    """QBittorrent.HasReachedSeedingTimeLimit (minutes of limit; seeding_time from the list, else properties)."""
    if torrent.get("seeding_time_limit", -2) >= 0:
        limit = torrent["seeding_time_limit"] * 60
    elif torrent.get("seeding_time_limit", -2) == -2 and config["max_seeding_time_enabled"]:
        limit = config["max_seeding_time"] * 60
    else:
        return False
    seeding = torrent.get("seeding_time")
    if seeding is None:
        seeding = properties(torrent["hash"])["seeding_time"]
    return seeding >= limit


def _inactive_time_reached(torrent: dict[str, Any], config: dict[str, Any]) -> bool:
    """QBittorrent.HasReachedInactiveSeedingTimeLimit."""
    if torrent.get("inactive_seeding_time_limit", -2) >= 0:
        limit = torrent["inactive_seeding_time_limit"] * 60
    elif torrent.get("inactive_seeding_time_limit", -2) == -2 and config["max_inactive_seeding_time_enabled"]:
        limit = config["max_inactive_seeding_time"] * 60
    else:
        return False
    return time.time() - torrent["last_activity"] > limit


def has_reached_seed_limit(torrent: dict[str, Any], config: dict[str, Any], properties: Any) -> bool:
    """QBittorrent.HasReachedSeedLimit (ratio, then seeding time, then inactive seeding time)."""
    ratio_limit = torrent.get("ratio_limit", -2)
    if ratio_limit >= 0:
        if ratio_limit - torrent["ratio"] <= 0.001:
            return True
    elif ratio_limit == -2 and config["max_ratio_enabled"] and config["max_ratio"] - torrent["ratio"] <= 0.001:
        return True
    return _seeding_time_reached(torrent, config, properties) or _inactive_time_reached(torrent, config)


_COMPLETED = {"pausedUP", "stoppedUP", "uploading", "stalledUP", "queuedUP", "forcedUP"}


@dataclass
class DownloadItem:
    """Sonarr's DownloadClientItem as QBittorrent.GetItems builds it (status and message by state)."""

    download_id: str
    title: str
    status: str  # Queued, Paused, Downloading, Completed, Warning, Failed
    message: str
    can_be_removed: bool
    output_path: str | None
    remaining_time: float | None
    category: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def download_item(torrent: dict[str, Any], config: dict[str, Any], api_version: tuple[int, ...],
                  properties: Any, remove_completed: bool = True) -> DownloadItem:
    """QBittorrent.GetItems for one torrent (Radarr's is the same)."""
    state = torrent["state"]
    message = ""
    eta = torrent["eta"]
    remaining = None if eta < 0 or eta > 365 * 24 * 3600 or eta == 8640000 else float(eta)
    if state == "error":
        status, message = "Warning", "qBittorrent is reporting an error"
    elif state in ("stoppedDL", "pausedDL"):
        status = "Paused"
    elif state in ("queuedDL", "checkingDL", "checkingUP", "checkingResumeData"):
        status = "Queued"
    elif state in _COMPLETED:
        status, remaining = "Completed", 0.0
    elif state == "stalledDL":
        status, message = "Warning", "The download is stalled with no connections"
    elif state == "missingFiles":
        status, message = "Warning", "The download is missing files"
    elif state in ("metaDL", "forcedMetaDL"):
        status = "Queued" if config["dht"] else "Warning"
        message = "qBittorrent is downloading metadata" if config["dht"] else "DHT is disabled"
    elif state in ("forcedDL", "moving", "downloading"):
        status = "Downloading"
    else:
        status, message = "Downloading", f"Unknown download state: {state}"
    can_be_removed = (remove_completed and state in ("pausedUP", "stoppedUP")
                      and has_reached_seed_limit(torrent, config, properties))
    output = None
    if api_version >= (2, 6, 1) and status == "Completed":
        if torrent["content_path"] != torrent["save_path"]:
            output = torrent["content_path"]
        else:
            status, message = "Warning", "Unable to import: content path equals save path"
    return DownloadItem(torrent["hash"].upper(), torrent["name"], status, message, can_be_removed, output,
                        remaining, torrent.get("category") or torrent.get("label") or "")


class SonarrQbit:
    """QBittorrentProxyV2's requests: Basic credentials on every call when a user name or password is
    set, a login only when both are (AuthenticateClient), one re-login on 403, else authentication fails."""

    def __init__(self, client: Any, username: str = "", password: str = "", category: str = "tv-sonarr") -> None:
        self.http = client
        self.username, self.password, self.category = username, password, category
        self.cookies: dict[str, str] | None = None
        if username or password:
            self.http.auth = (username, password)

    def _login(self) -> None:
        r = self.http.post("/api/v2/auth/login", data={"username": self.username, "password": self.password})
        if r.status_code in (401, 403):
            raise PermissionError("Failed to authenticate with qBittorrent.")
        r.raise_for_status()
        if r.text.strip() and r.text != "Ok.":
            raise PermissionError("Failed to authenticate with qBittorrent.")
        self.cookies = dict(r.cookies)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        both = bool(self.username.strip() and self.password.strip())
        if both and self.cookies is None:
            self._login()
        r = self.http.request(method, "/api/v2/" + path, cookies=self.cookies, **kwargs)
        if r.status_code == 403:
            if not both:
                raise PermissionError("Failed to authenticate with qBittorrent.")
            self._login()
            r = self.http.request(method, "/api/v2/" + path, cookies=self.cookies, **kwargs)
        r.raise_for_status()
        return r

    def is_api_supported(self) -> bool:
        """QBittorrentProxyV2.IsApiSupported: unauthenticated webapiVersion; 403 counts as supported."""
        r = self.http.get("/api/v2/app/webapiVersion")
        if r.status_code == 404:
            return False
        assert r.status_code != 401, "Failed to connect to qBittorrent"
        assert r.status_code == 403 or r.status_code < 400, r.status_code
        return True

    def api_version(self) -> tuple[int, ...]:
        return parse_version(self.request("GET", "app/webapiVersion").text)

    def config(self) -> dict[str, Any]:
        return dict(self.request("GET", "app/preferences").json())

    def torrents(self) -> list[dict[str, Any]]:
        params = {"category": self.category} if self.category else {}
        return list(self.request("GET", "torrents/info", params=params).json())

    def properties(self, torrent_hash: str) -> dict[str, Any]:
        return dict(self.request("GET", "torrents/properties", params={"hash": torrent_hash.lower()}).json())

    def test(self) -> list[str]:
        """QBittorrent.Test: TestConnection, TestCategory, TestPrioritySupport (default: skipped), TestGetTorrents."""
        failures: list[str] = []
        assert self.is_api_supported()
        version = self.api_version()
        if version < (1, 6) and self.category:
            failures.append("category unsupported")
        if removes_completed_downloads(self.config()):
            failures.append("qBittorrent is configured to remove torrents when they reach their share limit")
        if failures:
            return failures
        if self.category:
            labels = self.request("GET", "torrents/categories").json()
            if self.category not in labels:
                self.request("POST", "torrents/createCategory", data={"category": self.category})
                if self.category not in self.request("GET", "torrents/categories").json():
                    failures.append("category could not be created")
        self.torrents()
        return failures

    def add_magnet(self, magnet: str, ratio: float | None = None, seed_minutes: int | None = None) -> str:
        """QBittorrent.AddFromMagnetLink + AddTorrentFromUrl with the default settings (initial state Start)."""
        if not accepts_magnet(self.config(), magnet):
            raise NotImplementedError("Magnet Links without trackers not supported if DHT is disabled")
        data: dict[str, Any] = {"urls": magnet}
        if self.category:
            data["category"] = self.category
        data["stopped" if self.api_version() >= (2, 11, 0) else "paused"] = "false"
        if ratio is not None:
            data["ratioLimit"] = ratio
        if seed_minutes is not None:
            data["seedingTimeLimit"] = seed_minutes
        result = self.request("POST", "torrents/add", data=data).text
        if result == "Fails.":
            raise RuntimeError("Download client failed to add torrent by url")
        return magnet_hash(magnet)

    def items(self) -> list[DownloadItem]:
        """QBittorrent.GetItems: api version, preferences, then the torrents of the category."""
        version, config = self.api_version(), self.config()
        return [download_item(t, config, version, self.properties) for t in self.torrents()]

    def remove(self, download_id: str, delete_data: bool) -> None:
        """QBittorrent.RemoveItem -> QBittorrentProxyV2.RemoveTorrent."""
        data = {"hashes": download_id.lower()}
        if delete_data:
            data["deleteFiles"] = "true"
        self.request("POST", "torrents/delete", data=data)
