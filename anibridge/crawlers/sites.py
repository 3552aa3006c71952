"""Per-site knowledge for the crawl stages: where the title list is and how a title's details are read."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..events.types import EpisodeInfo
from .fetch import Fetcher, FetchError
from .parsers import aniworld, megakino, sto
from .parsers.common import HosterLink, ListedTitle, ParseError, SeriesPage, order_languages
from .parsers.problems import NO_EPISODES, NO_HOSTER, NO_LANGUAGE, note_problem

log = logging.getLogger("anibridge.crawl")

# Movies are one "episode": provider numbering 1/1 keeps magnets and the task model uniform.
MOVIE_SEASON, MOVIE_EPISODE = 1, 1
MAX_CHILD_SITEMAPS = 200
log = logging.getLogger("anibridge.crawl")


@dataclass(frozen=True)
class TitleDetails:
    description: str
    year: int | None
    episodes: list[EpisodeInfo]
    imdb_id: str | None = None
    title: str = ""


class DetailsError(Exception):
    """A title's pages could not be read; ``url`` names the page, the message says what was wrong."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class SiteAdapter:
    site: str
    list_path: str
    parse_list: Callable[[str], Iterator[ListedTitle]]
    parse_series: Callable[[str, str | None], SeriesPage] | None
    parse_season: Callable[[str, int], list[EpisodeInfo]] | None
    # read an episode's languages and hosters from its own page when its season page lacks them
    parse_episode: Callable[[str], list[HosterLink]] | None = None

    async def list_text(self, fetcher: Fetcher) -> str:
        """The title list page; for Megakino a sitemap index's children, joined."""
        page = await fetcher.get(self.list_path)
        if self.site != "megakino":
            return page.text
        children = megakino.parse_sitemap_index(page.text)
        if not children:
            return page.text
        own = urlsplit(fetcher.url_for("/")).netloc
        texts = []
        for url in children[:MAX_CHILD_SITEMAPS]:
            if urlsplit(fetcher.url_for(url)).netloc != own:
                log.warning("megakino: sitemap index lists %s on another host; skipped", url)
                continue
            texts.append((await fetcher.get(url)).text)
        return "\n".join(texts)

    async def details(self, fetcher: Fetcher, slug: str, path: str, media_type: str) -> TitleDetails:
        if self.site == "megakino":  # films and serials alike: one page with its players
            return await self._film(fetcher, slug, path)
        assert self.parse_series is not None and self.parse_season is not None
        series_url = fetcher.url_for(path)
        page = await fetcher.get(path)
        try:
            series = self.parse_series(page.text, slug)
        except ParseError as exc:
            raise DetailsError(series_url, str(exc)) from None
        if not series.season_paths:
            raise DetailsError(series_url, "series page lists no seasons")

        async def season(number: int, season_path: str) -> list[EpisodeInfo]:
            # s.to v2: the series page is a season's page already; no need to fetch it twice
            text = page.text if number == series.shown_season else (await fetcher.get(season_path)).text
            try:
                return self.parse_season(text, number)  # type: ignore[misc]
            except ParseError as exc:
                raise DetailsError(fetcher.url_for(season_path), str(exc)) from None

        seasons = await asyncio.gather(*(season(n, p) for n, p in series.season_paths))
        episodes = sorted((e for eps in seasons for e in eps), key=lambda e: (e.season, e.episode))
        episodes = await self._fill_languages(fetcher, slug, _dedupe(episodes))
        return TitleDetails(series.description, series.year, episodes)

    async def _fill_languages(self, fetcher: Fetcher, slug: str, episodes: list[EpisodeInfo]) -> list[EpisodeInfo]:
        """Episodes whose season page showed no language get them (and hosters) from their own page,
        rather than being published with none: an episode without a language has no release."""
        missing = [e for e in episodes if not e.languages]
        if not missing or self.parse_episode is None:
            return episodes
        log.info("%s: %s: %d episode(s) without a language on the season page; reading their episode pages",
                 self.site, slug, len(missing))
        found = await asyncio.gather(*(self._episode_links(fetcher, e) for e in missing))
        filled = {(e.season, e.episode): links for e, links in zip(missing, found, strict=True)}
        out = []
        for e in episodes:
            links = filled.get((e.season, e.episode))
            if links:
                e = e.model_copy(update={
                    "languages": order_languages([link.language for link in links]),
                    "hosters": list(dict.fromkeys([*e.hosters, *(link.host for link in links)]))})
            out.append(e)
        return out

    async def _episode_links(self, fetcher: Fetcher, episode: EpisodeInfo) -> list[HosterLink]:
        assert self.parse_episode is not None
        try:
            return self.parse_episode((await fetcher.get(episode.path)).text)
        except (FetchError, ParseError) as exc:  # stays without a language: check_details notes it
            log.debug("%s: episode page %s not usable: %s", self.site, episode.path, exc)
            return []

    async def _film(self, fetcher: Fetcher, slug: str, path: str) -> TitleDetails:
        page = await fetcher.get(path)
        url = fetcher.url_for(path)
        try:
            film = megakino.parse_film(page.text)
            serial = megakino.parse_serial_episodes(page.text, slug)
            is_serial = bool(serial) or path.startswith("/serials/") or megakino.is_serial_page(page.text)
        except ParseError as exc:
            raise DetailsError(url, str(exc)) from None
        if film.year is None:
            note_problem("Megakino pages without a year (div.pmovie__year)", url)
        if is_serial:  # one season of a show, never one film
            if not serial:
                raise DetailsError(url, "serial page lists no episodes (no select#ep<N>)")
            if megakino.season_of(film.title, slug) is None:
                note_problem("Megakino serial pages without a season number (taken as season 1)", url)
            # episodes without a hoster stay: the stage counts them ("episodes without a hoster")
            episodes = [EpisodeInfo(season=e.season, episode=e.episode, title_de=e.title, title_en="",
                                    languages=sorted({x.language for x in e.embeds}),
                                    hosters=list(dict.fromkeys(x.host for x in e.embeds)), path=path)
                        for e in serial]
            return TitleDetails("", film.year, episodes, film.imdb_id, megakino.series_title(film.title))
        if not film.embeds:
            raise DetailsError(fetcher.url_for(path), "film page has no player")
        languages = sorted({e.language for e in film.embeds})
        hosters = list(dict.fromkeys(e.host for e in film.embeds))
        ep = EpisodeInfo(season=MOVIE_SEASON, episode=MOVIE_EPISODE, title_de=film.title, title_en=film.title,
                         languages=languages, hosters=hosters, path=path)
        return TitleDetails("", film.year, [ep], film.imdb_id, film.title)


def _dedupe(episodes: list[EpisodeInfo]) -> list[EpisodeInfo]:
    seen: set[tuple[int, int]] = set()
    out = []
    for e in episodes:
        if (e.season, e.episode) not in seen:
            seen.add((e.season, e.episode))
            out.append(e)
    return out


def check_details(details: TitleDetails, url: str) -> None:
    """Note what every site's details must have and these lack (the stage records the notes)."""
    if not details.episodes:
        note_problem(NO_EPISODES, url)
        return
    no_language = [e for e in details.episodes if not e.languages]
    if no_language:
        note_problem(NO_LANGUAGE, no_language[0].path, count=len(no_language))
    no_hoster = [e for e in details.episodes if not e.hosters]
    if no_hoster:
        note_problem(NO_HOSTER, no_hoster[0].path, count=len(no_hoster))


ADAPTERS: dict[str, SiteAdapter] = {
    "aniworld.to": SiteAdapter("aniworld.to", "/animes-alphabet", aniworld.parse_alphabet, aniworld.parse_series,
                               aniworld.parse_season, aniworld.parse_episode_hosters),
    "s.to": SiteAdapter("s.to", "/serien", sto.parse_alphabet, sto.parse_series, sto.parse_season,
                        sto.parse_episode_hosters),
    "megakino": SiteAdapter("megakino", "/sitemap.xml", megakino.parse_sitemap, None, None),
}

