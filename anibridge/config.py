"""All settings in one place, read from the environment.

Names follow earlier AniBridge releases so existing deployments keep working.
An invalid value stops start-up with one line naming the variable (see ``load_settings``).
"""

from __future__ import annotations

import ipaddress
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .netguard import AddressPolicy

SITES = ("aniworld.to", "s.to", "megakino")
SITE_ALIASES = {"aniworld": "aniworld.to", "aniworld.to": "aniworld.to", "sto": "s.to", "s.to": "s.to",
                "serienstream": "s.to", "serienstream.to": "s.to", "serienstream.cx": "s.to",
                "megakino": "megakino"}
# s.to answers under several names (the site id stays "s.to"); tried in this order when one fails
STO_PUBLIC_BASE_URLS = ("https://serienstream.to", "https://s.to", "https://serienstream.cx")
MEGAKINO_DOMAINS = ("megakino.lol", "megakino8.com", "megakino1.to", "megakino.live", "megakino1.fit",
                    "megakino.cloud", "megakino.cx", "megakino.ms", "megakino.video", "megakino.to")
HOSTS = ("VOE", "Filemoon", "Streamtape", "Vidmoly", "Doodstream", "LoadX", "Luluvdo", "Vidoza", "GXPlayer")


class ConfigError(Exception):
    """A setting has a value AniBridge cannot use; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", populate_by_name=True)

    anibridge_host: str = "0.0.0.0"
    anibridge_port: int = Field(8000, ge=1, le=65535)
    data_dir: Path = Path("./data")
    download_dir: Path | None = None
    qbit_public_save_path: str | None = None
    qbit_username: str | None = None
    qbit_password: str | None = None
    catalog_sites: str = ",".join(SITES)
    aniworld_base_url: str = "https://aniworld.to"
    sto_base_url: str = "https://serienstream.to"
    # Megakino moves to a new domain about weekly. MEGAKINO_BASE_URL pins one; unset, the live domain is
    # found among MEGAKINO_DOMAIN_CANDIDATES (redirects followed, the sitemap must answer) at start-up and
    # re-checked every MEGAKINO_DOMAIN_CHECK_INTERVAL_MIN minutes (0: only at start-up).
    megakino_base_url: str | None = None
    megakino_domain_candidates: str = ",".join(MEGAKINO_DOMAINS)
    megakino_domain_check_interval_min: int = Field(100, ge=0)
    _megakino_live_url: str | None = PrivateAttr(None)
    skyhook_base_url: str = "https://skyhook.sonarr.tv"
    indexer_api_key: str | None = None
    indexer_name: str = "AniBridge"
    torznab_cat_anime: int = Field(5070, ge=1)
    torznab_cat_movie: int = Field(2000, ge=1)
    provider_order: str = ",".join(HOSTS)
    provider_index_refresh_hours: float = Field(24.0, gt=0)
    aniworld_index_refresh_hours: float | None = Field(None, gt=0)
    sto_index_refresh_hours: float | None = Field(None, gt=0)
    megakino_index_refresh_hours: float | None = Field(None, gt=0)
    provider_direct_link_timeout_seconds: float = Field(20.0, gt=0)
    crawl_concurrency: int = Field(4, ge=1, le=64)
    crawl_failure_threshold: float = Field(0.2, ge=0, le=1)
    max_concurrency: int = Field(3, ge=1, le=32)
    delete_files_on_torrent_delete: bool = False
    # How a download that cannot finish is shown: qBittorrent's "error" state, which Sonarr and Radarr
    # never fail on their own, or a finished download holding only a marker file they reject and fail.
    failed_download_marker: Literal["arr", "always", "off"] = "arr"
    # A download failed by a passing fault (site down, low disk...) is tried again after these minutes, one
    # retry per entry; empty = never by itself.
    download_retry_minutes: str = "5,30,120"
    catalog_enabled: bool = True
    # Apply catalogue events in a child process, so a crawl's bursts never compete with searches for
    # the server's interpreter lock.
    catalog_projector_process: bool = True
    # Scheduled crawls run in a child process (out of the server's interpreter lock), niced by
    # CRAWL_NICE steps so that answering Sonarr always comes before refreshing the catalogue.
    crawl_process: bool = True
    crawl_nice: int = Field(10, ge=0, le=19)
    log_level: str = "INFO"
    # LAN and browser defences (qBittorrent's WebUI names in brackets).
    # Failed qBittorrent logins from one address before it is banned, 0 = never [web_ui_max_auth_fail_count].
    qbit_max_auth_fail_count: int = Field(5, ge=0, le=1_000_000)
    qbit_ban_duration_seconds: int = Field(3600, ge=1, le=31_536_000)  # [web_ui_ban_duration]
    # Refuse state-changing requests whose Origin/Referer names another site [web_ui_csrf_protection_enabled].
    anibridge_csrf_protection: bool = True
    # Answer only Host names that are this server's (DNS rebinding) [web_ui_host_header_validation_enabled].
    anibridge_host_header_validation: bool = True
    # More accepted Host names, ';' or ',' separated, '*' wildcards (e.g. anibridge.example.com;*.home.net)
    # [web_ui_domain_list].
    anibridge_domain_list: str = ""
    # Largest request body taken on any route (413 above it).
    anibridge_max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024, le=1024**3)
    # A client must send a request's headers within this time; open connections per client address.
    anibridge_header_timeout_seconds: float = Field(10.0, gt=0, le=3600)
    anibridge_max_connections_per_client: int = Field(64, ge=1, le=100_000)
    # s.to host names and provider challenges (issue 15)
    # Other s.to base URLs to try when STO_BASE_URL does not resolve or answers a block page. Unset: the
    # public names, but only while STO_BASE_URL is one of them (a self-hosted mirror is never left).
    sto_fallback_base_urls: str | None = None
    # A challenge page (Cloudflare, DDoS-Guard, a captcha) pauses requests to that site this long.
    provider_challenge_backoff_seconds: float = Field(300.0, ge=0)

    # --- AniBridge 2.5 settings: STRM, release naming, Torznab knobs, cleanup, CORS, metadata ----------
    # (names and defaults as the earlier AniBridge had them; see the README's configuration table)
    strm_files_mode: Literal["no", "both", "only"] = "no"
    strm_proxy_mode: Literal["direct", "proxy"] = "direct"
    strm_public_base_url: str = ""
    strm_proxy_auth: Literal["token", "apikey", "none"] = "token"
    strm_proxy_secret: str = ""
    strm_proxy_token_ttl_seconds: int = Field(900, ge=1)
    strm_proxy_cache_ttl_seconds: int = Field(0, ge=0)
    strm_proxy_upstream_allowlist: str = ""
    source_tag: str = "WEB"
    release_group: str = "aniworld"
    release_group_aniworld: str | None = None  # unset: RELEASE_GROUP
    release_group_sto: str = "sto"
    torznab_fake_seeders: int = Field(999, ge=1)
    torznab_fake_leechers: int = Field(787, ge=0)
    torznab_return_test_result: bool = True
    torznab_test_title: str = "AniBridge Connectivity Test"
    torznab_test_slug: str = "connectivity-test"
    torznab_test_season: int = Field(1, ge=0, le=10_000)
    torznab_test_episode: int = Field(1, ge=0, le=10_000)
    torznab_test_language: str = "German Dub"
    torznab_season_search_mode: Literal["fast", "strict"] = "fast"
    torznab_season_search_max_episodes: int = Field(60, ge=1, le=10_000)
    torznab_season_search_max_consecutive_misses: int = Field(3, ge=1, le=10_000)
    download_rate_limit_bytes_per_sec: int = Field(0, ge=0)
    downloads_ttl_hours: float = Field(0.0, ge=0)
    cleanup_scan_interval_min: float = Field(30.0, gt=0)
    anibridge_cors_origins: str = ""
    anibridge_cors_allow_credentials: bool = True
    provider_redirect_timeout_seconds: float = Field(12.0, gt=0)
    provider_redirect_retries: int = Field(2, ge=0, le=10)
    specials_metadata_enabled: bool = True
    specials_metadata_timeout_seconds: float = Field(8.0, gt=0)
    specials_metadata_cache_ttl_minutes: int = Field(360, ge=0)
    specials_match_confidence_threshold: float = Field(0.5, ge=0, le=1)
    aniworld_titles_refresh_hours: float | None = Field(None, ge=0)
    sto_titles_refresh_hours: float | None = Field(None, ge=0)
    megakino_titles_refresh_hours: float | None = Field(None, ge=0)
    # Settings of the earlier AniBridge that this one does not read (see anibridge/compat.py)
    _dropped: list[str] = PrivateAttr(default_factory=list)
    # Hostile providers and hosts: where the downloader may connect, and how much a provider may send.
    download_allowed_hosts: str = ""
    provider_max_page_mb: float = Field(16.0, gt=0)
    provider_fetch_deadline_seconds: float = Field(120.0, gt=0)
    download_max_size_gb: float = Field(10.0, gt=0)
    download_min_free_gb: float = Field(1.0, ge=0)
    download_stall_seconds: float = Field(120.0, gt=0)
    qbit_max_torrents_per_add: int = Field(100, ge=1)
    # Reverse proxies (nginx, Traefik, Caddy) whose X-Forwarded-For names the client: addresses or networks,
    # ',' or ';' separated [WebUI\TrustedReverseProxiesList]. Empty: trust nobody, the peer is the client.
    anibridge_trusted_proxies: str = ""

    @field_validator("anibridge_trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, v: str) -> str:
        networks: list[str] = []
        for entry in (e.strip() for e in v.replace(";", ",").split(",")):
            if not entry:
                continue
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network (like 172.18.0.2 or"
                                 " 172.18.0.0/16)") from None
            if network.prefixlen == 0:
                raise ValueError(f"{entry!r} trusts every address: any client could then name itself in"
                                 " X-Forwarded-For and dodge its login ban; list your proxies' addresses")
            networks.append(str(network))
        return ",".join(dict.fromkeys(networks))

    @property
    def trusted_proxies(self) -> list[str]:
        return [n for n in self.anibridge_trusted_proxies.split(",") if n]

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        **sources: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only the values passed in: load_settings reads the environment itself (dropping empty values,
        # honouring its ``env`` argument); pydantic-settings reading os.environ again would undo both.
        return (init_settings,)

    @field_validator("anibridge_domain_list")
    @classmethod
    def _domains(cls, v: str) -> str:
        names = [n.strip().lower() for n in v.replace(",", ";").split(";") if n.strip()]
        for name in names:
            if any(c.isspace() or c in "/@" for c in name):
                raise ValueError(f"{name!r} is not a host name or pattern (like anibridge.example.com or *.lan)")
        return ";".join(names)

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.upper()
        if v not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return v

    @field_validator("catalog_sites")
    @classmethod
    def _sites(cls, v: str) -> str:
        out = []
        for raw in v.split(","):
            name = raw.strip().lower()
            if not name:
                continue
            if name not in SITE_ALIASES:
                raise ValueError(f"unknown site {raw.strip()!r} (known: {', '.join(SITES)})")
            if SITE_ALIASES[name] not in out:
                out.append(SITE_ALIASES[name])
        return ",".join(out)

    @field_validator("provider_order")
    @classmethod
    def _order(cls, v: str) -> str:
        known = {h.lower(): h for h in HOSTS}
        out = []
        for raw in v.split(","):
            name = raw.strip()
            if not name:
                continue
            if name.lower() not in known:
                raise ValueError(f"unknown video host {name!r} (known: {', '.join(HOSTS)})")
            out.append(known[name.lower()])
        return ",".join(out)

    @field_validator("megakino_domain_candidates")
    @classmethod
    def _candidates(cls, v: str) -> str:
        out = [megakino_candidate_url(raw) for raw in v.split(",") if raw.strip()]
        if not out:
            raise ValueError("list at least one domain (e.g. megakino.lol) or URL")
        return ",".join(dict.fromkeys(out))

    @field_validator("aniworld_base_url", "sto_base_url", "megakino_base_url", "skyhook_base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = v.strip().rstrip("/")
        if not (v.startswith("http://") or v.startswith("https://")):
            raise ValueError("must start with http:// or https://")
        return v

    @field_validator("sto_fallback_base_urls")
    @classmethod
    def _urls(cls, v: str | None) -> str | None:
        if v is None:
            return None
        return ",".join(cls._url(part) for part in v.split(",") if part.strip())

    @field_validator("strm_proxy_mode", mode="before")
    @classmethod
    def _strm_proxy_mode(cls, v: object) -> object:
        # The earlier AniBridge accepted "redirect" and streamed like "proxy" (compat.py warns).
        value = v.strip().lower() if isinstance(v, str) else v
        return "proxy" if value == "redirect" else value

    @field_validator("strm_files_mode", "strm_proxy_auth", "torznab_season_search_mode", "failed_download_marker",
                     mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("download_retry_minutes")
    @classmethod
    def _retry_minutes(cls, v: str) -> str:
        parts = [p.strip() for p in v.split(",") if p.strip()]
        try:
            minutes = [float(p) for p in parts]
        except ValueError:
            raise ValueError("must be minutes separated by commas, e.g. 5,30,120") from None
        if any(m <= 0 or m != m for m in minutes):
            raise ValueError("every retry delay must be more than 0 minutes")
        return ",".join(parts)

    @property
    def download_retry_delays(self) -> list[float]:
        """DOWNLOAD_RETRY_MINUTES in seconds, one entry per automatic retry."""
        return [float(p) * 60 for p in self.download_retry_minutes.split(",") if p]

    @field_validator("strm_public_base_url")
    @classmethod
    def _public_url(cls, v: str) -> str:
        v = v.strip().rstrip("/")
        if v and not (v.startswith("http://") or v.startswith("https://")):
            raise ValueError("must start with http:// or https://")
        return v

    @field_validator("torznab_test_language")
    @classmethod
    def _test_language(cls, v: str) -> str:
        known = ("German Dub", "German Sub", "English Sub", "English Dub")
        if v not in known:
            raise ValueError(f"must be one of {', '.join(known)}")
        return v

    @field_validator("torznab_test_slug")
    @classmethod
    def _test_slug(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,199}", v) or ".." in v:
            raise ValueError("must be lowercase letters, digits, '.', '_' and '-'")
        return v

    @field_validator("download_allowed_hosts")
    @classmethod
    def _allowed_hosts(cls, v: str) -> str:
        AddressPolicy.parse(v)  # raises ValueError naming the bad entry
        return v

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        if self.download_dir is None:
            self.download_dir = self.data_dir / "downloads"
        if self.strm_proxy_mode == "proxy":
            if not self.strm_public_base_url:
                raise ValueError("STRM_PUBLIC_BASE_URL is required when STRM_PROXY_MODE=proxy (the address"
                                 " Jellyfin/Plex use to reach AniBridge, e.g. http://anibridge:8000)")
            if self.strm_proxy_auth != "none" and not self.strm_proxy_secret:
                raise ValueError("STRM_PROXY_SECRET is required when STRM_PROXY_MODE=proxy and"
                                 f" STRM_PROXY_AUTH={self.strm_proxy_auth} (any long random string)")
        return self

    # Derived views -------------------------------------------------------
    @property
    def sites(self) -> list[str]:
        return [s for s in self.catalog_sites.split(",") if s] if self.catalog_enabled else []

    @property
    def domain_list(self) -> list[str]:
        names = [n for n in self.anibridge_domain_list.split(";") if n]
        # Media servers play .strm files by STRM_PUBLIC_BASE_URL: its name is this server's too.
        strm_host = urlsplit(self.strm_public_base_url).hostname if self.strm_public_base_url else None
        return [*names, strm_host] if strm_host and strm_host not in names else names

    @property
    def hosts(self) -> list[str]:
        return [h for h in self.provider_order.split(",") if h]

    @property
    def downloads_path(self) -> Path:
        assert self.download_dir is not None
        return self.download_dir

    @property
    def journal_path(self) -> Path:
        return self.data_dir / "journal.db"

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.db"

    @property
    def tasks_path(self) -> Path:
        return self.data_dir / "tasks.db"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def address_policy(self) -> AddressPolicy:
        return AddressPolicy.parse(self.download_allowed_hosts)

    def base_url(self, site: str) -> str:
        return {"aniworld.to": self.aniworld_base_url, "s.to": self.sto_base_url,
                "megakino": self.megakino_url}[site]

    @property
    def megakino_candidates(self) -> list[str]:
        return self.megakino_domain_candidates.split(",")

    @property
    def megakino_url(self) -> str:
        """Megakino's base URL in use: the pinned one, else the live domain found, else the first candidate."""
        return self.megakino_base_url or self._megakino_live_url or self.megakino_candidates[0]

    def use_megakino_url(self, url: str) -> None:
        """Record the live Megakino domain (found by ``crawlers.domains``); a pinned MEGAKINO_BASE_URL still wins."""
        self._megakino_live_url = url.rstrip("/")

    def base_urls(self, site: str) -> list[str]:
        """The site's base URL first, then the other names it answers under (s.to only)."""
        primary = self.base_url(site)
        if site != "s.to":
            return [primary]
        if self.sto_fallback_base_urls is not None:
            others = self.sto_fallback_base_urls.split(",")
        elif primary.lower() in STO_PUBLIC_BASE_URLS:
            others = list(STO_PUBLIC_BASE_URLS)
        else:
            others = []
        return list(dict.fromkeys([primary, *(u for u in others if u)]))

    def refresh_hours(self, site: str) -> float:
        """Hours between catalogue refreshes of ``site``; 0 = never again after the first complete crawl."""
        override = {"aniworld.to": self.aniworld_index_refresh_hours, "s.to": self.sto_index_refresh_hours,
                    "megakino": self.megakino_index_refresh_hours}[site]
        titles = {"aniworld.to": self.aniworld_titles_refresh_hours, "s.to": self.sto_titles_refresh_hours,
                  "megakino": self.megakino_titles_refresh_hours}[site]
        if override:
            return override
        return titles if titles is not None else self.provider_index_refresh_hours

    def release_group_of(self, site: str) -> str:
        """The ``-GROUP`` of a site's release names, upper-cased; empty = no group."""
        group = {"aniworld.to": self.release_group_aniworld if self.release_group_aniworld is not None
                 else self.release_group, "s.to": self.release_group_sto, "megakino": "megakino"}[site]
        return group.strip().upper()

    @property
    def strm_allowlist(self) -> list[str]:
        return [h.strip().lower().rstrip(".") for h in self.strm_proxy_upstream_allowlist.split(",") if h.strip()]

    @property
    def cors_origins(self) -> list[str]:
        """Allowed browser origins; [] = CORS off (the default here; the earlier AniBridge allowed every origin)."""
        raw = self.anibridge_cors_origins.strip()
        if raw.lower() in ("", "off", "none"):
            return []
        return ["*"] if raw == "*" else [o.strip().rstrip("/") for o in raw.split(",") if o.strip()]

    @property
    def dropped_settings(self) -> list[str]:
        return list(self._dropped)


# Settings where an empty value means something (no release group), as in AniBridge 2.5.
_EMPTY_IS_A_VALUE = frozenset({"release_group", "release_group_sto"})


_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9]$")


def megakino_candidate_url(raw: str) -> str:
    """'megakino.lol' -> 'https://megakino.lol'; an http(s) URL stays (minus a trailing slash)."""
    value = raw.strip().rstrip("/")
    if value.startswith(("http://", "https://")):
        return value
    if not _DOMAIN.match(value.lower()):
        raise ValueError(f"{value!r} is neither a domain name nor an http(s) URL")
    return "https://" + value.lower()


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Build settings from the environment; raise ConfigError naming the first bad variable."""
    source = dict(os.environ if env is None else env)
    # pydantic-settings treats empty strings as values; an empty optional means "unset".
    for key in list(source):
        if source[key] == "" and key.lower() in Settings.model_fields and key.lower() not in _EMPTY_IS_A_VALUE:
            del source[key]
    try:
        settings = Settings(**{k.lower(): v for k, v in source.items() if k.lower() in Settings.model_fields})
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")
        if not err["loc"]:  # a rule about several settings together; the message names them
            raise ConfigError(f"invalid settings: {msg}") from None
        name = str(err["loc"][0]).upper()
        value = source.get(name, source.get(name.lower(), ""))
        raise ConfigError(f"invalid setting {name}={value!r}: {msg}") from None
    from .compat import dropped_settings

    settings._dropped = dropped_settings(source)
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
