"""Deciding which TVDB show a provider title is, and how its episodes number there.

Pure functions, no I/O: the canonical stage gathers the provider's facts and SkyHook's answers
and asks these for a decision. Every decision carries a plain-words ``reason``.

Scoring a candidate show (``confidence`` 0..1) weighs three pieces of evidence:
  name      0.50  normalized equality of titles/alternative titles, else shared words
  year      0.30  provider year vs TVDB year (a year in "(2011)" in a TVDB title counts too)
  episodes  0.20  provider's regular episode count vs TVDB's (ongoing shows have fewer aired)
A match needs ``MATCH_THRESHOLD`` and a name that is more than a loose resemblance; a runner-up
within ``TIE_MARGIN`` of the best makes the title ambiguous instead of a silent guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..text import normalize
from .skyhook import Show, ShowEpisode, ShowSummary

W_NAME, W_YEAR, W_EPISODES = 0.5, 0.3, 0.2
MATCH_THRESHOLD = 0.75
TIE_MARGIN = 0.08
CONTRADICTION_CAP = 0.7
MIN_NAME_SCORE = 0.6  # below this a name is only a resemblance, never enough for a match
_YEAR_SUFFIX = re.compile(r"\s*\((19\d\d|20\d\d)\)\s*$")

EntryTuple = tuple[int, int, int, int, int | None]


@dataclass(frozen=True, slots=True)
class ProviderEpisode:
    season: int
    episode: int
    title: str = ""  # English title when known (TVDB titles are English)
    alt_title: str = ""  # German title


@dataclass(frozen=True, slots=True)
class ProviderTitle:
    names: tuple[str, ...]  # display title first
    year: int | None
    episodes: tuple[ProviderEpisode, ...] = ()

    @property
    def regular_count(self) -> int:
        return sum(1 for e in self.episodes if e.season > 0)


@dataclass(slots=True)
class Candidate:
    show: ShowSummary
    name: float = 0.0
    name_why: str = ""
    year: float = 0.5
    year_why: str = ""
    episodes: float | None = None  # None: show not fetched yet
    episodes_why: str = ""

    @property
    def confidence(self) -> float:
        eps = 1.0 if self.episodes is None else self.episodes
        score = W_NAME * self.name + W_YEAR * self.year + W_EPISODES * eps
        if self.episodes is not None and self.episodes <= 0.0:
            score = min(score, CONTRADICTION_CAP)  # far more provider episodes than TVDB has: another show
        return round(score, 4)

    def explain(self) -> str:
        parts = [self.name_why, self.year_why]
        if self.episodes_why:
            parts.append(self.episodes_why)
        return "; ".join(p for p in parts if p)


@dataclass(slots=True)
class Decision:
    status: Literal["matched", "ambiguous", "unmatched"]
    reason: str
    best: Candidate | None = None
    candidates: list[int] = field(default_factory=list)

    @property
    def confidence(self) -> float:
        return self.best.confidence if self.best else 0.0


# --- names ---------------------------------------------------------------------------------------
def split_year(title: str) -> tuple[str, int | None]:
    """'Kage (2011)' -> ('Kage', 2011); titles without a trailing year are returned unchanged."""
    m = _YEAR_SUFFIX.search(title)
    if m and _YEAR_SUFFIX.sub("", title).strip():
        return _YEAR_SUFFIX.sub("", title), int(m.group(1))
    return title, None


def search_terms(names: Iterable[str], limit: int = 4) -> list[str]:
    """Distinct names worth a SkyHook search (normalized duplicates dropped), display title first."""
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        key = normalize(name)
        if key and key not in seen:
            seen.add(key)
            out.append(name.strip())
        if len(out) >= limit:
            break
    return out


def _jaccard(a: str, b: str) -> float:
    ta, tb = set(a.split()), set(b.split())
    return len(ta & tb) / len(ta | tb) if ta and tb else 0.0


def score_name(provider: ProviderTitle, show: ShowSummary) -> tuple[float, str]:
    pnames = [(n, normalize(n)) for n in provider.names if normalize(n)]
    if not pnames:
        return 0.0, "provider title has no usable name"
    primary = pnames[0][1]
    tvdb_title = normalize(show.title)
    bare_title, qualifier = split_year(show.title)
    bare = normalize(bare_title)
    alternates = {normalize(a): a for a in show.alternate_titles}
    found: list[tuple[float, str]] = []
    if primary == tvdb_title:
        found.append((1.0, f"title {pnames[0][0]!r} equals the TVDB title"))
    for raw, norm in pnames[1:]:
        if norm == tvdb_title:
            found.append((0.95, f"alternative title {raw!r} equals the TVDB title {show.title!r}"))
    for raw, norm in pnames:
        if qualifier is not None and norm == bare:
            if provider.year == qualifier:
                found.append((0.95, f"{raw!r} equals the TVDB title {show.title!r} and the year in it matches"))
            else:
                found.append((0.8, f"{raw!r} equals the TVDB title {show.title!r} apart from its year"))
        if norm in alternates:
            found.append((0.9, f"{raw!r} equals TVDB alternate title {alternates[norm]!r} of {show.title!r}"))
    if found:
        return max(found, key=lambda f: f[0])
    best, why = 0.0, ""
    for raw, norm in pnames:
        for other in (tvdb_title, *alternates):
            j = _jaccard(norm, other)
            if j > best:
                best, why = j, f"{raw!r} shares {j:.0%} of its words with {show.title!r}"
    return round(0.8 * best, 4), why or f"no name in common with {show.title!r}"


def score_year(provider_year: int | None, show: ShowSummary) -> tuple[float, str]:
    year = show.year or split_year(show.title)[1]
    if provider_year is None or year is None:
        return 0.4, "no year to compare"
    diff = abs(provider_year - year)
    if diff == 0:
        return 1.0, f"year {year} agrees"
    if diff == 1:
        return 0.75, f"year {provider_year} vs TVDB {year} (one year apart)"
    if diff == 2:
        return 0.4, f"year {provider_year} vs TVDB {year} (two years apart)"
    return 0.0, f"year {provider_year} vs TVDB {year} ({diff} years apart)"


def _season_sizes(pairs: Iterable[tuple[int, int]]) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for season, _ in pairs:
        if season > 0:
            sizes[season] = sizes.get(season, 0) + 1
    return sizes


def score_episodes(provider: ProviderTitle, show: Show) -> tuple[float, str]:
    """How well the provider's season layout fits the show's (TVDB also lists unaired episodes)."""
    have, tvdb = provider.regular_count, len(show.regular())
    if have == 0:
        return 0.5, "provider lists no regular episodes"
    if tvdb == 0:
        return 0.3, "TVDB lists no regular episodes"
    if have == tvdb:
        return 1.0, f"{have} episodes on both sides"
    if have > tvdb:
        return (0.3 if have <= tvdb * 1.1 else 0.0), f"provider has {have} episodes, more than TVDB's {tvdb}"
    mine = _season_sizes((e.season, e.episode) for e in provider.episodes)
    theirs = _season_sizes((e.season, e.episode) for e in show.regular())
    last = max(mine)
    if len(mine) == 1:  # a partly aired single season says little
        return 0.6, f"one season; provider has {have} of TVDB's {tvdb} episodes"
    if all(theirs.get(s, 0) == n for s, n in mine.items() if s != last) and mine[last] <= theirs.get(last, 0) \
            and max(theirs) == last:
        return 0.9, f"seasons line up; provider has {have} of TVDB's {tvdb} episodes (latest season still airing)"
    if _boundaries_fit(mine, theirs):
        return 0.8, f"provider has {have} of TVDB's {tvdb} episodes in other season cuts, only the newest missing"
    return 0.3, f"provider has {have} of TVDB's {tvdb} episodes; seasons do not line up"


def _boundaries_fit(mine: dict[int, int], theirs: dict[int, int]) -> bool:
    """Provider seasons are runs of whole TVDB seasons (or the reverse); the newest may be partial."""
    def cuts(sizes: dict[int, int]) -> list[int]:
        out, total = [], 0
        for season in sorted(sizes):
            total += sizes[season]
            out.append(total)
        return out

    a, b = cuts(mine)[:-1], cuts(theirs)
    have = cuts(mine)[-1]
    inner_b = [c for c in b if c < have]
    return set(a) <= set(b) or set(inner_b) <= set(a)


def rank(provider: ProviderTitle, shows: Iterable[ShowSummary]) -> list[Candidate]:
    """Candidates scored on names and year (episodes come later), best first, one per TVDB id."""
    out: dict[int, Candidate] = {}
    for show in shows:
        if show.tvdb_id in out:
            continue
        name, name_why = score_name(provider, show)
        year, year_why = score_year(provider.year, show)
        out[show.tvdb_id] = Candidate(show, name, f"TVDB {show.tvdb_id}: {name_why}", year, year_why)
    return sorted(out.values(), key=lambda c: (-c.confidence, c.show.tvdb_id))


def worth_fetching(candidates: Sequence[Candidate], limit: int = 4) -> list[Candidate]:
    """Candidates that could still win or tie once episode counts are known."""
    if not candidates:
        return []
    floor = min(MATCH_THRESHOLD, candidates[0].confidence) - TIE_MARGIN
    return [c for c in candidates if c.name >= MIN_NAME_SCORE and c.confidence >= floor][:limit]


def add_episodes(candidate: Candidate, provider: ProviderTitle, show: Show) -> None:
    candidate.episodes, candidate.episodes_why = score_episodes(provider, show)


def decide(candidates: list[Candidate]) -> Decision:
    """Pick the best candidate, or explain why none is safe to pick."""
    ranked = sorted(candidates, key=lambda c: (-c.confidence, c.show.tvdb_id))
    ids = [c.show.tvdb_id for c in ranked[:5]]
    if not ranked:
        return Decision("unmatched", "SkyHook found no show under any of the title's names")
    best = ranked[0]
    if best.name < MIN_NAME_SCORE or best.confidence < MATCH_THRESHOLD:
        return Decision("unmatched", f"no confident match: best was {best.show.title!r} at {best.confidence:.2f}"
                        f" ({best.explain()})", best, ids)
    rival = next((c for c in ranked[1:] if c.confidence >= best.confidence - TIE_MARGIN), None)
    if rival is not None:
        return Decision("ambiguous", f"{best.show.title!r} ({best.show.tvdb_id}, {best.confidence:.2f}) and"
                        f" {rival.show.title!r} ({rival.show.tvdb_id}, {rival.confidence:.2f}) fit about equally:"
                        f" {best.explain()} / {rival.explain()}", best, ids)
    runner_up = f"; next best {ranked[1].show.tvdb_id} at {ranked[1].confidence:.2f}" if len(ranked) > 1 else ""
    return Decision("matched", f"{best.explain()} (confidence {best.confidence:.2f}{runner_up})", best, ids)


# --- episode numbering ---------------------------------------------------------------------------
def _same_title(a: str, b: str) -> bool:
    na = normalize(a)
    return bool(na) and na == normalize(b)


def _title_hits(pairs: Iterable[tuple[ProviderEpisode, ShowEpisode]]) -> int:
    return sum(1 for p, t in pairs if _same_title(p.title, t.title) or _same_title(p.alt_title, t.title))


def title_similarity(a: str, b: str) -> float:
    """1.0 for the same normalized title, else the share of words both have (Jaccard), 0..1."""
    na, nb = normalize(a), normalize(b)
    if not na or not nb:
        return 0.0
    if na == nb:
        return 1.0
    wa, wb = set(na.split()), set(nb.split())
    return len(wa & wb) / len(wa | wb)


def map_episodes(provider: Sequence[ProviderEpisode], show: Show, *, specials: bool = True,
                 special_threshold: float = 1.0) -> tuple[list[EntryTuple], str]:
    """Provider (season, episode) -> TVDB (season, episode, absolute), with how it was decided.

    Regular episodes keep their numbers when every provider episode exists on TVDB under the
    same number; otherwise (one long provider season split into several TVDB seasons, or the
    other way round) they are mapped in broadcast order. When both layouts fit, episode titles
    decide. Specials (season 0) map by title, then by number.
    """
    regular = sorted((e for e in provider if e.season > 0), key=lambda e: (e.season, e.episode))
    tvdb_regular = show.regular()
    by_number = {(e.season, e.episode): e for e in tvdb_regular}
    identity = [(p, by_number[(p.season, p.episode)]) for p in regular if (p.season, p.episode) in by_number]
    ordered = list(zip(regular, tvdb_regular, strict=False))
    entries: list[EntryTuple] = []
    if not regular:
        why = "no regular episodes"
        pairs: list[tuple[ProviderEpisode, ShowEpisode]] = []
    elif len(identity) == len(regular) and (identity == ordered or _title_hits(identity) >= _title_hits(ordered)):
        pairs, why = identity, "same season/episode numbers as TVDB"
    else:
        pairs = ordered
        seasons = sorted({p.season for p in regular})
        tseasons = sorted({t.season for _, t in ordered})
        why = (f"by broadcast order: provider season(s) {_span(seasons)} -> TVDB season(s) {_span(tseasons)}")
        if len(regular) > len(tvdb_regular):
            why += f"; {len(regular) - len(tvdb_regular)} provider episodes beyond TVDB's list"
    entries.extend((p.season, p.episode, t.season, t.episode, t.absolute) for p, t in pairs)
    if specials:  # SPECIALS_METADATA_ENABLED
        mapped, special_why = _map_specials([e for e in provider if e.season == 0], show.specials(),
                                            special_threshold)
    else:
        mapped, special_why = [], "specials not mapped (SPECIALS_METADATA_ENABLED=false)"
    entries.extend(mapped)
    if special_why:
        why += "; " + special_why
    entries.sort(key=lambda e: (e[0], e[1]))
    return entries, why


def _map_specials(provider: list[ProviderEpisode], tvdb: list[ShowEpisode],
                  threshold: float = 1.0) -> tuple[list[EntryTuple], str]:
    if not provider:
        return [], ""
    if not tvdb:
        return [], f"{len(provider)} specials/films not on TVDB"
    used: set[int] = set()
    out: list[EntryTuple] = []
    by_title = by_number = 0
    rest: list[ProviderEpisode] = []
    numbers = {t.episode: t for t in tvdb}
    for p in sorted(provider, key=lambda e: e.episode):
        # the TVDB specials whose title is most alike, when at least SPECIALS_MATCH_CONFIDENCE_THRESHOLD
        scores = [(max(title_similarity(p.title, t.title), title_similarity(p.alt_title, t.title)), t) for t in tvdb]
        best = max((score for score, _ in scores), default=0.0)
        same = [t for score, t in scores if score == best] if best >= max(threshold, 1e-9) else []
        same_number = numbers.get(p.episode)
        if same_number in same and same_number is not None:
            hit: ShowEpisode | None = same_number
        else:
            hit = same[0] if len(same) == 1 else None  # a title shared by several specials proves nothing
        if hit is None or hit.episode in used:
            rest.append(p)
            continue
        used.add(hit.episode)
        out.append((0, p.episode, 0, hit.episode, hit.absolute))
        by_title += 1
    for p in rest:
        hit = numbers.get(p.episode)
        if hit is not None and hit.episode not in used:
            used.add(hit.episode)
            out.append((0, p.episode, 0, hit.episode, hit.absolute))
            by_number += 1
    missing = len(provider) - by_title - by_number
    why = f"specials: {by_title} by title, {by_number} by number"
    return out, why + (f", {missing} unmapped" if missing else "")


def _span(numbers: Sequence[int]) -> str:
    if not numbers:
        return "-"
    return str(numbers[0]) if len(numbers) == 1 else f"{numbers[0]}-{numbers[-1]}"
