from __future__ import annotations

import xml.etree.ElementTree as ET
from email.utils import parsedate_to_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anibridge.http.torznab.feed import (
    ENCLOSURE_TYPE,
    TorznabItem,
    clean,
    connectivity_item,
    render_caps,
    render_error,
    render_feed,
)
from anibridge.http.torznab.params import (
    INCORRECT_PARAMETER,
    MISSING_PARAMETER,
    NO_SUCH_FUNCTION,
    TorznabError,
    TorznabQuery,
    parse_query,
    split_absolute,
)
from anibridge.releases import build_magnet, info_hash, parse_magnet

NS = {"torznab": "http://torznab.com/schemas/2015/feed", "atom": "http://www.w3.org/2005/Atom"}
HOSTILE = "Evil <script>alert(\"x\")</script> & \x00\x01\x08\x0b\x0c\x1f\ufffe Title \ud800 ]]> 'q'"


def make_item(**overrides: object) -> TorznabItem:
    magnet = build_magnet("aniworld.to", "naruto", 1, 2, "German Sub", "Naruto.S01E02", provider="VOE")
    fields: dict[str, object] = {
        "title": "Naruto.S01E02.1080p.WEB.H264.GER.SUB-ANIWORLD",
        "guid": "aw:naruto:s1e2:German Sub",
        "pub_date": 1_700_000_000.0,
        "category": 5070,
        "size": 367_001_600,
        "magnet": magnet,
        "info_hash": info_hash("naruto", 1, 2, "German Sub"),
        "seeders": 5,
        "peers": 7,
        "tvdbid": 78857,
        "imdbid": "0409591",
        "language": "German",
        "subs": "German",
        "season": 1,
        "episode": 2,
        "description": "Episode 2",
    }
    fields.update(overrides)
    return TorznabItem(**fields)  # type: ignore[arg-type]


def attrs(item: ET.Element) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for attr in item.findall("torznab:attr", NS):
        found.setdefault(attr.get("name", ""), []).append(attr.get("value", ""))
    return found


def parse_feed(data: bytes) -> ET.Element:
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    data.decode("utf-8")  # strict: must be valid UTF-8
    return ET.fromstring(data)


# --- feed ---------------------------------------------------------------------------------------


def test_feed_has_every_required_element() -> None:
    item_in = make_item()
    root = parse_feed(render_feed([item_in], "AniBridge", offset=0, total=1))
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel is not None
    assert channel.findtext("title") == "AniBridge"
    assert channel.findtext("description")
    assert channel.findtext("link")
    assert channel.find("atom:link", NS) is not None
    response = channel.find("torznab:response", NS)
    assert response is not None and response.get("offset") == "0" and response.get("total") == "1"

    (item,) = channel.findall("item")
    assert item.findtext("title") == item_in.title
    guid = item.find("guid")
    assert guid is not None and guid.text == item_in.guid and guid.get("isPermaLink") == "false"
    assert item.findtext("link") == item_in.magnet
    pub = item.findtext("pubDate")
    assert pub is not None and pub.endswith("GMT")
    assert parsedate_to_datetime(pub).timestamp() == item_in.pub_date
    assert item.findtext("size") == str(item_in.size)
    assert [c.text for c in item.findall("category")] == ["5070", "5000"]
    enclosure = item.find("enclosure")
    assert enclosure is not None
    assert enclosure.get("url") == item_in.magnet
    assert enclosure.get("length") == str(item_in.size)
    assert enclosure.get("type") == ENCLOSURE_TYPE == "application/x-bittorrent"

    got = attrs(item)
    assert got["category"] == ["5070", "5000"]
    expected_single = {
        "size": "367001600",
        "seeders": "5",
        "peers": "7",
        "magneturl": item_in.magnet,
        "infohash": item_in.info_hash,
        "downloadvolumefactor": "0",
        "uploadvolumefactor": "1",
        "tvdbid": "78857",
        "imdb": "0409591",
        "season": "1",
        "episode": "2",
        "language": "German",
        "subs": "German",
    }
    for name, value in expected_single.items():
        assert got[name] == [value], name
    assert "imdbid" not in got
    # The magnet survives XML escaping unchanged and still parses.
    assert parse_magnet(got["magneturl"][0]).info_hash == item_in.info_hash


def test_feed_omits_unknown_optional_attrs_and_fixes_counts() -> None:
    item = make_item(
        tvdbid=None,
        imdbid=None,
        language=None,
        subs=None,
        season=None,
        episode=None,
        seeders=0,
        peers=0,
        size=0,
        category=2000,
    )
    root = parse_feed(render_feed([item], "AniBridge", 0, 1))
    got = attrs(root.find("channel/item"))  # type: ignore[arg-type]
    for name in ("tvdbid", "imdb", "language", "subs", "season", "episode"):
        assert name not in got
    assert got["seeders"] == ["1"] and got["peers"] == ["1"]
    assert got["size"] == ["1"]
    assert got["category"] == ["2000"]


def test_imdb_attr_is_digits_only() -> None:
    root = parse_feed(render_feed([make_item(imdbid="tt0111161")], "AniBridge", 0, 1))
    assert attrs(root.find("channel/item"))["imdb"] == ["0111161"]  # type: ignore[arg-type]


def test_empty_feed_is_valid() -> None:
    root = parse_feed(render_feed([], "AniBridge", offset=100, total=3))
    assert root.findall("channel/item") == []
    response = root.find("channel/torznab:response", NS)
    assert response is not None and response.get("offset") == "100"


def test_hostile_text_is_escaped_and_stripped() -> None:
    item = make_item(title=HOSTILE, guid=HOSTILE, description=HOSTILE, language=HOSTILE, subs='a\tb\nc"d')
    data = render_feed([item], HOSTILE, 0, 1)
    root = parse_feed(data)
    assert b"<script>" not in data
    parsed_item = root.find("channel/item")
    assert parsed_item is not None
    title = parsed_item.findtext("title")
    assert title is not None
    assert "<script>" in title and "&" in title and "]]>" in title
    for bad in "\x00\x01\x08\x0b\x0c\x1f\ufffe\ud800":
        assert bad not in title
    assert attrs(parsed_item)["language"] == [title]
    # Tabs, newlines and quotes in attribute values survive attribute-value normalization.
    assert attrs(parsed_item)["subs"] == ['a\tb\nc"d']
    assert root.findtext("channel/title") == title


@given(st.text(max_size=200))
def test_any_text_renders_to_well_formed_xml(text: str) -> None:
    root = parse_feed(render_feed([make_item(title=text, language=text)], text, 0, 1))
    item = root.find("channel/item")
    assert item is not None
    # XML parsers normalize line ends in element text; attribute values keep them (&#13;).
    assert (item.findtext("title") or "") == clean(text).replace("\r\n", "\n").replace("\r", "\n")
    assert attrs(item).get("language", [""]) == [clean(text)]


def test_many_items_keep_order() -> None:
    items = [make_item(guid=f"g{i}", title=f"T{i}") for i in range(50)]
    root = parse_feed(render_feed(items, "AniBridge", 0, 50))
    assert [i.findtext("guid") for i in root.findall("channel/item")] == [f"g{i}" for i in range(50)]


def test_connectivity_item_is_stable_and_valid() -> None:
    first = connectivity_item("AniBridge", 5070)
    assert first == connectivity_item("AniBridge", 5070)
    ref = parse_magnet(first.magnet)
    assert (ref.site, ref.slug, ref.season, ref.episode, ref.language) == (
        "aniworld.to",
        "connectivity-test",
        1,
        1,
        "German Dub",
    )
    assert ref.info_hash == first.info_hash
    assert first.seeders >= 1 and first.size > 0
    root = parse_feed(render_feed([first], "AniBridge", 0, 1))
    assert len(root.findall("channel/item")) == 1
    assert root.findtext("channel/item/pubDate") == "Mon, 01 Jan 2024 00:00:00 GMT"


# --- caps / error -------------------------------------------------------------------------------


def test_caps() -> None:
    cats = [(5000, "TV"), (5070, "TV/Anime"), (2000, "Movies")]
    root = ET.fromstring(render_caps("AniBridge <&>", cats, limits=(100, 50)))
    assert root.tag == "caps"
    server = root.find("server")
    assert server is not None and server.get("title") == "AniBridge <&>"
    limits = root.find("limits")
    assert limits is not None and (limits.get("max"), limits.get("default")) == ("100", "50")
    searching = {el.tag: el.attrib for el in root.find("searching")}  # type: ignore[union-attr]
    assert searching["search"] == {"available": "yes", "supportedParams": "q"}
    assert searching["tv-search"] == {"available": "yes", "supportedParams": "q,season,ep,tvdbid"}
    assert searching["movie-search"] == {"available": "yes", "supportedParams": "q,imdbid"}
    top = {c.get("id"): c for c in root.findall("categories/category")}
    assert set(top) == {"5000", "2000"}
    assert top["5000"].get("name") == "TV"
    subcats = top["5000"].findall("subcat")
    assert [(s.get("id"), s.get("name")) for s in subcats] == [("5070", "TV/Anime")]


def test_caps_without_parent_keeps_subcategory_top_level() -> None:
    root = ET.fromstring(render_caps("AniBridge", [(5070, "TV/Anime")]))
    assert [c.get("id") for c in root.findall("categories/category")] == ["5070"]


@pytest.mark.parametrize(
    ("code", "description"), [(100, "Incorrect user credentials"), (201, 'Bad "q" <&>\x00')]
)
def test_error_document(code: int, description: str) -> None:
    data = render_error(code, description)
    root = parse_feed(data)
    assert root.tag == "error"
    assert root.get("code") == str(code)
    assert root.get("description") == description.replace("\x00", "")


# --- parameters ---------------------------------------------------------------------------------


def test_params_full_tvsearch() -> None:
    query = parse_query(
        {
            "t": "tvsearch",
            "q": "  One   Piece ",
            "season": "21",
            "ep": "E05",
            "tvdbid": "81797",
            "cat": "5070,5000,5070",
            "limit": "50",
            "offset": "100",
            "extended": "1",
            "apikey": "k",
        }
    )
    assert query == TorznabQuery(
        t="tvsearch",
        q="One Piece",
        season=21,
        ep=5,
        tvdbid=81797,
        cat=[5070, 5000],
        limit=50,
        offset=100,
        extended=True,
        apikey="k",
    )


def test_params_defaults() -> None:
    query = parse_query({"t": "search"})
    assert query == TorznabQuery(t="search")
    assert query.limit == 100 and query.offset == 0 and query.cat == []


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("caps", "caps"),
        ("search", "search"),
        ("tvsearch", "tvsearch"),
        ("tv-search", "tvsearch"),
        ("movie", "movie"),
        ("movie-search", "movie"),
        ("TVSearch", "tvsearch"),
    ],
)
def test_params_function_aliases(raw: str, normalized: str) -> None:
    assert parse_query({"t": raw}).t == normalized


def test_params_movie_ids() -> None:
    query = parse_query({"t": "movie", "imdbid": "tt0111161", "tmdbid": "278"})
    assert (query.imdbid, query.tmdbid) == ("0111161", 278)
    assert parse_query({"t": "movie", "imdbid": "111161"}).imdbid == "0111161"
    assert parse_query({"t": "movie", "imdbid": "TT12345678"}).imdbid == "12345678"


def test_params_empty_values_are_absent() -> None:
    query = parse_query({"t": "tvsearch", "q": "", "season": " ", "ep": "", "cat": ""})
    assert (query.q, query.season, query.ep, query.cat) == (None, None, None, [])


def test_params_limit_is_clamped() -> None:
    assert parse_query({"t": "search", "limit": "1000"}).limit == 100
    assert parse_query({"t": "search", "limit": "9" * 30}).limit == 100
    assert parse_query({"t": "search", "limit": "0"}).limit == 100
    assert parse_query({"t": "search", "limit": "7"}).limit == 7


def test_params_daily_episode_is_tolerated() -> None:
    query = parse_query({"t": "tvsearch", "q": "x", "season": "2024", "ep": "10/25"})
    assert (query.season, query.ep) == (2024, None)


def test_params_q_with_injection_text_is_kept_verbatim() -> None:
    text = "'; DROP TABLE titles; -- <script>&amp; ../../etc/passwd %00"
    assert parse_query({"t": "search", "q": text}).q == text


def test_params_missing_t() -> None:
    with pytest.raises(TorznabError) as info:
        parse_query({"q": "x"})
    assert info.value.code == MISSING_PARAMETER


@pytest.mark.parametrize("t", ["rss", "details", "getnfo", "caps;drop", "<script>"])
def test_params_unknown_function(t: str) -> None:
    with pytest.raises(TorznabError) as info:
        parse_query({"t": t})
    assert (info.value.code, info.value.description) == (NO_SUCH_FUNCTION, "No such function")


@pytest.mark.parametrize(
    "extra",
    [
        {"q": "x" * 257},
        {"q": "a\x00b"},
        {"q": "a\nb"},
        {"season": "-1"},
        {"season": "10000"},
        {"season": "S01"},
        {"season": "1.5"},
        {"season": "+1"},
        {"season": "١"},
        {"ep": "-3"},
        {"ep": "E99999"},
        {"ep": "five"},
        {"tvdbid": "abc"},
        {"tvdbid": "99999999999"},
        {"tmdbid": "-5"},
        {"imdbid": "nm0000001"},
        {"imdbid": "tt"},
        {"cat": "5070,abc"},
        {"cat": "-1"},
        {"cat": ",".join(str(i) for i in range(51))},
        {"limit": "-1"},
        {"limit": "ten"},
        {"offset": "-1"},
        {"offset": "10001"},
        {"offset": "1e3"},
        {"extended": "maybe"},
    ],
)
def test_params_incorrect(extra: dict[str, str]) -> None:
    with pytest.raises(TorznabError) as info:
        parse_query({"t": "tvsearch", **extra})
    assert info.value.code == INCORRECT_PARAMETER
    assert info.value.description.startswith("Incorrect parameter")


def test_params_rejects_q_at_limit_boundary() -> None:
    assert parse_query({"t": "search", "q": "x" * 256}).q == "x" * 256


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("One Piece 1071", ("One Piece", 1071)),
        ("Naruto  12", ("Naruto", 12)),
        ("Attack on Titan", ("Attack on Titan", None)),
        ("1071", ("1071", None)),
        ("Title 12345", ("Title 12345", None)),
        ("Title-12", ("Title-12", None)),
        ("  Bleach 0003 ", ("Bleach", 3)),
    ],
)
def test_split_absolute(q: str, expected: tuple[str, int | None]) -> None:
    assert split_absolute(q) == expected
