"""Loads the versioned SQL files in ``schema/`` (shipped inside the package as a fallback)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_REPO_SCHEMA = Path(__file__).resolve().parent.parent / "schema"


def load_sql(name: str) -> str:
    path = _REPO_SCHEMA / name
    if path.exists():
        return path.read_text(encoding="utf-8")
    return resources.files("anibridge").joinpath("sql", name).read_text(encoding="utf-8")
