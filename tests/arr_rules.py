"""Small Python re-implementations of the decisions Sonarr, Radarr and Prowlarr make on AniBridge's answers.

Each function names the C# file and method it follows (Sonarr at /work/.mirror/Sonarr+Sonarr, Radarr and
Prowlarr likewise; Radarr's qBittorrent client and Torznab parser match Sonarr's in every rule used here).
Only the rules the tests need are re-implemented, but those exactly as the C# decides.
"""

from __future__ import annotations

import re
import time
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
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

    def __init__(self, client: Any, username: str = "", password: str = "", category: str = "tv-sonarr",
                 user_agent: str = "Sonarr/4.0.16.2944 (ubuntu 24.04)") -> None:
        self.http = client
        # ManagedHttpDispatcher sets UserAgentBuilder's "<AppName>/<version> (<os> <version>)" on every request
        self.http.headers["User-Agent"] = user_agent
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

    def add_magnet(self, magnet: str, ratio: float | None = None, seed_minutes: int | None = None,
                   move_to_top: bool = False, force_start: bool = False) -> str:
        """QBittorrent.AddFromMagnetLink + AddTorrentFromUrl; by default with Sonarr's default settings
        (initial state Start, priority Last). ``move_to_top``: the Recent/Older priority is "First";
        ``force_start``: the initial state is "Force Start" - both applied once the torrent is loaded."""
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
        download_id = magnet_hash(magnet)
        if (move_to_top or force_start) and self._wait_for_torrent(download_id):
            if move_to_top:  # MoveTorrentToTopInQueue: a 409 (queueing disabled) is ignored, anything else fails
                r = self.http.post("/api/v2/torrents/topPrio", data={"hashes": download_id.lower()},
                                   cookies=self.cookies)
                assert r.status_code in (200, 409), f"Failed to set the torrent priority: {r.status_code}"
            if force_start:
                self.request("POST", "torrents/setForceStart", data={"hashes": download_id.lower(), "value": "true"})
        return download_id

    def _wait_for_torrent(self, download_id: str) -> bool:
        """WaitForTorrent: IsTorrentLoaded (torrents/properties answers) up to 10 times, 100 ms apart."""
        for _ in range(10):
            r = self.http.get("/api/v2/torrents/properties", params={"hash": download_id.lower()},
                              cookies=self.cookies)
            if r.status_code == 200:
                return True
            time.sleep(0.1)
        return False

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


# --- import of a completed download, and failed download handling --------------------------------------
# MediaFiles/FileExtensions.cs and MediaFileExtensions.cs (compared ignoring case, on Path.GetExtension).
DANGEROUS_EXTENSIONS = {".arj", ".lnk", ".lzh", ".ps1", ".scr", ".vbs", ".zipx"}
EXECUTABLE_EXTENSIONS = {".bat", ".cmd", ".exe", ".sh"}
ARCHIVE_EXTENSIONS = {".7z", ".bz2", ".gz", ".r00", ".rar", ".tar.bz2", ".tar.gz", ".tar", ".tb2", ".tbz2",
                      ".tgz", ".zip"}
MEDIA_EXTENSIONS = {".webm", ".m4v", ".3gp", ".nsv", ".ty", ".strm", ".rm", ".rmvb", ".m3u", ".ifo", ".mov",
                    ".qt", ".divx", ".xvid", ".bivx", ".nrg", ".pva", ".wmv", ".asf", ".asx", ".ogm", ".ogv",
                    ".m2v", ".avi", ".bin", ".dat", ".dvr-ms", ".mpg", ".mpeg", ".mp4", ".avc", ".vp3", ".svq3",
                    ".nuv", ".viv", ".dv", ".fli", ".flv", ".wpl", ".img", ".iso", ".vob", ".mkv", ".ts", ".wtv",
                    ".m2ts"}


@dataclass
class ImportResult:
    """One ImportResult: ``reason`` is the first ImportRejectionReason ("" when it would import)."""

    reason: str
    message: str


def _extension(name: str) -> str:
    """Path.GetExtension, lower-cased (the extension sets compare OrdinalIgnoreCase)."""
    base = name.rsplit("/", 1)[-1]
    return "." + base.rsplit(".", 1)[1].lower() if "." in base.strip(".") else ""


def process_path(path: Any, user_rejected_extensions: str = "") -> list[ImportResult]:
    """DownloadedEpisodesImportService.ProcessPath (Radarr: DownloadedMovieImportService) for a download
    Sonarr grabbed, as far as AniBridge's files go: a file is checked by ProcessFile, a folder's video files
    by the import decisions, and a folder without any by CheckEmptyResultForIssue. ``path`` is a local
    pathlib.Path; ``user_rejected_extensions`` is Sonarr's "Additional Rejected File Extensions" (Radarr
    has no such setting)."""
    if path.is_dir():
        files = [f for f in path.rglob("*") if f.is_file()]
        videos = [f for f in files if _extension(f.name) in MEDIA_EXTENSIONS]
        if videos:
            return [ImportResult("", f"would import {v.name}") for v in videos]
        extensions = {_extension(f.name) for f in files}
        if extensions & DANGEROUS_EXTENSIONS:
            return [ImportResult("DangerousFile", "Caution: Found potentially dangerous file")]
        if extensions & EXECUTABLE_EXTENSIONS:
            return [ImportResult("ExecutableFile", "Caution: Found executable file")]
        if extensions & ARCHIVE_EXTENSIONS:
            return [ImportResult("ArchiveFile", "Found archive file, might need to be extracted")]
        return []
    if not path.is_file():
        return []  # LogInaccessiblePathError
    extension = _extension(path.name)
    if path.name.rsplit(".", 1)[0].startswith("._"):
        return [ImportResult("InvalidFilePath", "Invalid video file, filename starts with '._'")]
    if extension in DANGEROUS_EXTENSIONS:
        return [ImportResult("DangerousFile", f"Caution: Found potentially dangerous file with extension: {extension}")]
    if extension in EXECUTABLE_EXTENSIONS:
        return [ImportResult("ExecutableFile", f"Caution: Found executable file with extension: '{extension}'")]
    user = {"." + e.strip(" .").lower() for e in user_rejected_extensions.split(",") if e.strip(" .")}
    if extension in user:
        return [ImportResult("UserRejectedExtension",
                             f"Caution: Found executable file with user defined rejected extension: '{extension}'")]
    if not extension or extension not in MEDIA_EXTENSIONS:
        return [ImportResult("UnsupportedExtension", f"Invalid video file, unsupported extension: '{extension}'")]
    return [ImportResult("", f"would import {path.name}")]


# Indexers/FailDownloads.cs: the indexer's advanced "Fail Downloads" options (empty by default for Torznab).
FAIL_EXECUTABLES = "Executables"
FAIL_DANGEROUS = "Potentially Dangerous"
FAIL_USER_EXTENSIONS = "User Defined Extensions"


def import_completed(item: DownloadItem, local_output: Any, fail_downloads: set[str], app: str = "Sonarr",
                     user_rejected_extensions: str = "") -> tuple[str, str]:
    """CompletedDownloadService.Import then RejectedImportService.Process for a grabbed, completed download:
    ("Imported" | "FailedPending" | "ImportBlocked" | "ImportPending", status message)."""
    assert item.status == "Completed" and item.output_path, "only completed downloads with a path are imported"
    results = process_path(local_output, user_rejected_extensions if app == "Sonarr" else "")
    if results and all(r.reason == "" for r in results):
        return "Imported", ""
    if not results:
        return "ImportPending", f"No files found are eligible for import in {item.output_path}"
    if len(results) == 1 and results[0].reason != "":
        reason = results[0].reason
        options = {"DangerousFile": FAIL_DANGEROUS, "ExecutableFile": FAIL_EXECUTABLES}
        if app == "Sonarr":  # Radarr's RejectedImportService has no user defined extensions
            options["UserRejectedExtension"] = FAIL_USER_EXTENSIONS
        if options.get(reason) in fail_downloads:
            return "FailedPending", ""
        return "ImportBlocked", results[0].message
    return "ImportBlocked", ("One or more episodes expected in this release were not imported or missing from the"
                             " release")


def failed_download_handling(item: DownloadItem, state: str, remove_failed: bool = True) -> tuple[bool, bool]:
    """FailedDownloadService.ProcessFailed (FailedPending -> Failed: the release is blocklisted and, with
    automatic search, another one is searched) and DownloadEventHub.Handle(DownloadFailedEvent) (removed
    from the client with its data only when CanBeRemoved). Returns (blocklisted, removed with data)."""
    if state != "FailedPending":
        return False, False
    return True, remove_failed and item.can_be_removed


# --- Torznab indexer ---------------------------------------------------------------------------------
class IndexerFailure(Exception):
    """What makes Sonarr record an indexer failure and back off (HttpIndexerBase.FetchReleases catches)."""


@dataclass
class Release:
    """Sonarr's TorrentInfo as TorznabRssParser.ProcessItem fills it."""

    title: str
    download_url: str
    magnet_url: str
    info_hash: str
    size: int
    seeders: int | None
    peers: int | None
    publish_date: float
    languages: list[str]
    tvdb_id: int
    imdb_id: str | None
    categories: list[int]


def parse_torznab(response: Any) -> list[Release]:
    """TorznabRssParser (PreProcess, ProcessItem, GetSize, GetLanguages, ...) and RssParser's item rules."""
    if response.status_code >= 400:
        # HttpClient throws HttpException on an error status; FetchReleases records a failure either way
        raise IndexerFailure(f"HTTP {response.status_code}")
    root = ET.fromstring(response.content)
    error = next(root.iter("error"), None)
    if error is not None:
        raise IndexerFailure(f"Torznab error {error.get('code')}: {error.get('description')}")
    releases = []
    for item in root.iter("item"):
        attrs: dict[str, list[str]] = {}
        for a in item.findall(TORZNAB_NS + "attr"):
            attrs.setdefault(a.get("name", "").lower(), []).append(a.get("value", ""))

        def attr(name: str, values: dict[str, list[str]] = attrs) -> str:
            return values.get(name, [""])[0]

        enclosure = item.find("enclosure")
        url = enclosure.get("url", "") if enclosure is not None else ""
        size_text = attr("size")
        size = int(size_text) if size_text.isdigit() else int(enclosure.get("length", "0") if enclosure is not None
                                                              else 0)
        # RssParser.GetPublishDate: an item without a parseable pubDate fails the whole feed
        published = parsedate_to_datetime(item.findtext("pubDate") or "").timestamp()
        imdb = attr("imdb")
        releases.append(Release(
            title=item.findtext("title") or "", download_url=url, magnet_url=attr("magneturl"),
            info_hash=attr("infohash"), size=size,
            seeders=int(attr("seeders")) if attr("seeders") else None,
            peers=int(attr("peers")) if attr("peers") else None, publish_date=published,
            languages=[lang for lang in attrs.get("language", []) if lang.lower() in _ISO_LANGUAGE_NAMES],
            tvdb_id=int(attr("tvdbid")) if attr("tvdbid").isdigit() else 0,
            imdb_id=f"tt{int(imdb):07d}" if imdb.isdigit() and int(imdb) > 0 else None,
            categories=[int(c) for c in attrs.get("category", []) if c.isdigit()]))
    return [r for r in releases if r.title and r.download_url]  # HttpIndexerBase.IsValidRelease


# IsoLanguages.FindByName compares Language.Name: these are the names AniBridge's releases can carry.
_ISO_LANGUAGE_NAMES = {"german", "english", "japanese"}


def fetch_releases(http: Any, tiers: list[list[list[dict[str, Any]]]], *, is_recent: bool = False,
                   last: Release | None = None, page_size: int = 100,
                   max_results: int = 1000) -> tuple[list[Release], int]:
    """HttpIndexerBase.FetchReleases: tiers of pageable requests, each a list of pages; a tier answered
    with releases ends the search. RSS (is_recent) stops paging at the release it saw last time or at
    one older than it. Returns the releases and how many pages were fetched."""
    releases: list[Release] = []
    fetched = 0
    for tier in tiers:
        for pageable in tier:
            paged: list[Release] = []
            for params in pageable:
                page = parse_torznab(http.get("/torznab/api", params=params))
                fetched += 1
                paged += page
                if is_recent and page:
                    if last is None:
                        break
                    oldest = min(r.publish_date for r in page)
                    if oldest < last.publish_date or any(r.download_url == last.download_url for r in page):
                        break
                    if len(paged) >= max_results and oldest < time.time() - 86400:
                        break
                elif len(paged) >= max_results:
                    break
                if len(page) < page_size:  # IsFullPage
                    break
            releases += paged
        if releases:
            break
    return releases, fetched


def paged(params: dict[str, Any], pages: int = 30, page_size: int = 100) -> list[dict[str, Any]]:
    """NewznabRequestGenerator.GetPagedRequests: t, cat, extended=1, then offset/limit per page."""
    return [{**params, "extended": 1, "offset": n * page_size, "limit": page_size} for n in range(pages)]


def clean_scene_title(title: str) -> str:
    """SearchCriteriaBase.GetCleanSceneTitle then NewsnabifyTitle ('+' back to spaces for the query)."""
    clean = re.sub(r"^the\s", "", title, flags=re.IGNORECASE).replace("&", "and")
    clean = re.sub(r"['.\u0060\u00B4\u2018\u2019]", "", clean)
    clean = re.sub(r"\W", "+", clean)
    clean = re.sub(r"\+{2,}", "+", clean)
    clean = "".join(ch for ch in unicodedata.normalize("NFD", clean) if not unicodedata.combining(ch))
    return clean.strip("+ ").replace("+", " ")


# --- release titles as Sonarr parses them (the parts AniBridge's names use) --------------------------
def title_languages(title: str) -> list[str]:
    """LanguageParser.ParseLanguages for AniBridge's tags: 'GER'/'ENG' name the audio, unless followed by
    '.SUB' (LanguageRegex's negative look-ahead); nothing found is 'Unknown'."""
    cleaned = re.sub(r"^.*?[_. ](S\d{2}(?:E\d{2,4})*[_. ].*)$", r"\1", title, flags=re.IGNORECASE)
    found = []
    for match in re.finditer(r"(?i)\b(ger|eng)\b(?!(?:[-_. ](?:ger|eng))*[-_. ]subs?)", cleaned):
        found.append("German" if match.group(1).lower() == "ger" else "English")
    return list(dict.fromkeys(found)) or ["Unknown"]


def release_languages(release: Release, title_langs: list[str], original: str) -> list[str]:
    """AggregateLanguages: the indexer's languages if any, else the title's; Unknown -> the series' original."""
    languages = release.languages or title_langs
    if not languages or languages == ["Unknown"]:
        return [original]
    return languages


def title_quality(title: str) -> str:
    """QualityParser.ParseQualityName for WEB releases: the resolution tag decides; none is WEBDL-480p."""
    resolution = re.search(r"\b(2160p|1080p|720p|576p|480p)\b", title)
    assert re.search(r"[. ]WEB[. ](?:[xh][ .]?26[456])", title, re.IGNORECASE), title
    return "WEBDL-" + {"2160p": "2160p", "1080p": "1080p", "720p": "720p"}.get(
        resolution.group(1) if resolution else "", "480p")


def episode_numbers(title: str) -> tuple[int, int] | None:
    match = re.search(r"[._ ]S(\d{2,3})E(\d{2,4})[._ ]", title)
    return (int(match.group(1)), int(match.group(2))) if match else None
