"""File naming and placement for downloads: names from untrusted text, joins that stay inside a root,
and atomic publication of a finished file."""

from __future__ import annotations

import contextlib
import os
import re
import unicodedata
from pathlib import Path, PureWindowsPath

from ..durable import fsync_path

MAX_COMPONENT_BYTES = 180
_FALLBACK = "unnamed"
# Path separators plus the characters Windows/SMB refuse: download folders are often shared with Sonarr there.
_FORBIDDEN = re.compile(r'[/\\:*?"<>|]')
_DOTS = re.compile(r"\.{2,}")
_SPACES = re.compile(r"\s+")
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(1, 10)} | {f"LPT{i}" for i in range(1, 10)}
)


def safe_component(name: str) -> str:
    """One file or folder name built from untrusted text; never empty, never a path, at most 180 bytes."""
    text = unicodedata.normalize("NFC", name)
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    text = _FORBIDDEN.sub("_", text)
    text = _DOTS.sub(".", text)
    text = _SPACES.sub(" ", text)
    text = _trim(text)
    if text.split(".", 1)[0].upper() in _RESERVED:
        text = "_" + text
    encoded = text.encode("utf-8")
    if len(encoded) > MAX_COMPONENT_BYTES:
        text = _trim(encoded[:MAX_COMPONENT_BYTES].decode("utf-8", errors="ignore"))
    return text or _FALLBACK


def _trim(text: str) -> str:
    # Leading dots would hide the file (or spell ".."); trailing dots and spaces are dropped by Windows.
    return text.lstrip(". ").rstrip(". ")


def safe_join(root: Path, *parts: str) -> Path:
    """``root / part / ...`` with every part sanitized; raises ValueError if the result would leave root.

    A part that tries to climb (``..``) or is absolute is refused outright rather than silently
    rewritten. Symlinks are resolved on both sides, so a link inside root pointing elsewhere is caught.
    """
    for part in parts:
        if _is_traversal(part):
            raise ValueError(f"path part {part!r} leaves the download folder")
    base = root.resolve()
    target = base.joinpath(*(safe_component(part) for part in parts)).resolve()
    if not target.is_relative_to(base):
        raise ValueError(f"{target} is outside {base}")
    return target


def _is_traversal(part: str) -> bool:
    if part.startswith(("/", "\\")) or PureWindowsPath(part).drive:
        return True
    return any(seg.strip() == ".." for seg in re.split(r"[/\\]", part))


def partial_path(final: Path) -> Path:
    """Hidden temporary name next to ``final`` so the last rename stays on one filesystem."""
    return final.with_name(f".{final.name}.part")


def atomic_finalize(tmp: Path, final: Path) -> None:
    """Make ``tmp`` durable and publish it as ``final`` in one step (readers never see a half file)."""
    fsync_path(tmp)
    os.replace(tmp, final)
    _fsync_dir(final.parent)


def _fsync_dir(directory: Path) -> None:
    # Some filesystems (e.g. network mounts) refuse directory fsync; the rename already happened.
    with contextlib.suppress(OSError):
        fsync_path(directory)
