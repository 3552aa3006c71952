"""Season tables (AniWorld, older s.to) and hoster lists on episode pages."""

from __future__ import annotations

import re

from parsel import Selector

from anibridge.events.types import EpisodeInfo

from .common import (
    ENGLISH_DUB,
    ENGLISH_SUB,
    GERMAN_DUB,
    GERMAN_SUB,
    LANGUAGE_BY_KEY,
    HosterLink,
    ParseError,
    clean,
    dedupe,
    host_name,
    language_from_label,
    order_languages,
    small_int,
    text_of,
)

FLAG_LANGUAGES = {
    "german.svg": GERMAN_DUB,
    "japanese-german.svg": GERMAN_SUB,
    "japanese-english.svg": ENGLISH_SUB,
    "english.svg": ENGLISH_DUB,
    "english-german.svg": ENGLISH_DUB,
}
_REDIRECT = re.compile(r"/redirect/\S+")


def parse_episode_table(sel: Selector, season: int, episode_link: re.Pattern[str], *,
                        what: str = "season page") -> list[EpisodeInfo]:
    """Rows of ``table.seasonEpisodesList``. ``episode_link`` has groups path, episode, film."""
    table = sel.css("table.seasonEpisodesList")
    if not table:
        raise ParseError(f"{what} has no table.seasonEpisodesList")
    episodes: dict[int, EpisodeInfo] = {}
    for row in table.css('tr[itemtype*="schema.org/Episode"]'):
        link = _episode_link(row, episode_link)
        number = small_int(row.css('meta[itemprop="episodeNumber"]::attr(content)').get())
        if number is None and link is not None:
            number = small_int(link.group("episode") or link.group("film"))
        if number is None:
            raise ParseError(f"{what}: episode row without episodeNumber")
        if link is None:
            raise ParseError(f"{what}: episode {number} row has no episode link")
        if number in episodes:
            continue
        episodes[number] = EpisodeInfo(
            season=0 if link.group("film") else season,
            episode=number,
            title_de=text_of(row, "td.seasonEpisodeTitle strong"),
            title_en=text_of(row, "td.seasonEpisodeTitle span"),
            languages=_languages(row),
            hosters=_hosters(row),
            path=link.group("path"),
        )
    return [episodes[n] for n in sorted(episodes)]


def _episode_link(row: Selector, episode_link: re.Pattern[str]) -> re.Match[str] | None:
    hrefs = row.css('a[itemprop="url"]::attr(href)').getall() + row.css("a::attr(href)").getall()
    for href in hrefs:
        match = episode_link.search(href)
        if match:
            return match
    return None


def _languages(row: Selector) -> list[str]:
    found: list[str] = []
    for img in row.css("td.editFunctions img, img.flag"):
        src = img.attrib.get("src") or img.attrib.get("data-src") or ""
        name = src.split("?", 1)[0].rsplit("/", 1)[-1].casefold()
        language = FLAG_LANGUAGES.get(name) or language_from_label(
            img.attrib.get("title") or img.attrib.get("alt") or "")
        if language:
            found.append(language)
    return order_languages(found)


def _hosters(row: Selector) -> list[str]:
    found: list[str] = []
    for icon in row.css("i.icon, i[title]"):
        title = clean(icon.attrib.get("title"))
        if title.casefold().startswith("hoster "):
            found.append(host_name(title[len("hoster "):]))
            continue
        classes = [c for c in icon.attrib.get("class", "").split() if c.casefold() != "icon"]
        if classes and "icon" in icon.attrib.get("class", "").split():
            found.append(host_name(classes[0]))
    return dedupe([h for h in found if h])


def parse_lang_key_hosters(sel: Selector) -> list[HosterLink]:
    """``li[data-lang-key][data-link-target]`` items (AniWorld and older s.to episode pages)."""
    links: list[HosterLink] = []
    for item in sel.css("li[data-lang-key][data-link-target]"):
        language = LANGUAGE_BY_KEY.get(clean(item.attrib.get("data-lang-key")))
        target = clean(item.attrib.get("data-link-target"))
        host = host_name(text_of(item, "h4") or clean(item.css("i.icon::attr(title)").get())
                         .removeprefix("Hoster ").strip())
        if not language or not target or not host:
            continue
        redirect = _REDIRECT.search(target)
        links.append(HosterLink(language=language, host=host,
                                redirect_path=redirect.group(0) if redirect else target))
    return _unique(links)


def _unique(links: list[HosterLink]) -> list[HosterLink]:
    return list(dict.fromkeys(links))
