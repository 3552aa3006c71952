"""The fast release renderer gives, byte for byte, what the generic path (release_title, build_magnet,
info_hash, render_item) gives for the same release: names, magnets and hashes Sonarr already knows."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anibridge.http.torznab.feed import TorznabItem, render_item
from anibridge.http.torznab.releases import DEFAULT_STYLE, ReleaseStyle, known_languages, title_releases
from anibridge.projections.queries import EpisodeHit, TitleHit, episode_row
from anibridge.releases import (
    LANGUAGES,
    MagnetError,
    ReleaseNaming,
    build_magnet,
    estimate_size,
    info_hash,
    parse_magnet,
    release_title,
)


def reference(hit: TitleHit, ep: EpisodeHit, language: str, category: int, movie: bool,
              style: ReleaseStyle = DEFAULT_STYLE, strm: bool = False) -> str:
    """The straightforward rendering, one field at a time."""
    movie = movie or hit.media_type == "movie"
    mode = "strm" if strm else None
    mapped = ep.tvdb_season is not None and ep.tvdb_episode is not None
    season = ep.tvdb_season if mapped else ep.season
    episode = ep.tvdb_episode if mapped else ep.episode
    title = release_title(hit.display_title, season, episode, language, hit.site, absolute=ep.absolute,
                          movie_year=hit.canon_year or hit.year, is_movie=movie, naming=style.naming, strm=strm)
    digest = info_hash(hit.slug, ep.season, ep.episode, language, mode)
    return render_item(TorznabItem(
        title=title, guid=digest, pub_date=ep.first_seen_at, category=category, size=estimate_size(movie),
        magnet=build_magnet(hit.site, hit.slug, ep.season, ep.episode, language, title, mode=mode), info_hash=digest,
        seeders=style.seeders, peers=style.peers, tvdbid=hit.tvdb_id,
        imdbid=(hit.imdb_id or "").removeprefix("tt") or None,
        language={"German Dub": "German", "English Dub": "English"}.get(language),  # the audio, as Sonarr names it
        subs="German" if language == "German Sub" else ("English" if language == "English Sub" else None),
        season=None if movie else season, episode=None if movie else episode,
        description=ep.title_de or ep.title_en))


def fast(hit: TitleHit, ep: EpisodeHit, category: int, movie: bool, style: ReleaseStyle = DEFAULT_STYLE) -> list[str]:
    return list(title_releases(hit, category, movie, style).render(ep, known_languages(ep)))


def _hit(site: str = "aniworld.to", slug: str = "frieren", title: str = "Frieren", media_type: str = "series",
         **kw: object) -> TitleHit:
    fields: dict[str, object] = dict(year=2023, first_seen_at=1.7e9, tvdb_id=None, tvdb_title=None, imdb_id=None,
                                     canon_year=None, pinned=False)
    fields.update(kw)
    return TitleHit(site, slug, title, media_type, **fields)  # type: ignore[arg-type]


def _ep(season: int = 1, episode: int = 2, languages: tuple[str, ...] = LANGUAGES, **kw: object) -> EpisodeHit:
    fields: dict[str, object] = dict(title_de="Folge", title_en="Episode", first_seen_at=1_700_000_123.75,
                                     tvdb_season=None, tvdb_episode=None, absolute=None)
    fields.update(kw)
    return EpisodeHit("aniworld.to", "frieren", season, episode, languages=languages, **fields)  # type: ignore[arg-type]


CASES = [
    (_hit(), _ep(), 5070, False),
    (_hit(tvdb_id=424536, tvdb_title="Frieren: Beyond Journey's End", imdb_id="tt22248376"),
     _ep(tvdb_season=1, tvdb_episode=14, absolute=14), 5070, False),
    (_hit(site="s.to", slug="der-tatortreiniger", title="Der Tatortreiniger & Co. <Spezial>"),
     _ep(0, 3, ("German Dub",), title_de="Schottys \"Fest\" & <mehr>\x00\x07"), 5000, False),
    (_hit(site="megakino", slug="the-movie", title="Amélie (2001)", media_type="movie", canon_year=2001),
     _ep(1, 1, ("German Dub", "English Dub")), 2000, True),
    (_hit(site="megakino", slug="tokyo", title="東京物語", media_type="movie", year=1953), _ep(1, 1), 2000, True),
    (_hit(slug="x.y_z-1", title="Ünïcödé Straße", imdb_id="nm-not-imdb", tvdb_id=0), _ep(10_000, 0), 5070, False),
]


@pytest.mark.parametrize(("hit", "ep", "category", "movie"), CASES)
def test_fast_render_equals_reference(hit: TitleHit, ep: EpisodeHit, category: int, movie: bool) -> None:
    expected = [reference(hit, ep, lang, category, movie) for lang in LANGUAGES if lang in ep.languages]
    got = fast(hit, ep, category, movie)
    assert got == expected
    for item in got:  # and each is well-formed XML on its own
        ET.fromstring(item.replace("<item>", '<item xmlns:torznab="urn:t">', 1))


@settings(max_examples=300, deadline=None)
@given(title=st.text(min_size=1, max_size=40), description=st.text(max_size=30),
       season=st.integers(0, 10_000), episode=st.integers(0, 10_000),
       mapped=st.none() | st.tuples(st.integers(0, 99), st.integers(0, 2000)),
       languages=st.lists(st.sampled_from([*LANGUAGES, "Japanese Dub"]), max_size=5),
       site=st.sampled_from(["aniworld.to", "s.to", "megakino"]), movie=st.booleans(),
       tvdb=st.none() | st.integers(0, 10**7), year=st.none() | st.integers(1900, 2030),
       first_seen=st.floats(0, 4e9))
def test_fast_render_equals_reference_for_any_release(title: str, description: str, season: int, episode: int,
                                                      mapped: tuple[int, int] | None, languages: list[str], site: str,
                                                      movie: bool, tvdb: int | None, year: int | None,
                                                      first_seen: float) -> None:
    hit = _hit(site=site, slug="some-slug", title=title, media_type="movie" if movie else "series",
               tvdb_id=tvdb, year=year)
    ep = _ep(season, episode, tuple(languages), title_de=description, first_seen_at=first_seen,
             tvdb_season=mapped[0] if mapped else None, tvdb_episode=mapped[1] if mapped else None)
    category = 2000 if movie else 5070
    expected = [reference(hit, ep, lang, category, False) for lang in LANGUAGES if lang in languages]
    assert fast(hit, ep, category, False) == expected


def test_refuses_what_build_magnet_refuses() -> None:
    with pytest.raises(MagnetError):
        fast(_hit(slug="../etc"), _ep(), 5070, False)
    with pytest.raises(MagnetError):
        fast(_hit(), _ep(season=10_001), 5070, False)


def test_rows_render_as_their_episodes_until_the_page_is_full() -> None:
    """``render_rows`` (a search's rows straight from SQL) gives what ``render`` gives episode by episode,
    and stops after the episode that brings ``out`` to ``want`` items."""
    hit = _hit(tvdb_id=424536, tvdb_title="Frieren: Beyond Journey's End")
    eps = [_ep(1, 1), _ep(1, 2, ("German Sub", "Japanese Dub", ""), tvdb_season=2, tvdb_episode=5, title_de=""),
           _ep(1, 3, ()), _ep(1, 4, ("English Dub", "German Dub"))]
    rows = [episode_row(ep) for ep in eps]
    releases = title_releases(hit, 5070, False)
    out: list[str] = []
    releases.render_rows(rows, out, 100)
    assert out == [item for ep in eps for item in fast(hit, ep, 5070, False)]
    out = []
    releases.render_rows(iter(rows), out, 5)
    assert out == fast(hit, eps[0], 5070, False) + fast(hit, eps[1], 5070, False)


STYLES = [
    ReleaseStyle(strm=(True,), seeders=5, peers=7),
    ReleaseStyle(strm=(False, True)),
    ReleaseStyle(naming=ReleaseNaming("WEB-DL", (("aniworld.to", "SUBS&CO"), ("s.to", ""), ("megakino", "MK"))),
                 strm=(False, True)),
]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(("hit", "ep", "category", "movie"), CASES)
def test_strm_and_naming_styles_equal_the_shared_magnet_code(hit: TitleHit, ep: EpisodeHit, category: int,
                                                             movie: bool, style: ReleaseStyle) -> None:
    """STRM releases (``<p>_mode=strm``, ``|strm`` hashed, `` [STRM]`` title), SOURCE_TAG, RELEASE_GROUP* and the
    fake peer counts: the fast renderer still equals build_magnet/info_hash/release_title, per language in
    order (download, then STRM)."""
    expected = [reference(hit, ep, lang, category, movie, style, strm) for lang in LANGUAGES if lang in ep.languages
                for strm in style.strm]
    got = fast(hit, ep, category, movie, style)
    assert got == expected
    for item in got:
        root = ET.fromstring(item.replace("<item>", '<item xmlns:torznab="urn:t">', 1))
        magnet = root.find("enclosure").get("url")  # type: ignore[union-attr]
        ref = parse_magnet(magnet)  # what torrents/add will accept
        assert (ref.mode == "strm") == root.findtext("title", "").endswith(" [STRM]")
