"""Parse and validate Torznab query parameters into a typed query.

Errors carry Newznab error codes; the caller renders them with ``render_error``. Code 100
(bad API key) is the caller's business. Numbers are ASCII digits only: ``int()`` alone would
accept ``"+1"``, ``" 1"``, ``"1_0"`` and non-ASCII digits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

MISSING_PARAMETER = 200
INCORRECT_PARAMETER = 201
NO_SUCH_FUNCTION = 202

MAX_Q = 256
MAX_NUMBER = 9999
MAX_ID = 2_147_483_647  # Sonarr/Radarr parse ids as Int32
MAX_OFFSET = 10_000
MAX_LIMIT = 100
MAX_CATS = 50

_FUNCTIONS = {
    "caps": "caps",
    "search": "search",
    "tvsearch": "tvsearch",
    "tv-search": "tvsearch",
    "movie": "movie",
    "movie-search": "movie",
}
_DIGITS = re.compile(r"[0-9]{1,12}")
_EPISODE = re.compile(r"[Ee]?([0-9]{1,5})")
_DAILY_EPISODE = re.compile(r"[0-9]{1,2}/[0-9]{1,2}")
_IMDB = re.compile(r"(?:tt)?([0-9]{1,10})", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ABSOLUTE = re.compile(r"(.*\S)\s+([0-9]{1,4})")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class TorznabError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


@dataclass(frozen=True, slots=True)
class TorznabQuery:
    t: str
    q: str | None = None
    season: int | None = None
    ep: int | None = None
    tvdbid: int | None = None
    imdbid: str | None = None  # digits only, at least 7 (IMDb's own padding)
    tmdbid: int | None = None
    cat: list[int] = field(default_factory=list)
    limit: int = MAX_LIMIT
    offset: int = 0
    extended: bool = False
    apikey: str | None = None


def parse_query(params: Mapping[str, str]) -> TorznabQuery:
    """Validate query + form parameters (already merged, values as received)."""
    values = {k.lower(): v.strip() for k, v in params.items() if isinstance(v, str) and v.strip()}
    raw_t = values.get("t")
    if raw_t is None:
        raise TorznabError(MISSING_PARAMETER, "Missing parameter: t")
    t = _FUNCTIONS.get(raw_t.lower())
    if t is None:
        raise TorznabError(NO_SUCH_FUNCTION, "No such function")
    return TorznabQuery(
        t=t,
        q=_query_text(values.get("q")),
        season=_number(values, "season", MAX_NUMBER),
        ep=_episode(values.get("ep")),
        tvdbid=_identifier(values, "tvdbid"),
        imdbid=_imdb(values.get("imdbid")),
        tmdbid=_identifier(values, "tmdbid"),
        cat=_categories(values.get("cat")),
        limit=_limit(values.get("limit")),
        offset=_number(values, "offset", MAX_OFFSET) or 0,
        extended=_flag(values.get("extended")),
        apikey=values.get("apikey"),
    )


def split_absolute(q: str) -> tuple[str, int | None]:
    """'One Piece 1071' -> ('One Piece', 1071); callers should also try the full text
    (titles such as 'Mob Psycho 100' or 'Blade Runner 2049' end in numbers)."""
    match = _ABSOLUTE.fullmatch(q.strip())
    if match is None:
        return q.strip(), None
    return match.group(1), int(match.group(2))


def _bad(name: str, reason: str) -> TorznabError:
    return TorznabError(INCORRECT_PARAMETER, f"Incorrect parameter: {name} {reason}")


def _query_text(raw: str | None) -> str | None:
    if raw is None:
        return None
    if len(raw) > MAX_Q:
        raise _bad("q", f"is longer than {MAX_Q} characters")
    if _CONTROL.search(raw):
        raise _bad("q", "contains control characters")
    return " ".join(raw.split()) or None


def _number(values: Mapping[str, str], name: str, maximum: int) -> int | None:
    raw = values.get(name)
    if raw is None:
        return None
    if not _DIGITS.fullmatch(raw) or int(raw) > maximum:
        raise _bad(name, f"must be a whole number from 0 to {maximum}")
    return int(raw)


def _identifier(values: Mapping[str, str], name: str) -> int | None:
    value = _number(values, name, MAX_ID)
    return value or None  # id 0 means "unknown" to some clients


def _episode(raw: str | None) -> int | None:
    if raw is None:
        return None
    # Daily shows send ep=MM/DD with season=YYYY; the catalogue has no dated episodes, so the
    # search simply matches nothing rather than failing the indexer.
    if _DAILY_EPISODE.fullmatch(raw):
        return None
    match = _EPISODE.fullmatch(raw)
    if match is None or int(match.group(1)) > MAX_NUMBER:
        raise _bad("ep", f"must be a whole number from 0 to {MAX_NUMBER}")
    return int(match.group(1))


def _imdb(raw: str | None) -> str | None:
    if raw is None:
        return None
    match = _IMDB.fullmatch(raw)
    if match is None:
        raise _bad("imdbid", "must look like tt0123456")
    digits = match.group(1)
    if int(digits) == 0:
        return None
    return digits.lstrip("0").rjust(7, "0")


def _categories(raw: str | None) -> list[int]:
    if raw is None:
        return []
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if len(parts) > MAX_CATS:
        raise _bad("cat", f"lists more than {MAX_CATS} categories")
    cats: list[int] = []
    for part in parts:
        if not _DIGITS.fullmatch(part) or int(part) > 999_999:
            raise _bad("cat", "must be a comma-separated list of category numbers")
        if int(part) not in cats:
            cats.append(int(part))
    return cats


def _limit(raw: str | None) -> int:
    if raw is None:
        return MAX_LIMIT
    if not re.fullmatch(r"[0-9]{1,30}", raw):
        raise _bad("limit", "must be a whole number")
    value = int(raw)
    return MAX_LIMIT if value == 0 else min(value, MAX_LIMIT)


def _flag(raw: str | None) -> bool:
    if raw is None:
        return False
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _bad("extended", "must be 0 or 1")
