"""Season searches (``season`` without ``ep``) under TORZNAB_SEASON_SEARCH_MODE.

``fast``: every episode the catalogue lists for the season. ``strict``: AniBridge 2.5 probed the
provider for episode 1, 2, 3, ... up to TORZNAB_SEASON_SEARCH_MAX_EPISODES and stopped after
TORZNAB_SEASON_SEARCH_MAX_CONSECUTIVE_MISSES missing ones in a row; the same walk here asks the
catalogue instead of the provider (searches never reach the providers).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ...config import Settings
from ...projections.queries import EpisodeRow


def season_rows(settings: Settings, rows: Iterable[EpisodeRow]) -> Iterable[EpisodeRow]:
    if settings.torznab_season_search_mode != "strict":
        return rows
    return strict_walk(rows, settings.torznab_season_search_max_episodes,
                       settings.torznab_season_search_max_consecutive_misses)


def strict_walk(rows: Iterable[EpisodeRow], max_episodes: int, max_misses: int) -> Iterator[EpisodeRow]:
    """Rows of episodes 1, 2, ... (as numbered in the answer: TVDB's when mapped) until ``max_episodes``
    or ``max_misses`` missing numbers in a row."""
    by_number: dict[int, list[EpisodeRow]] = {}
    for row in rows:
        mapped = row[6] is not None and row[7] is not None
        by_number.setdefault(row[7] if mapped else row[1], []).append(row)  # type: ignore[arg-type]
    misses = 0
    for number in range(1, max_episodes + 1):
        found = by_number.get(number)
        if found:
            misses = 0
            yield from found
            continue
        misses += 1
        if misses >= max_misses:
            return
