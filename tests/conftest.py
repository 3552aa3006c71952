from collections.abc import Iterator
from pathlib import Path

import pytest

# Local provider world fixture (anibridge/devworld/testing.py): `devworld` yields a RunningWorld.
from anibridge.devworld.testing import devworld  # noqa: F401
from anibridge.events import Journal


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    """An empty journal in the test's temporary folder."""
    j = Journal(tmp_path / "journal.db")
    yield j
    j.close()
