"""Provider page parsers: realistic pages (PROVIDERS.md shapes), broken pages, fuzzed pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anibridge.crawlers.parsers import (
    HosterLink,
    ListedTitle,
    ParseError,
    aniworld,
    content_hash,
    megakino,
    sto,
)
from anibridge.events.types import EpisodeInfo

# --- fixtures -----------------------------------------------------------------------------------
AW_ALPHABET = """<!doctype html><html><head><meta charset="utf-8"><title>Animes A-Z</title></head><body>
<div id="seriesContainer"><div class="genre"><h3>A</h3><ul>
<li><a href="/anime/stream/attack-on-titan"
   data-alternative-title="Shingeki no Kyojin, Attack on Titan,  , shingeki no kyojin, L'Attaque des Titans"
   title="Attack on Titan Stream anschauen">Attack on Titan</a></li>
<li><a href="https://aniworld.to/anime/stream/86-eighty-six/" data-alternative-title="">86:
   Eighty   Six</a></li>
<li><a href="/anime/stream/">no slug</a></li>
<li><a href="/anime/stream/attack-on-titan">Attack on Titan (listed twice)</a></li>
<li><a href="/anime/stream/one-piece/staffel-1">a season link, not a title</a></li>
<li><a href="/anime/stream/ore-dake"></a></li>
<li><a href="/support/faq">FAQ</a></li>
</ul></div></div></body></html>"""

AW_SERIES = """<html><body>
<div class="series-title"><h1 itemprop="name"><span>Attack on Titan</span></h1>
<small><span itemprop="startDate"><a href="https://aniworld.to/animes/jahr/2013">2013</a></span> -
<span itemprop="endDate"><a href="https://aniworld.to/animes/jahr/2023">2023</a></span></small></div>
<p class="seri_des" itemprop="accountablePerson" data-full-description="Humanity lives inside   walls.">
Humanity lives...</p>
<div id="stream" class="hosterSiteDirectNav"><ul>
<li><span><strong>Staffeln:</strong></span></li>
<li><a href="/anime/stream/attack-on-titan/filme" title="Alle Filme">Filme</a></li>
<li><a class="active" href="/anime/stream/attack-on-titan/staffel-1" title="Staffel 1">1</a></li>
<li><a href="/anime/stream/attack-on-titan/staffel-2" title="Staffel 2">2</a></li>
<li><a href="/anime/stream/attack-on-titan/staffel-2">2 again</a></li>
</ul><ul><li><a href="/anime/stream/attack-on-titan/staffel-1/episode-1">1</a></li></ul></div>
<div class="related"><a href="/anime/stream/other-show/staffel-7">Other show</a></div>
</body></html>"""


def aw_row(number: str, path: str, *, flags: str = "", icons: str = "", de: str = "", en: str = "") -> str:
    meta = f'<meta itemprop="episodeNumber" content="{number}">' if number else ""
    return f"""<tr data-episode-id="1" itemscope itemprop="episode" itemtype="http://schema.org/Episode">
 <td class="season1EpisodeID">{meta}<a itemprop="url" href="{path}">Folge {number}</a></td>
 <td class="seasonEpisodeTitle"><a href="{path}"><strong>{de}</strong> - <span>{en}</span></a></td>
 <td><a href="{path}">{icons}</a></td>
 <td class="editFunctions"><a href="{path}">{flags}</a></td></tr>"""


FLAGS_ALL = ('<img class="flag" src="/public/img/german.svg" title="Deutsch">'
             '<img class="flag" src="/public/img/japanese-german.svg" title="Mit deutschem Untertitel">'
             '<img class="flag" src="/public/img/japanese-english.svg?v=2"'
             ' title="Mit englischem Untertitel">')
ICONS = ('<i class="icon VOE" title="Hoster VOE"></i><i class="icon Filemoon" title="Hoster Filemoon"></i>'
         '<i class="icon Streamtape"></i><i class="icon VOE" title="Hoster VOE"></i>')


def aw_season(rows: str) -> str:
    return f"""<html><body><h1><span>Attack on Titan</span></h1>
<table class="seasonEpisodesList" data-season-id="1"><thead><tr><th>Folge</th></tr></thead>
<tbody id="season1">{rows}</tbody></table></body></html>"""


AW_SEASON = aw_season(
    aw_row("1", "/anime/stream/attack-on-titan/staffel-1/episode-1", flags=FLAGS_ALL, icons=ICONS,
           de="Dir, in 2000 Jahren", en="To You, in 2000 Years")
    + aw_row("2", "/anime/stream/attack-on-titan/staffel-1/episode-2",
             flags='<img class="flag" src="/public/img/japanese-german.svg">'
                   '<img class="flag" src="/public/img/german.svg">'
                   '<img class="flag" src="/public/img/english.svg">',
             icons='<i class="icon Vidoza" title="Hoster Vidoza"></i>', de="Jener Tag", en="That Day")
    + aw_row("", "/anime/stream/attack-on-titan/staffel-1/episode-3", de="Ohne Meta")
)

AW_FILMS = aw_season(aw_row("1", "/anime/stream/attack-on-titan/filme/film-1", de="Teil 1"))

AW_EPISODE = """<html><body><div class="hosterSiteVideo"><ul class="row">
<li class="episodeLink1" data-lang-key="1" data-link-id="1" data-link-target="/redirect/1001"
    data-external-embed="false"><div><a class="watchEpisode" href="/redirect/1001" target="_blank">
    <i class="icon VOE" title="Hoster VOE"></i><h4>VOE</h4>
    <div class="hosterSiteVideoButton">Video öffnen</div>
    </a></div></li>
<li data-lang-key="3" data-link-target="https://aniworld.to/redirect/1002"><a><h4> Filemoon </h4></a></li>
<li data-lang-key="2" data-link-target="/redirect/1003"><a><h4>Streamtape</h4></a></li>
<li data-lang-key="4" data-link-target="/redirect/1004"><a>
    <i class="icon Doodstream" title="Hoster Doodstream">
    </i></a></li>
<li data-lang-key="9" data-link-target="/redirect/1005"><a><h4>VOE</h4></a></li>
<li data-lang-key="1" data-link-target=""><a><h4>VOE</h4></a></li>
<li data-lang-key="1" data-link-target="/redirect/1001"><a><h4>VOE</h4></a></li>
</ul></div></body></html>"""

STO_ALPHABET = """<html><body><ul>
<li><a href="/serie/breaking-bad" data-alternative-title="Breaking Bad, Reich und Tot">Breaking Bad</a></li>
<li><a href="/serie/stream/the-office" data-alternative-title="Das Büro">The Office</a></li>
<li><a href="/serie/stream">all series</a></li>
<li><a href="/serie/breaking-bad/staffel-1">season link</a></li>
<li><a href="/serien-alphabet">Alphabet</a></li></ul></body></html>"""

STO_SERIES = """<html><body><h1><span>Breaking Bad</span></h1>
<p class="seri_des">Ein Chemielehrer wird zum Drogenkoch.</p>
<span class="year">Jahr: 2008</span>
<a href="/serie/breaking-bad/staffel-0">Specials</a>
<a href="/serie/breaking-bad/staffel-1">Staffel 1</a>
<a href="/serie/breaking-bad/staffel-2">Staffel 2</a>
<a href="/serie/breaking-bad/staffel-1/episode-1">1</a>
</body></html>"""

STO_SEASON_LINKS = """<html><body><h1>Breaking Bad Staffel 1</h1><ul class="episodes">
<li><a href="/serie/breaking-bad/staffel-1/episode-1">1</a>
    <a href="/serie/breaking-bad/staffel-1/episode-1">Der Einstieg</a></li>
<li><a href="/serie/breaking-bad/staffel-1/episode-2">Folge 2</a></li>
<li><a href="/serie/breaking-bad/staffel-1/episode-2">Die Katze ist im Sack</a></li>
<li><a href="/serie/breaking-bad/staffel-2/episode-1">other season</a></li>
</ul></body></html>"""

STO_EPISODE = """<html><body><div class="player-buttons">
<button data-play-url="/r?t=abc1" data-provider-name="VOE" data-language-label="Deutsch" data-language-id="1">
  VOE</button>
<button data-play-url="/r?t=abc2" data-provider-name="filemoon" data-language-label="Englisch"
  >Filemoon</button>
<button data-play-url="/r?t=abc3" data-provider-name="Vidoza"
  data-language-label="Englisch mit deutschen Untertiteln"
  >Vidoza</button>
<button data-play-url="/r?t=abc4" data-provider-name="Doodstream" data-language-label="English Sub">D</button>
<button data-play-url="/r?t=abc5" data-provider-name="VOE" data-language-label="Klingonisch">?</button>
<button data-play-url="" data-provider-name="VOE" data-language-id="1">no url</button>
</div></body></html>"""

MK_SITEMAP = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>https://megakino.lol/films/1234-the-dark-knight.html</loc><lastmod>2024-01-01</lastmod></url>
<url><loc>https://megakino.lol/serials/77-dark.html</loc></url>
<url><loc>https://megakino.lol/films/1234-the-dark-knight.html</loc></url>
<url><loc>https://megakino.lol/kontakt.html</loc></url>
<url><loc>http://127.0.0.1:8081/megakino/films/5-dune_part_two.html</loc></url>
</urlset>"""

MK_FILM = """<html><body><div class="page__header">
<h1 class="page__title">The Dark Knight</h1><div class="pmovie__year"><span class="year">2008</span></div>
<a href="https://www.imdb.com/title/tt0468569/">IMDb 9.0</a></div>
<div class="tabs-block"><iframe data-src="https://voe.sx/e/abc123" src="about:blank"></iframe>
<iframe src="//filemoon.sx/e/xyz" data-provider="Filemoon"></iframe>
<iframe src="https://streamtape.com/e/q1" data-lang="Englisch"></iframe>
<iframe data-src="https://voe.sx/e/abc123"></iframe>
<iframe src=""></iframe></div></body></html>"""

MK_FILM_YEAR_NEAR = """<html><body><article><header><h1>Dune: Part Two</h1>
<div class="meta">Science-Fiction, USA 2024, 166 min</div></header>
<iframe src="https://www.vidmoly.to/embed-abc.html"></iframe></article></body></html>"""


# --- AniWorld -----------------------------------------------------------------------------------
def test_aniworld_alphabet() -> None:
    titles = list(aniworld.parse_alphabet(AW_ALPHABET))
    assert titles == [
        ListedTitle(slug="attack-on-titan", title="Attack on Titan",
                    alt_titles=["Shingeki no Kyojin", "L'Attaque des Titans"],
                    path="/anime/stream/attack-on-titan", media_type="series"),
        ListedTitle(slug="86-eighty-six", title="86: Eighty Six", alt_titles=[],
                    path="/anime/stream/86-eighty-six", media_type="series"),
        ListedTitle(slug="ore-dake", title="Ore Dake", alt_titles=[], path="/anime/stream/ore-dake"),
    ]


def test_aniworld_alphabet_without_titles_is_an_error_not_an_empty_catalogue() -> None:
    with pytest.raises(ParseError, match="no title links"):
        list(aniworld.parse_alphabet("<html><body><a href='/support'>x</a></body></html>"))


def test_aniworld_series() -> None:
    page = aniworld.parse_series(AW_SERIES)
    assert page.title == "Attack on Titan"
    assert page.description == "Humanity lives inside walls."
    assert page.year == 2013
    assert page.season_paths == [
        (0, "/anime/stream/attack-on-titan/filme"),
        (1, "/anime/stream/attack-on-titan/staffel-1"),
        (2, "/anime/stream/attack-on-titan/staffel-2"),
    ]
    assert page.has_films


def test_aniworld_series_slug_filter_and_missing_parts() -> None:
    assert aniworld.parse_series(AW_SERIES, slug="other-show").season_paths == [
        (7, "/anime/stream/other-show/staffel-7")]
    with pytest.raises(ParseError, match="no h1"):
        aniworld.parse_series(AW_SERIES.replace("<h1", "<h2").replace("</h1>", "</h2>"))
    with pytest.raises(ParseError, match="empty h1"):
        aniworld.parse_series(AW_SERIES.replace("<span>Attack on Titan</span>", ""))
    with pytest.raises(ParseError, match="no season links"):
        aniworld.parse_series("<html><h1>Only a title</h1></html>")
    bare = aniworld.parse_series('<h1>T</h1><a href="/anime/stream/t/staffel-1">1</a>')
    assert (bare.description, bare.year, bare.has_films) == ("", None, False)


def test_aniworld_season() -> None:
    episodes = aniworld.parse_season(AW_SEASON, 1)
    assert episodes[0] == EpisodeInfo(
        season=1, episode=1, title_de="Dir, in 2000 Jahren", title_en="To You, in 2000 Years",
        languages=["German Dub", "German Sub", "English Sub"], hosters=["VOE", "Filemoon", "Streamtape"],
        path="/anime/stream/attack-on-titan/staffel-1/episode-1")
    assert episodes[1].languages == ["German Dub", "German Sub", "English Dub"]
    assert episodes[1].hosters == ["Vidoza"]
    # no episodeNumber meta: the number comes from the episode link
    assert (episodes[2].episode, episodes[2].title_de, episodes[2].languages) == (3, "Ohne Meta", [])


def test_aniworld_films_are_season_zero() -> None:
    [film] = aniworld.parse_season(AW_FILMS, 0)
    assert (film.season, film.episode, film.path) == (0, 1, "/anime/stream/attack-on-titan/filme/film-1")


def test_aniworld_broken_season_pages() -> None:
    with pytest.raises(ParseError, match=r"no table\.seasonEpisodesList"):
        aniworld.parse_season("<html><body><p>Wartungsarbeiten</p></body></html>", 1)
    with pytest.raises(ParseError, match="episode row without episodeNumber"):
        aniworld.parse_season(aw_season(aw_row("", "/somewhere/else")), 1)
    with pytest.raises(ParseError, match="episode 4 row has no episode link"):
        aniworld.parse_season(aw_season(aw_row("4", "/nowhere")), 1)
    assert aniworld.parse_season(aw_season(""), 1) == []  # announced season, no episodes yet
    # a garbled number falls back to the link
    [ep] = aniworld.parse_season(aw_season(aw_row("x7", "/anime/stream/a/staffel-1/episode-7")), 1)
    assert ep.episode == 7


def test_aniworld_episode_hosters() -> None:
    assert aniworld.parse_episode_hosters(AW_EPISODE) == [
        HosterLink(language="German Dub", host="VOE", redirect_path="/redirect/1001"),
        HosterLink(language="German Sub", host="Filemoon", redirect_path="/redirect/1002"),
        HosterLink(language="English Sub", host="Streamtape", redirect_path="/redirect/1003"),
        HosterLink(language="English Dub", host="Doodstream", redirect_path="/redirect/1004"),
    ]
    with pytest.raises(ParseError, match="no hoster links"):
        aniworld.parse_episode_hosters("<html><body><ul class='row'></ul></body></html>")


# --- s.to ---------------------------------------------------------------------------------------
def test_sto_alphabet_current_and_old_paths() -> None:
    titles = list(sto.parse_alphabet(STO_ALPHABET))
    assert [(t.slug, t.path, t.alt_titles) for t in titles] == [
        ("breaking-bad", "/serie/breaking-bad", ["Reich und Tot"]),
        ("the-office", "/serie/stream/the-office", ["Das Büro"]),
    ]


def test_sto_series_specials_are_season_zero() -> None:
    page = sto.parse_series(STO_SERIES)
    assert page.title == "Breaking Bad"
    assert page.description == "Ein Chemielehrer wird zum Drogenkoch."
    assert page.year == 2008
    assert page.season_paths == [(0, "/serie/breaking-bad/staffel-0"), (1, "/serie/breaking-bad/staffel-1"),
                                 (2, "/serie/breaking-bad/staffel-2")]
    assert not page.has_films


def test_sto_season_from_links() -> None:
    episodes = sto.parse_season(STO_SEASON_LINKS, 1)
    assert episodes == [
        EpisodeInfo(season=1, episode=1, title_de="Der Einstieg",
                    path="/serie/breaking-bad/staffel-1/episode-1"),
        EpisodeInfo(season=1, episode=2, title_de="Die Katze ist im Sack",
                    path="/serie/breaking-bad/staffel-1/episode-2"),
    ]
    with pytest.raises(ParseError, match="no episode links"):
        sto.parse_season(STO_SEASON_LINKS, 5)


def test_sto_season_table_reuses_aniworld_rows() -> None:
    html = aw_season(aw_row("3", "/serie/stream/the-office/staffel-2/episode-3", flags=FLAGS_ALL, icons=ICONS,
                            de="Büro", en="Office"))
    [ep] = sto.parse_season(html, 2)
    assert (ep.season, ep.episode, ep.path) == (2, 3, "/serie/stream/the-office/staffel-2/episode-3")
    assert ep.hosters == ["VOE", "Filemoon", "Streamtape"] and ep.languages[0] == "German Dub"


def test_sto_episode_buttons() -> None:
    assert sto.parse_episode_hosters(STO_EPISODE) == [
        HosterLink(language="German Dub", host="VOE", redirect_path="/r?t=abc1"),
        HosterLink(language="English Dub", host="Filemoon", redirect_path="/r?t=abc2"),
        HosterLink(language="German Sub", host="Vidoza", redirect_path="/r?t=abc3"),
        HosterLink(language="English Sub", host="Doodstream", redirect_path="/r?t=abc4"),
    ]


def test_sto_episode_falls_back_to_lang_key_items() -> None:
    assert sto.parse_episode_hosters(AW_EPISODE)[0].redirect_path == "/redirect/1001"
    with pytest.raises(ParseError, match="no hoster buttons"):
        sto.parse_episode_hosters("<html><body><div class='cf-turnstile'></div></body></html>")


# --- Megakino -----------------------------------------------------------------------------------
def test_megakino_sitemap() -> None:
    assert list(megakino.parse_sitemap(MK_SITEMAP)) == [
        ListedTitle(slug="1234-the-dark-knight", title="The Dark Knight", alt_titles=[],
                    path="/films/1234-the-dark-knight.html", media_type="movie"),
        ListedTitle(slug="77-dark", title="Dark", alt_titles=[], path="/serials/77-dark.html",
                    media_type="series"),
        ListedTitle(slug="5-dune_part_two", title="Dune Part Two", alt_titles=[],
                    path="/films/5-dune_part_two.html", media_type="movie"),
    ]
    with pytest.raises(ParseError, match="sitemap lists no"):
        list(megakino.parse_sitemap("<urlset></urlset>"))


def test_megakino_sitemap_index() -> None:
    index = """<sitemapindex><sitemap><loc>https://megakino.lol/sitemap-films-1.xml</loc></sitemap>
    <sitemap><loc> https://megakino.lol/sitemap-films-2.xml?x=1 </loc></sitemap></sitemapindex>"""
    assert megakino.parse_sitemap_index(index) == ["https://megakino.lol/sitemap-films-1.xml",
                                                   "https://megakino.lol/sitemap-films-2.xml?x=1"]
    assert megakino.parse_sitemap_index(MK_SITEMAP) == []


def test_megakino_film() -> None:
    film = megakino.parse_film(MK_FILM)
    assert (film.title, film.year, film.imdb_id) == ("The Dark Knight", 2008, "tt0468569")
    assert film.embeds == [
        HosterLink(language="German Dub", host="VOE", redirect_path="https://voe.sx/e/abc123"),
        HosterLink(language="German Dub", host="Filemoon", redirect_path="https://filemoon.sx/e/xyz"),
        HosterLink(language="English Dub", host="Streamtape", redirect_path="https://streamtape.com/e/q1"),
    ]


def test_megakino_film_year_near_h1_and_in_title() -> None:
    film = megakino.parse_film(MK_FILM_YEAR_NEAR)
    assert (film.title, film.year, film.imdb_id) == ("Dune: Part Two", 2024, None)
    assert [e.host for e in film.embeds] == ["Vidmoly"]
    film = megakino.parse_film("<h1>Oppenheimer (2023)</h1>")
    assert (film.title, film.year, film.embeds) == ("Oppenheimer", 2023, [])


def test_megakino_broken_film_pages() -> None:
    with pytest.raises(ParseError, match="no h1"):
        megakino.parse_film("<html><body><iframe src='https://voe.sx/e/1'></iframe></body></html>")
    with pytest.raises(ParseError, match="empty h1"):
        megakino.parse_film("<html><body><h1>  </h1></body></html>")


# --- common -------------------------------------------------------------------------------------
def test_content_hash_is_stable_and_order_insensitive_for_keys() -> None:
    ep = EpisodeInfo(season=1, episode=2, path="/x", languages=["German Dub"])
    a = content_hash({"slug": "x", "episodes": [ep], "tags": {"b", "a"}})
    b = content_hash({"tags": {"a", "b"}, "episodes": [ep], "slug": "x"})
    assert a == b and len(a) == 32 and int(a, 16) >= 0
    assert content_hash({"slug": "x", "episodes": [ep.model_copy(update={"episode": 3})]}) != a
    assert content_hash(ListedTitle("s", "t", [], "/p")) == content_hash(
        {"slug": "s", "title": "t", "alt_titles": [], "path": "/p", "media_type": "series"})


# --- broken and hostile input -------------------------------------------------------------------
PARSERS: dict[str, Callable[[Any], object]] = {
    "aniworld.alphabet": lambda h: list(aniworld.parse_alphabet(h)),
    "aniworld.series": aniworld.parse_series,
    "aniworld.season": lambda h: aniworld.parse_season(h, 1),
    "aniworld.episode": aniworld.parse_episode_hosters,
    "sto.alphabet": lambda h: list(sto.parse_alphabet(h)),
    "sto.series": sto.parse_series,
    "sto.season": lambda h: sto.parse_season(h, 1),
    "sto.episode": sto.parse_episode_hosters,
    "megakino.sitemap": lambda h: list(megakino.parse_sitemap(h)),
    "megakino.sitemap_index": megakino.parse_sitemap_index,
    "megakino.film": megakino.parse_film,
}
FIXTURES = [AW_ALPHABET, AW_SERIES, AW_SEASON, AW_FILMS, AW_EPISODE, STO_ALPHABET, STO_SERIES,
            STO_SEASON_LINKS, STO_EPISODE, MK_SITEMAP, MK_FILM, MK_FILM_YEAR_NEAR]
GARBAGE: list[str | bytes] = [
    "", "   \n\t", "\x00\x01\x02", "<", "<<<>>>", "<html>", "</table></tr>", "\ud800\udfff<a href=x>",
    bytes(range(256)), b"\xff\xfe<\x00h\x001\x00>", "<h1>" * 5000, "<a href='/anime/stream/" + "9" * 10000,
    "<meta itemprop='episodeNumber' content='" + "9" * 5000 + "'>", "<iframe src='http://[::1'>",
    "<!--", "<![CDATA[", "<?xml version='1.0' encoding='bogus'?><urlset/>",
]


def _only_parse_errors(parser: Callable[[Any], object], html: Any) -> None:
    try:
        parser(html)
    except ParseError as exc:
        assert str(exc)  # always says what is missing


@pytest.mark.parametrize("name", sorted(PARSERS))
@pytest.mark.parametrize("html", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_only_raises_parse_error(name: str, html: str | bytes) -> None:
    _only_parse_errors(PARSERS[name], html)


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_empty_page_is_a_parse_error(name: str) -> None:
    if name == "megakino.sitemap_index":
        assert PARSERS[name]("") == []
        return
    with pytest.raises(ParseError):
        PARSERS[name]("")


@st.composite
def mutated_pages(draw: st.DrawFn) -> str:
    """A real fixture cut, spliced and sprinkled with random markup."""
    html = draw(st.sampled_from(FIXTURES))
    noise = st.one_of(st.text(max_size=30), st.sampled_from(
        ["<", ">", "</td>", "<tr itemtype='http://schema.org/Episode'>", "<h1>", "</h1>", '"', "'",
         "<table class='seasonEpisodesList'>", "data-lang-key='1'", "<li data-lang-key=4 data-link-target=",
         "<meta itemprop='episodeNumber' content='", "staffel-", "/episode-", "<loc>", ".html", "/films/1-",
         "<iframe src='//", "&#0;", "&amp", "\x00", "\ud83d"]))
    for _ in range(draw(st.integers(0, 8))):
        start = draw(st.integers(0, len(html)))
        end = draw(st.integers(start, min(len(html), start + 200)))
        html = html[:start] + draw(noise) + html[end:]
    return html


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(html=mutated_pages(), name=st.sampled_from(sorted(PARSERS)))
def test_fuzzed_pages_only_raise_parse_error(html: str, name: str) -> None:
    _only_parse_errors(PARSERS[name], html)


@settings(max_examples=200, deadline=None)
@given(data=st.one_of(st.text(), st.binary()), name=st.sampled_from(sorted(PARSERS)))
def test_random_input_only_raises_parse_error(data: str | bytes, name: str) -> None:
    _only_parse_errors(PARSERS[name], data)
