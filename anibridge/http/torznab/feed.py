"""Torznab XML documents (caps, RSS feed, error) built as strings, returned as UTF-8 bytes.

Every text and attribute value passes through `_text`/`_attr`, which escape markup and drop
characters XML 1.0 forbids (a single stray \\x00 makes Sonarr reject the whole feed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from functools import lru_cache

from anibridge.releases import build_magnet, estimate_size, info_hash

TORZNAB_NS = "http://torznab.com/schemas/2015/feed"
ATOM_NS = "http://www.w3.org/2005/Atom"
# FlexGet keeps only enclosures of exactly this type; Sonarr/Radarr accept it too.
ENCLOSURE_TYPE = "application/x-bittorrent"
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

CONNECTIVITY_TITLE = "AniBridge Connectivity Test"
CONNECTIVITY_EPOCH = 1_704_067_200.0  # 2024-01-01T00:00:00Z; fixed so RSS paging sees a stable item

_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTR_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}
)


@dataclass(frozen=True, slots=True)
class TorznabItem:
    title: str
    guid: str
    pub_date: float  # epoch seconds
    category: int
    size: int
    magnet: str
    info_hash: str
    seeders: int
    peers: int
    tvdbid: int | None = None
    imdbid: str | None = None  # digits only
    language: str | None = None
    subs: str | None = None
    season: int | None = None
    episode: int | None = None
    description: str = ""


def clean(value: object) -> str:
    return _ILLEGAL.sub("", str(value))


# Most values (numbers, hashes, dotted release names) need no escaping: one regex search decides. Each
# is one negated class, what needs no work (legal characters but & < >, and " and \t\n\r in attributes):
# twice as fast as the alternation "markup or illegal".
_NEEDS_TEXT_WORK = re.compile("[^\t\n\r\x20-\x25\x27-\x3b\x3d\x3f-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NEEDS_ATTR_WORK = re.compile("[^\x20\x21\x23-\x25\x27-\x3b\x3d\x3f-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: object) -> str:
    text = str(value)
    if not _NEEDS_TEXT_WORK.search(text):
        return text
    if _ILLEGAL.search(text):
        text = _ILLEGAL.sub("", text)
    # str.replace (ampersand first) is the same as translate(_TEXT_ESCAPES), many times faster
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(value: object) -> str:
    text = str(value)
    if not _NEEDS_ATTR_WORK.search(text):
        return text
    if _ILLEGAL.search(text):
        text = _ILLEGAL.sub("", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;")
    return text


def render_caps(
    server_title: str,
    categories: Sequence[tuple[int, str]],
    limits: tuple[int, int] = (100, 100),
    tv_params: str = "q,season,ep,tvdbid",
    movie_params: str = "q,imdbid",
) -> bytes:
    """`limits` is (max, default). Subcategories (e.g. 5070) nest under a listed parent (5000)."""
    max_limit, default_limit = limits
    parts = [
        DECLARATION,
        "<caps>",
        f'<server version="1.0" title="{_attr(server_title)}"/>',
        f'<limits max="{int(max_limit)}" default="{int(default_limit)}"/>',
        "<searching>",
        '<search available="yes" supportedParams="q"/>',
        f'<tv-search available="yes" supportedParams="{_attr(tv_params)}"/>',
        f'<movie-search available="yes" supportedParams="{_attr(movie_params)}"/>',
        "</searching>",
        "<categories>",
    ]
    ids = {cat_id for cat_id, _ in categories}
    for cat_id, name in categories:
        if _parent(cat_id) in ids:
            continue
        subcats = [(c, n) for c, n in categories if _parent(c) == cat_id]
        opening = f'<category id="{int(cat_id)}" name="{_attr(name)}"'
        if not subcats:
            parts.append(opening + "/>")
            continue
        parts.append(opening + ">")
        parts += [f'<subcat id="{int(c)}" name="{_attr(n)}"/>' for c, n in subcats]
        parts.append("</category>")
    parts.append("</categories></caps>")
    return "".join(parts).encode("utf-8")


def render_feed(
    items: Iterable[TorznabItem | str],
    server_title: str,
    offset: int,
    total: int,
    link: str = "https://localhost/",
) -> bytes:
    parts = [
        DECLARATION,
        f'<rss version="2.0" xmlns:atom="{ATOM_NS}" xmlns:torznab="{TORZNAB_NS}">',
        "<channel>",
        f'<atom:link href="{_attr(link)}" rel="self" type="application/rss+xml"/>',
        f"<title>{_text(server_title)}</title>",
        f"<description>{_text(server_title)} Torznab feed</description>",
        f"<link>{_text(link)}</link>",
        f'<torznab:response offset="{int(offset)}" total="{int(total)}"/>',
    ]
    # Encoded item by item: most items are ASCII, which encodes as a plain copy, while one non-ASCII
    # character anywhere makes the whole document take the slower path.
    body = ["".join(parts).encode()]
    body += [(item if isinstance(item, str) else render_item(item)).encode() for item in items]
    body.append(b"</channel></rss>")
    return b"".join(body)


def render_error(code: int, description: str) -> bytes:
    return f'{DECLARATION}<error code="{int(code)}" description="{_attr(description)}"/>'.encode()


def connectivity_item(server_title: str, category: int, status: str = "") -> TorznabItem:
    """The item Sonarr's and Prowlarr's indexer tests get (they fail on an empty feed); with ``status``,
    the one a search gets while the catalogue is initializing (the title says so).

    Same slug, episode and language as the earlier AniBridge's test entry, so its magnet and
    hash are the ones existing installs have already seen.
    """
    slug, season, episode, language = "connectivity-test", 1, 1, "German Dub"
    return TorznabItem(
        title=f"{server_title} is initializing its catalogue, try again shortly" if status else CONNECTIVITY_TITLE,
        guid=f"aw:{slug}:s{season}e{episode}:{language}",
        pub_date=CONNECTIVITY_EPOCH,
        category=category,
        size=estimate_size(False),
        magnet=build_magnet("aniworld.to", slug, season, episode, language, CONNECTIVITY_TITLE),
        info_hash=info_hash(slug, season, episode, language),
        seeders=1,
        peers=1,
        language="German",  # as Sonarr names languages (IsoLanguages.FindByName)
        description=status or f"{server_title} connectivity check: the indexer is reachable.",
    )


def _parent(category: int) -> int | None:
    parent = category - category % 1000
    return parent if parent != category else None


def _digits(value: str | None) -> str | None:
    return "".join(ch for ch in value if ch in "0123456789") if value else None


@lru_cache(maxsize=1024)
def _rfc822_second(second: int) -> str:
    return formatdate(second, usegmt=True)


def _rfc822(epoch: float) -> str:
    # Episodes indexed by one crawl share their first-seen second: format each second once.
    return _rfc822_second(int(epoch))


def render_item(item: TorznabItem) -> str:
    """One ``<item>`` element; ``render_feed`` accepts these strings in place of items (callers cache them)."""
    size = max(1, int(item.size))
    seeders = max(1, int(item.seeders))  # Sonarr drops releases with fewer than one seeder
    peers = max(seeders, int(item.peers))
    category = int(item.category)
    parent = _parent(item.category)
    magnet_text = _text(item.magnet)
    magnet = _attr(item.magnet)
    if parent is None:
        cats = f"<category>{category}</category>"
        cat_attrs = f'<torznab:attr name="category" value="{_attr(item.category)}"/>'
    else:
        # Prowlarr filters by the requested (often parent) category
        cats = f"<category>{category}</category><category>{int(parent)}</category>"
        cat_attrs = (
            f'<torznab:attr name="category" value="{_attr(item.category)}"/>'
            f'<torznab:attr name="category" value="{_attr(parent)}"/>'
        )
    optional = ""
    for name, value in (
        ("tvdbid", item.tvdbid),
        ("imdb", _digits(item.imdbid)),  # Radarr reads `imdb` and int-parses it: digits only
        ("season", item.season),
        ("episode", item.episode),
        ("language", item.language),
        ("subs", item.subs),
    ):
        if value is not None and value != "":
            optional += f'<torznab:attr name="{name}" value="{_attr(value)}"/>'
    return (
        f"<item><title>{_text(item.title)}</title>"
        f'<guid isPermaLink="false">{_text(item.guid)}</guid>'
        f"<link>{magnet_text}</link>"
        f"<pubDate>{_rfc822(item.pub_date)}</pubDate>"
        f"<size>{size}</size>"
        f"<description>{_text(item.description)}</description>"
        f'{cats}<enclosure url="{magnet}" length="{size}" type="{ENCLOSURE_TYPE}"/>'
        f"{cat_attrs}"
        f'<torznab:attr name="size" value="{size}"/>'
        f'<torznab:attr name="seeders" value="{seeders}"/>'
        f'<torznab:attr name="peers" value="{peers}"/>'
        f'<torznab:attr name="magneturl" value="{magnet}"/>'
        f'<torznab:attr name="infohash" value="{_attr(item.info_hash.lower())}"/>'
        '<torznab:attr name="downloadvolumefactor" value="0"/>'
        '<torznab:attr name="uploadvolumefactor" value="1"/>'
        f"{optional}</item>"
    )
