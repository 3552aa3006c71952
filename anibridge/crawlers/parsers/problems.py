"""Parse problems: what a page should have shown and did not, noted instead of published as "nothing".

A parser that finds part of what it expects (rows without a language, a table missing where a known
selector should have matched) keeps going with what it has and notes the gap here. The crawl stage
collects the notes of one title (``collecting``) and records them with the title's details, so
health can say "1,920 episodes without a language" instead of the site silently yielding no releases.

Every site's parser uses the same call: ``note_problem("episodes without a language", url, count=3)``.
The kind is a plural noun phrase: health prints it after the count. Outside ``collecting`` (parser
tests, the downloader) notes go nowhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

# kinds every site shares (the stage checks them on every title's details)
NO_LANGUAGE = "episodes without a language"
NO_HOSTER = "episodes without a hoster"
NO_EPISODES = "titles without any episode"


@dataclass
class ProblemLog:
    """Problems noted while reading one title: kind -> [count, first detail]."""

    found: dict[str, list[int | str]] = field(default_factory=dict)

    def note(self, kind: str, detail: str = "", count: int = 1) -> None:
        if count <= 0:
            return
        entry = self.found.get(kind)
        if entry is None:
            self.found[kind] = [count, detail[:300]]
        else:
            entry[0] = int(entry[0]) + count
            if not entry[1] and detail:
                entry[1] = detail[:300]

    def items(self) -> list[tuple[str, int, str]]:
        """(kind, count, first detail), in the order first noted."""
        return [(kind, int(count), str(detail)) for kind, (count, detail) in self.found.items()]

    def __bool__(self) -> bool:
        return bool(self.found)


_current: ContextVar[ProblemLog | None] = ContextVar("parse_problems", default=None)


def note_problem(kind: str, detail: str = "", count: int = 1) -> None:
    """Record a gap in what a page yielded (no-op outside ``collecting``)."""
    log = _current.get()
    if log is not None:
        log.note(kind, detail, count)


@contextmanager
def collecting(log: ProblemLog | None = None) -> Iterator[ProblemLog]:
    """Collect every ``note_problem`` made in this context (asyncio tasks started inside share it)."""
    log = log if log is not None else ProblemLog()
    token = _current.set(log)
    try:
        yield log
    finally:
        _current.reset(token)


def describe(kind: str, count: int, titles: int | None = None) -> str:
    """'1,920 episodes without a language (in 80 titles)'."""
    text = f"{count:,} {kind if count != 1 else _singular(kind)}"
    if titles is not None and titles > 1:
        text += f" (in {titles:,} titles)"
    return text


def _singular(kind: str) -> str:
    """'season pages without rows' -> 'season page without rows' (the head noun before 'without')."""
    head, sep, rest = kind.partition(" without ")
    if head.endswith("s"):
        head = head[:-1]
    return head + sep + rest
