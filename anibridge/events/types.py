"""Every event AniBridge records. The journal is the only source of truth; tables derive from these.

Streams: ``catalog:<site>`` (titles and details), ``canonical:<site>`` (TVDB/IMDb mapping),
``task:<hash>`` (one download), ``categories`` (qBittorrent categories).
Changing a payload shape means bumping ``version`` and registering an upcaster in registry.py.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from .registry import Event, register

MediaType = Literal["series", "movie"]


class _Catalog(Event):
    site: str

    def stream(self) -> str:
        return f"catalog:{self.site}"


class _Canonical(Event):
    site: str

    def stream(self) -> str:
        return f"canonical:{self.site}"


class _Task(Event):
    hash: str

    def stream(self) -> str:
        return f"task:{self.hash}"


# --- titles stage -------------------------------------------------------------------------------
@register
class TitlesGenerationStarted(_Catalog):
    type_name = "titles.generation_started"
    generation: int
    url: str


@register
class TitleUpserted(_Catalog):
    """A title is new or its listing changed (decided by ``content_hash``)."""

    type_name = "titles.upserted"
    generation: int
    slug: str
    title: str
    alt_titles: list[str] = []
    path: str
    media_type: MediaType = "series"
    content_hash: str


@register
class TitleRemoved(_Catalog):
    type_name = "titles.removed"
    generation: int
    slug: str


@register
class TitlesGenerationCompleted(_Catalog):
    type_name = "titles.generation_completed"
    generation: int
    total: int
    added: int
    changed: int
    removed: int
    duration_s: float


@register
class TitlesGenerationFailed(_Catalog):
    type_name = "titles.generation_failed"
    generation: int
    reason: str


# --- details stage ------------------------------------------------------------------------------
class EpisodeInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    season: int  # 0 = films / specials (AniWorld "filme", s.to specials)
    episode: int
    title_de: str = ""
    title_en: str = ""
    languages: list[str] = []  # "German Dub", "German Sub", "English Sub", "English Dub"
    hosters: list[str] = []
    path: str


class ParseProblem(BaseModel):
    """Something a title's pages should have shown and did not (see crawlers/parsers/problems.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: str  # plural noun phrase: "episodes without a language"
    count: int
    detail: str = ""  # the first page or item it was seen on


@register
class DetailsRunStarted(_Catalog):
    type_name = "details.run_started"
    run: int
    total: int


@register
class TitleDetailsRecorded(_Catalog):
    """The complete season/episode list of one title; replaces the previous one as a whole."""

    type_name = "details.recorded"
    run: int
    slug: str
    content_hash: str
    description: str = ""
    year: int | None = None
    imdb_id: str | None = None  # film pages (Megakino) that link IMDb
    title: str = ""  # the title as its own page shows it (Megakino's sitemap only gives slugs)
    episodes: list[EpisodeInfo]
    problems: list[ParseProblem] = []  # gaps in what the pages yielded; replaces the title's previous ones


@register
class TitleDetailsFailed(_Catalog):
    type_name = "details.failed"
    run: int
    slug: str
    url: str
    reason: str
    retry_at: float


@register
class DetailsRunProgress(_Catalog):
    """Checkpoint: titles up to ``cursor`` (slug order) are done; lets a killed crawl resume."""

    type_name = "details.run_progress"
    run: int
    cursor: str
    done: int
    failed: int
    unchanged: int


@register
class DetailsRunCompleted(_Catalog):
    type_name = "details.run_completed"
    run: int
    done: int
    failed: int
    unchanged: int
    changed: int
    duration_s: float


@register
class DetailsRunAborted(_Catalog):
    type_name = "details.run_aborted"
    run: int
    reason: str


# --- provider behaviour -------------------------------------------------------------------------
@register
class ProviderChallenged(_Catalog):
    """A provider answered challenge pages (Cloudflare, DDoS-Guard, a captcha) instead of what was asked."""

    type_name = "provider.challenged"
    kind: str  # "DDoS-Guard", "Cloudflare Turnstile", "captcha page", ...
    count: int = 1
    url: str  # the last page that answered it
    stage: str  # titles, details, download


@register
class ProviderHostChanged(_Catalog):
    """A site answered under another of its host names (the previous one failed or blocked)."""

    type_name = "provider.host_changed"
    base_url: str
    previous: str
    reason: str


# --- canonical stage ----------------------------------------------------------------------------
@register
class CanonicalRunStarted(_Canonical):
    type_name = "canonical.run_started"
    run: int
    total: int


@register
class CanonicalRunCompleted(_Canonical):
    type_name = "canonical.run_completed"
    run: int
    matched: int
    unmatched: int
    ambiguous: int
    failed: int
    duration_s: float


@register
class SeriesMatched(_Canonical):
    type_name = "canonical.series_matched"
    slug: str
    tvdb_id: int
    tvdb_title: str
    year: int | None = None
    imdb_id: str | None = None
    confidence: float
    source: str  # "skyhook" or "override"
    reason: str
    details_hash: str = ""


@register
class SeriesUnmatched(_Canonical):
    type_name = "canonical.series_unmatched"
    slug: str
    status: Literal["unmatched", "ambiguous"]
    reason: str
    candidates: list[int] = []
    details_hash: str = ""


@register
class EpisodeMapRecorded(_Canonical):
    """Provider (season, episode) -> TVDB (season, episode, absolute) for one series."""

    type_name = "canonical.episode_map"
    slug: str
    tvdb_id: int
    # [provider_season, provider_episode, tvdb_season, tvdb_episode, absolute or None]
    entries: list[tuple[int, int, int, int, int | None]]


@register
class MovieIdentified(_Canonical):
    type_name = "canonical.movie_identified"
    slug: str
    title: str
    year: int | None = None
    imdb_id: str | None = None
    tmdb_id: int | None = None
    details_hash: str = ""


@register
class CanonicalFailed(_Canonical):
    type_name = "canonical.failed"
    slug: str
    reason: str
    retry_at: float


@register
class CanonicalOverrideSet(_Canonical):
    """A user pinned a title to a TVDB id (``None`` removes the pin). Wins over automatic matches."""

    type_name = "canonical.override"
    slug: str
    tvdb_id: int | None


# --- download tasks -----------------------------------------------------------------------------
@register
class TaskRequested(_Task):
    type_name = "task.requested"
    site: str
    slug: str
    season: int
    episode: int
    language: str
    provider: str | None = None
    mode: str | None = None
    name: str
    magnet: str
    category: str = ""
    save_path: str = ""
    tags: str = ""
    paused: bool = False
    added_on: float
    # qBittorrent share limits as torrents/add took them: -2 = the global limit, -1 = none
    ratio_limit: float = -2.0
    seeding_time_limit: int = -2  # minutes
    inactive_seeding_time_limit: int = -2  # minutes
    # Queue: ``rank`` orders waiting downloads (lower first; None = in the order added); ``forced``
    # downloads start at once, outside MAX_CONCURRENCY (qBittorrent's force start).
    rank: float | None = None
    forced: bool = False


@register
class TaskQueueMoved(_Task):
    """torrents/topPrio, bottomPrio, increasePrio, decreasePrio: the task's new place in the download queue."""

    type_name = "task.queue_moved"
    rank: float


@register
class TaskForceStartSet(_Task):
    """torrents/setForceStart: start at once, whatever MAX_CONCURRENCY says (or back to the queue)."""

    type_name = "task.force_start_set"
    forced: bool


@register
class TaskPaused(_Task):
    type_name = "task.paused"


@register
class TaskResumed(_Task):
    """torrents/start (or a failed task grabbed again); ``automatic``: the worker retrying after a passing
    fault (DOWNLOAD_RETRY_MINUTES), which keeps counting the task's automatic retries."""

    type_name = "task.resumed"
    automatic: bool = False


@register
class TaskDeleted(_Task):
    type_name = "task.deleted"
    delete_files: bool


@register
class TaskCategorySet(_Task):
    type_name = "task.category_set"
    category: str


@register
class TaskShareLimitsSet(_Task):
    """torrents/setShareLimits: when a finished download counts as done seeding (-2 global, -1 none)."""

    type_name = "task.share_limits_set"
    ratio_limit: float
    seeding_time_limit: int  # minutes
    inactive_seeding_time_limit: int  # minutes


@register
class TaskTagsSet(_Task):
    """The torrent's tags after addTags/removeTags/deleteTags (comma-separated)."""

    type_name = "task.tags_set"
    tags: str


@register
class TaskRenamed(_Task):
    type_name = "task.renamed"
    name: str


@register
class TaskLocationSet(_Task):
    """torrents/setLocation on a download not finished yet: where its file will go (relative folder)."""

    type_name = "task.location_set"
    save_path: str


@register
class TaskStarted(_Task):
    type_name = "task.started"
    host: str
    attempt: int = 1


@register
class TaskProgress(_Task):
    type_name = "task.progress"
    downloaded: int
    total: int
    speed: float = 0.0


@register
class TaskCompleted(_Task):
    type_name = "task.completed"
    path: str  # relative to DOWNLOAD_DIR
    size: int
    quality: str = ""
    completed_on: float


@register
class TaskFailed(_Task):
    """A download that cannot finish. ``marker_path`` (relative to DOWNLOAD_DIR) is the marker file written
    for Sonarr and Radarr (FAILED_DOWNLOAD_MARKER), empty when none was written."""

    type_name = "task.failed"
    reason: str
    marker_path: str = ""
    marker_size: int = 0
    retry_at: float | None = None  # a passing fault: the worker tries again then (DOWNLOAD_RETRY_MINUTES)


class _Category(Event):
    name: str

    def stream(self) -> str:
        return "categories"


@register
class CategoryCreated(_Category):
    type_name = "category.created"
    save_path: str = ""


@register
class CategoryEdited(_Category):
    type_name = "category.edited"
    save_path: str = ""


@register
class TagsCreated(Event):
    """torrents/createTags: tags known without any torrent carrying them."""

    type_name = "tags.created"
    tags: list[str]

    def stream(self) -> str:
        return "tags"


@register
class TagsDeleted(Event):
    type_name = "tags.deleted"
    tags: list[str]

    def stream(self) -> str:
        return "tags"


@register
class CategoryRemoved(_Category):
    type_name = "category.removed"
