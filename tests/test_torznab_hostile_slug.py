"""One title a magnet cannot carry (a hostile provider slug) never breaks a Torznab answer: it is left
out and counted in health; the legitimate title of the same name is still answered. Real server."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from anibridge.events import Journal
from anibridge.events.types import (
    DetailsRunCompleted,
    DetailsRunStarted,
    EpisodeInfo,
    TitleDetailsRecorded,
    TitlesGenerationCompleted,
    TitlesGenerationStarted,
    TitleUpserted,
)
from anibridge.releases import parse_magnet
from anibridge.testing import running_anibridge

SITE = "aniworld.to"
NAME = "Kagami no Shiro"
HOSTILE = ("EVIL-Upper", "zz..dots")
LEGIT = "kagami-no-shiro"


def _catalogue(data: Path) -> None:
    slugs = (*HOSTILE, LEGIT)
    events: list = [TitlesGenerationStarted(site=SITE, generation=1, url="https://aniworld.to/animes")]
    events += [TitleUpserted(site=SITE, generation=1, slug=slug, title=NAME, path=f"/anime/stream/{slug}",
                             content_hash=f"h-{slug}") for slug in slugs]
    events.append(TitlesGenerationCompleted(site=SITE, generation=1, total=3, added=3, changed=0, removed=0,
                                            duration_s=0.1))
    events.append(DetailsRunStarted(site=SITE, run=1, total=3))
    for slug in slugs:
        episodes = [EpisodeInfo(season=1, episode=e, title_de=f"Folge {e}", languages=["German Sub"],
                                hosters=["VOE"], path=f"/anime/stream/{slug}/staffel-1/episode-{e}")
                    for e in (1, 2)]
        events.append(TitleDetailsRecorded(site=SITE, run=1, slug=slug, content_hash=f"d-{slug}",
                                           episodes=episodes))
    events.append(DetailsRunCompleted(site=SITE, run=1, done=3, failed=0, unchanged=0, changed=3, duration_s=0.1))
    with Journal(data / "journal.db") as journal:
        journal.append(events)


@pytest.mark.parametrize("params", [
    {"t": "search", "q": NAME},
    {"t": "tvsearch", "q": NAME},
    {"t": "tvsearch", "q": NAME, "season": "1", "ep": "2"},
    {"t": "search", "q": NAME, "offset": "1", "limit": "1"},
    {"t": "search"},  # the RSS feed lists the newest releases, hostile ones included in the catalogue
])
def test_hostile_slug_is_left_out_not_fatal(tmp_path: Path, params: dict[str, str]) -> None:
    _catalogue(tmp_path)
    with running_anibridge(tmp_path, downloads=False, CATALOG_SITES=SITE,
                           CATALOG_PROJECTOR_PROCESS="false") as h:
        h.runtime.catalog_projector.wait_until(h.runtime.journal.head(), 30)
        r = httpx.get(f"{h.base_url}/torznab/api", params=params, timeout=10)
        assert r.status_code == 200, r.text[:400]
        root = ET.fromstring(r.content)
        assert root.tag == "rss", r.text[:400]
        magnets = [el.findtext("link", "") for el in root.iter("item")]
        slugs = {parse_magnet(m).slug for m in magnets} - {"connectivity-test"}  # the RSS feed's test item
        assert slugs == {LEGIT}, slugs
        health = httpx.get(f"{h.base_url}/health", timeout=10).json()
        assert health["titles_left_out_of_search"] >= 1
        detail = httpx.get(f"{h.base_url}/health/catalog", timeout=10).json()["titles_left_out_of_search"]
        left_out = {e["slug"] for e in detail["examples"]}
        assert left_out & set(HOSTILE), detail
