"""The s.to parser on pages in the shapes the real site serves (``../shared/real-pages/sto``).

The pages sit beside the repository (in CI beside the clone); without them these tests skip.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from anibridge.crawlers.fetch import ChallengeError, Fetcher, FetchError
from anibridge.crawlers.parsers import sto
from anibridge.crawlers.parsers.problems import NO_LANGUAGE, collecting
from anibridge.crawlers.sites import TitleDetails, check_details

REAL_PAGES = Path(__file__).resolve().parents[1].parent / "shared" / "real-pages"
STO = REAL_PAGES / "sto"
ANTIBOT = REAL_PAGES / "antibot"

pytestmark = pytest.mark.skipif(not STO.is_dir(), reason=f"real pages not present at {STO}")


def _page(name: str) -> str:
    return (STO / name).read_text(encoding="utf-8")


def test_title_list_serien() -> None:
    titles = list(sto.parse_alphabet(_page("serien.html")))
    assert [(t.slug, t.title, t.path) for t in titles] == [
        ("und-dann-noch-paula", "...und dann noch Paula", "/serie/und-dann-noch-paula"),
        ("18if", "18if", "/serie/18if"),
        ("breaking-bad", "Breaking Bad", "/serie/breaking-bad"),
        ("silo", "Silo", "/serie/silo"),
    ]


def test_series_page_is_season_one_with_year_and_real_description() -> None:
    page = sto.parse_series(_page("serie-silo-staffel-1.html"), "silo")
    assert page.title == "Silo"
    assert page.year == 2023  # from the /jahr/2023 link
    assert page.description.startswith("„Silo“ spielt in naher Zukunft")
    assert page.description.endswith("(Basierend auf Hugh Howeys gleichnamiger Romantrilogie)")
    assert "Schaue" not in page.description  # not the SEO meta text
    assert page.season_paths == [(1, "/serie/silo/staffel-1"), (2, "/serie/silo/staffel-2"),
                                 (3, "/serie/silo/staffel-3")]
    assert page.shown_season == 1  # the crawler reads season 1 from this page, no second fetch


def test_season_rows_titles_languages_hosters() -> None:
    episodes = sto.parse_season(_page("serie-silo-staffel-1.html"), 1)
    assert [e.episode for e in episodes] == list(range(1, 11))
    first = episodes[0]
    assert first.path == "/serie/silo/staffel-1/episode-1"  # from the row's onclick
    assert (first.title_de, first.title_en) == ("Freiheitstag", "Freedom Day")
    assert first.languages == ["German Dub", "English Dub"]
    assert first.hosters == ["VOE"]
    assert (episodes[1].title_de, episodes[1].title_en) == ("Der Weg nach draußen", "Holston`s Pick")
    assert all(e.languages == ["German Dub", "English Dub"] and e.hosters == ["VOE"] for e in episodes)
    assert all(e.path == f"/serie/silo/staffel-1/episode-{e.episode}" for e in episodes)


def test_season_flag_english_german_is_german_sub_and_specials_are_season_zero() -> None:
    html = (_page("serie-silo-staffel-1.html")
            .replace('svg-flag-english"', 'svg-flag-english-german"')
            .replace("/serie/silo/staffel-1/episode-", "/serie/silo/staffel-0/episode-"))
    episodes = sto.parse_season(html, 0)
    assert episodes[0].season == 0
    assert episodes[0].path == "/serie/silo/staffel-0/episode-1"
    assert episodes[0].languages == ["German Dub", "German Sub"]


def test_episode_page_buttons_english_is_dub_placeholder_is_no_hoster() -> None:
    links = sto.parse_episode_hosters(_page("episode-silo-s01e01.html"))
    assert [(link.language, link.host) for link in links] == [("German Dub", "VOE"), ("English Dub", "VOE")]
    assert all(link.redirect_path.startswith("/r?t=") for link in links)
    assert "Provider" not in {link.host for link in links}


def test_season_without_flags_is_a_recorded_problem_not_silence() -> None:
    html = _page("serie-silo-staffel-1.html").replace("svg-flag-", "svg-icon-").replace("#icon-flag-", "#icon-")
    with collecting() as noted:
        episodes = sto.parse_season(html, 1)
        check_details(TitleDetails("", 2023, episodes), "https://serienstream.to/serie/silo")
    assert all(e.languages == [] for e in episodes)
    assert noted.items() == [(NO_LANGUAGE, 10, "/serie/silo/staffel-1/episode-1")]


def test_season_page_without_rows_falls_back_to_links_and_says_so() -> None:
    html = _page("serie-silo-staffel-1.html").replace("episode-row", "ep-line")
    with collecting() as noted:
        episodes = sto.parse_season(html, 1)
    assert [e.episode for e in episodes] == list(range(1, 11))  # from #episode-nav
    assert [kind for kind, _, _ in noted.items()] == ["season pages without episode rows (tr.episode-row)"]


def test_real_captcha_and_challenge_pages_are_challenges_not_missing_redirects() -> None:
    """What /r?t= answers instead of a redirect (HTTP 200 captcha) and a Cloudflare block, served as the
    real pages are, read by the real fetcher over loopback."""
    from anibridge.testing import serve_asgi

    captcha = (ANTIBOT / "sto-play-captcha-200.html").read_text(encoding="utf-8")
    cloudflare = (ANTIBOT / "cloudflare-challenge-403.html").read_text(encoding="utf-8")

    async def play(request: Request) -> HTMLResponse:
        return HTMLResponse(captcha)

    async def blocked(request: Request) -> HTMLResponse:
        return HTMLResponse(cloudflare, status_code=403)

    app = Starlette(routes=[Route("/r", play), Route("/serien", blocked)])

    async def scenario(base: str) -> None:
        async with Fetcher(base, max_retries=0) as fetcher:
            with pytest.raises(ChallengeError) as caught:
                await fetcher.follow_redirect_location("/r?t=eyJpdiI6Ik")
            assert caught.value.kind == "captcha page"
            assert "expected a redirect" not in str(caught.value)
            with pytest.raises(FetchError, match=r"challenge page \(Cloudflare challenge\)"):
                await fetcher.get("/serien")
            assert [kind for kind, _ in fetcher.challenges] == ["captcha page", "Cloudflare challenge"]

    with serve_asgi(app) as base:
        asyncio.run(scenario(base))
