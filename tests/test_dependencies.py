"""The dependency floors (pyproject.toml) and the tested pins (constraints.txt) agree, and what is
installed here is what CI and the Docker image install: every pin at or above its floor."""

from __future__ import annotations

import os
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def floors() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]]
    return {canonicalize_name(r.name): r for r in reqs}


def pins() -> dict[str, Version]:
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line).groups()  # type: ignore[union-attr]
            out[canonicalize_name(name)] = Version(version)
    return out


def test_every_dependency_is_pinned_at_or_above_its_floor() -> None:
    pinned = pins()
    for name, req in floors().items():
        assert name in pinned, f"{name} has no pin in constraints.txt"
        assert req.specifier.contains(pinned[name], prereleases=True), f"{name}=={pinned[name]} is below {req}"


def test_the_advisory_floors_hold() -> None:
    """The floors that clear published advisories (see the comment in pyproject.toml) are not lowered."""
    minimum = {"python-multipart": "0.0.31", "starlette": "1.6.0", "fastapi": "0.165.0", "h11": "0.16.0",
               "httpcore": "1.0.9", "yt-dlp": "2026.7.4", "lxml": "6.1.0", "urllib3": "2.7.0",
               "requests": "2.33.0"}
    reqs = floors()
    for name, version in minimum.items():
        spec = reqs[name].specifier
        assert not spec.contains(Version(_below(version)), prereleases=True), \
            f"{name}: {spec} admits versions before {version}"


def _below(version: str) -> str:
    parts = [int(p) for p in version.split(".")]
    parts[-1] -= 1
    if parts[-1] < 0:
        parts[-1] = 0
        parts[-2] -= 1
    return ".".join(map(str, parts))


def test_this_environment_is_the_pinned_one() -> None:
    """In CI (.ci/run installs with the constraints) the tested versions are exactly the pinned ones; a
    developer's older venv is told how to catch up."""
    differ = []
    for name, version in pins().items():
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            continue  # e.g. a platform-specific package
        if installed != version:
            differ.append(f"{name} {installed} (pinned {version})")
    if differ and os.environ.get("CI") != "true":
        pytest.skip("this venv differs from constraints.txt: " + ", ".join(differ)
                    + "; pip install -c constraints.txt -e '.[test]'")
    assert not differ, differ
