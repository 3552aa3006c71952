from __future__ import annotations

import contextlib
import hashlib
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anibridge.releases import (
    LANGUAGES,
    MagnetError,
    MagnetRef,
    build_magnet,
    estimate_size,
    info_hash,
    parse_magnet,
    release_title,
)

SITES = ("aniworld.to", "s.to", "megakino")
PROVIDERS = ("VOE", "Filemoon", "Streamtape", "Vidmoly", "Doodstream", "LoadX", "Luluvdo", "Vidoza")


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def legacy_magnet(**overrides: str) -> str:
    """A magnet exactly as the earlier AniBridge emitted it, with fields overridable."""
    fields = {
        "slug": "naruto",
        "s": "1",
        "e": "2",
        "lang": "German+Dub",
        "site": "aniworld.to",
    }
    fields.update(overrides)
    btih = overrides.get("btih") or sha1("naruto|1|2|German Dub")
    query = "&".join(f"aw_{k}={v}" for k, v in fields.items() if k != "btih")
    return f"magnet:?xt=urn:btih:{btih}&dn=Naruto.S01E02&{query}"


# --- byte compatibility -------------------------------------------------------------------------


def test_known_magnet_is_byte_exact() -> None:
    expected_hash = sha1("naruto|1|2|German Dub")
    magnet = build_magnet(
        "aniworld.to", "naruto", 1, 2, "German Dub", "Naruto.S01E02.1080p.WEB.H264.GER-ANIWORLD"
    )
    assert magnet == (
        f"magnet:?xt=urn:btih:{expected_hash}"
        "&dn=Naruto.S01E02.1080p.WEB.H264.GER-ANIWORLD"
        "&aw_slug=naruto&aw_s=1&aw_e=2&aw_lang=German+Dub&aw_site=aniworld.to"
    )


def test_known_magnet_with_mode_and_provider_is_byte_exact() -> None:
    expected_hash = sha1("the-office|2|3|English Sub|strm")
    magnet = build_magnet(
        "s.to", "the-office", 2, 3, "English Sub", "The Office [STRM]", provider="voe", mode="STRM"
    )
    assert magnet == (
        f"magnet:?xt=urn:btih:{expected_hash}"
        "&dn=The+Office+%5BSTRM%5D"
        "&sto_slug=the-office&sto_s=2&sto_e=3&sto_lang=English+Sub&sto_site=s.to"
        "&sto_mode=strm&sto_provider=VOE"
    )


def test_megakino_uses_aw_prefix() -> None:
    magnet = build_magnet("megakino", "1234-some-title", 0, 0, "German Dub", "Some.Title.2019")
    assert "&aw_site=megakino" in magnet and "&aw_slug=1234-some-title" in magnet
    assert magnet.startswith(f"magnet:?xt=urn:btih:{sha1('1234-some-title|0|0|German Dub')}&")


def test_info_hash_is_lowercase_sha1() -> None:
    assert info_hash("naruto", 1, 2, "German Dub") == sha1("naruto|1|2|German Dub")
    assert info_hash("naruto", 1, 2, "German Dub", "strm") == sha1("naruto|1|2|German Dub|strm")


# --- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("site", "language", "provider", "mode"),
    list(itertools.product(SITES, LANGUAGES, (None, *PROVIDERS), (None, "strm"))),
)
def test_round_trip(site: str, language: str, provider: str | None, mode: str | None) -> None:
    slug = "1234-some-title" if site == "megakino" else "attack-on-titan"
    title = "Attack.on.Titan.S03E12 & more"
    magnet = build_magnet(site, slug, 3, 12, language, title, provider=provider, mode=mode)
    ref = parse_magnet(magnet)
    assert ref == MagnetRef(
        site=site,
        slug=slug,
        season=3,
        episode=12,
        language=language,
        provider=provider,
        mode=mode,
        info_hash=info_hash(slug, 3, 12, language, mode),
        name=title,
    )


def test_parse_accepts_percent_20_uppercase_hex_and_extra_trackers() -> None:
    btih = sha1("naruto|1|2|German Dub").upper()
    magnet = legacy_magnet(lang="German%20Dub", btih=btih) + "&tr=udp%3A%2F%2Fa&tr=udp%3A%2F%2Fb"
    ref = parse_magnet(magnet)
    assert ref.language == "German Dub"
    assert ref.info_hash == btih.lower()


def test_parse_legacy_magnet_without_site_param() -> None:
    magnet = legacy_magnet()
    magnet = magnet.replace("&aw_site=aniworld.to", "")
    assert parse_magnet(magnet).site == "aniworld.to"
    sto = build_magnet("s.to", "dark", 1, 1, "German Dub", "Dark").replace("&sto_site=s.to", "")
    assert parse_magnet(sto).site == "s.to"


def test_sto_magnet_accepts_the_serienstream_host_names_as_site_sto() -> None:
    magnet = build_magnet("s.to", "silo", 1, 1, "English Dub", "Silo.S01E01")
    for name in ("serienstream.to", "serienstream.cx", "SerienStream.to"):
        assert parse_magnet(magnet.replace("&sto_site=s.to", f"&sto_site={name}")).site == "s.to"


def test_parse_provider_case_insensitive_and_mode_lowercased() -> None:
    magnet = legacy_magnet() + "&aw_provider=fileMOON"
    assert parse_magnet(magnet).provider == "Filemoon"
    strm = build_magnet("aniworld.to", "naruto", 1, 2, "German Dub", "x", mode="strm")
    assert parse_magnet(strm.replace("aw_mode=strm", "aw_mode=STRM")).mode == "strm"


def test_specials_and_movies_accept_zero() -> None:
    ref = parse_magnet(build_magnet("aniworld.to", "naruto", 0, 0, "German Sub", "Naruto.S00E00"))
    assert (ref.season, ref.episode) == (0, 0)


@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_any_release_title_survives_the_round_trip(title: str) -> None:
    assert parse_magnet(build_magnet("s.to", "dark", 1, 1, "German Dub", title)).name == title


@given(st.text(max_size=300))
def test_fuzzed_input_raises_only_magnet_error(junk: str) -> None:
    for uri in (junk, "magnet:?" + junk, legacy_magnet() + junk):
        with contextlib.suppress(MagnetError):
            parse_magnet(uri)


# --- hostile magnets ----------------------------------------------------------------------------

HOSTILE = {
    "http url": "http://evil.example/?xt=urn:btih:" + "0" * 40,
    "empty": "",
    "garbage": "magnet:?%%%&&&==",
    "no btih": legacy_magnet().replace("xt=urn:btih:", "xx=urn:btih:"),
    "sha256 topic": legacy_magnet().replace("urn:btih:", "urn:btmh:"),
    "short btih": legacy_magnet(btih="abc123"),
    "non-hex btih": legacy_magnet(btih="z" * 40),
    "mismatching btih": legacy_magnet(btih=sha1("naruto|1|3|German Dub")),
    "unknown site": legacy_magnet(site="evil.example"),
    "url as site": legacy_magnet(site="http%3A%2F%2Fevil.example%2F"),
    "site/prefix mismatch": legacy_magnet(site="s.to"),
    "missing slug": legacy_magnet().replace("aw_slug=naruto&", ""),
    "empty slug": legacy_magnet(slug=""),
    "traversal slug": legacy_magnet(slug="..%2F..%2Fetc%2Fpasswd"),
    "dotdot slug": legacy_magnet(slug="a..b"),
    "slash slug": legacy_magnet(slug="naruto%2Fshippuden"),
    "url slug": legacy_magnet(slug="https%3A%2F%2Fevil.example"),
    "space slug": legacy_magnet(slug="naruto+shippuden"),
    "uppercase slug": legacy_magnet(slug="Naruto"),
    "missing season": legacy_magnet().replace("aw_s=1&", ""),
    "negative season": legacy_magnet(s="-1"),
    "huge season": legacy_magnet(s="10001"),
    "giant episode": legacy_magnet(e="9" * 400),
    "float episode": legacy_magnet(e="2.0"),
    "plus episode": legacy_magnet(e="%2B2"),
    "unicode digit episode": legacy_magnet(e="%D9%A2"),
    "unknown language": legacy_magnet(lang="Klingon"),
    "lowercase language": legacy_magnet(lang="german+dub"),
    "missing language": legacy_magnet().replace("&aw_lang=German+Dub", ""),
    "unknown provider": legacy_magnet() + "&aw_provider=EvilHost",
    "mixed prefixes": legacy_magnet() + "&sto_slug=naruto",
    "duplicate slug": legacy_magnet() + "&aw_slug=other",
    "no anibridge params": "magnet:?xt=urn:btih:" + sha1("x") + "&dn=x",
    "bad mode": legacy_magnet() + "&aw_mode=..%2F",
    "too long": legacy_magnet() + "&tr=" + "a" * 5000,
}


@pytest.mark.parametrize("uri", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_magnets_are_rejected(uri: str) -> None:
    with pytest.raises(MagnetError) as info:
        parse_magnet(uri)
    assert str(info.value)


def test_error_messages_name_the_problem() -> None:
    with pytest.raises(MagnetError, match="unknown site"):
        parse_magnet(HOSTILE["url as site"])
    with pytest.raises(MagnetError, match="btih does not match"):
        parse_magnet(HOSTILE["mismatching btih"])
    with pytest.raises(MagnetError, match="missing aw_slug"):
        parse_magnet(HOSTILE["missing slug"])
    with pytest.raises(MagnetError, match="season"):
        parse_magnet(HOSTILE["negative season"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"site": "evil.example"},
        {"slug": "../x"},
        {"season": -1},
        {"episode": 10_001},
        {"language": "Klingon"},
        {"provider": "EvilHost"},
        {"mode": "a/b"},
    ],
)
def test_build_rejects_bad_fields(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {
        "site": "aniworld.to",
        "slug": "naruto",
        "season": 1,
        "episode": 1,
        "language": "German Dub",
        "release_title": "x",
    }
    args.update(kwargs)
    with pytest.raises(MagnetError):
        build_magnet(**args)  # type: ignore[arg-type]


# --- release titles -----------------------------------------------------------------------------


def test_release_title_basic() -> None:
    assert (
        release_title("Series Title", 1, 2, "German Dub", "aniworld.to")
        == "Series.Title.S01E02.WEB.H264.GER-ANIWORLD"
    )


@pytest.mark.parametrize(
    ("language", "tag"),
    [("German Dub", "GER"), ("German Sub", "GER.SUB"), ("English Sub", "ENG.SUB"), ("English Dub", "ENG")],
)
def test_release_title_language_tags(language: str, tag: str) -> None:
    assert release_title("Dark", 1, 1, language, "s.to") == f"Dark.S01E01.WEB.H264.{tag}-STO"


def test_release_title_umlauts_and_punctuation() -> None:
    title = release_title(
        "Mädchen & Größe: Über-Ärger!? Frieren's (Teil 2)", 1, 1, "German Dub", "aniworld.to"
    )
    assert title == "Maedchen.and.Groesse.Ueber.Aerger.Frierens.Teil.2.S01E01.WEB.H264.GER-ANIWORLD"


def test_release_title_accents_and_non_latin() -> None:
    assert release_title("Pokémon", 1, 1, "German Dub", "aniworld.to").startswith("Pokemon.S01E01.")
    assert release_title("進撃の巨人", 1, 1, "German Sub", "aniworld.to").startswith("進撃の巨人.S01E01.")
    assert release_title("!!!", 1, 1, "German Sub", "aniworld.to").startswith("Unknown.S01E01.")


def test_release_title_specials_and_three_digit_episodes() -> None:
    assert release_title("One Piece", 0, 5, "German Sub", "aniworld.to").startswith("One.Piece.S00E05.WEB")
    assert release_title("One Piece", 21, 1071, "German Sub", "aniworld.to").startswith("One.Piece.S21E1071.")
    assert release_title("One Piece", 1, 100, "German Sub", "aniworld.to").startswith("One.Piece.S01E100.")


def test_release_title_absolute_only_when_no_season() -> None:
    assert release_title("One Piece", None, None, "German Sub", "aniworld.to", absolute=7).startswith(
        "One.Piece.007.WEB"
    )
    assert ".S01E02." in release_title("One Piece", 1, 2, "German Sub", "aniworld.to", absolute=7)


def test_release_title_movies() -> None:
    movie = release_title("Some Title", 0, 0, "German Dub", "megakino", movie_year=2019, is_movie=True)
    assert movie == "Some.Title.2019.WEB.H264.GER-MEGAKINO"
    no_dup = release_title(
        "Blade Runner 2049", 1, 1, "German Dub", "megakino", movie_year=2049, is_movie=True
    )
    assert no_dup == "Blade.Runner.2049.WEB.H264.GER-MEGAKINO"


@pytest.mark.parametrize(("height", "tag"), [(2160, "2160p"), (720, "720p"), (480, "480p")])
def test_release_title_quality(height: int | None, tag: str) -> None:
    assert f".{tag}.WEB." in release_title("X", 1, 1, "German Dub", "s.to", height=height)


def test_release_title_claims_no_resolution_it_does_not_know() -> None:
    assert release_title("X", 1, 1, "German Dub", "s.to") == "X.S01E01.WEB.H264.GER-STO"


def test_release_title_rejects_unknown_site_or_language() -> None:
    with pytest.raises(ValueError):
        release_title("X", 1, 1, "German Dub", "evil.example")
    with pytest.raises(ValueError):
        release_title("X", 1, 1, "Klingon", "s.to")


def test_estimate_size() -> None:
    episode = estimate_size(False)
    movie = estimate_size(True)
    assert 200 * 2**20 < episode < 600 * 2**20
    assert 1 * 2**30 < movie < 3 * 2**30
    assert estimate_size(False, 2160) > episode > estimate_size(False, 480) > 0
