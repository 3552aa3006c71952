"""Provider page parsers: HTML text in, plain data out. Only ``ParseError`` ever escapes them."""

from .common import HosterLink, ListedTitle, ParseError, SeriesPage, content_hash
from .megakino import FilmPage

__all__ = ["FilmPage", "HosterLink", "ListedTitle", "ParseError", "SeriesPage", "content_hash"]
