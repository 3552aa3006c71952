"""Admin endpoints on a real server: /admin/projections and /admin/journal (shape, API key), and
projection lag rising while events are appended continuously, then returning to zero."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from journal_factory import catalog_scenario, details, upsert, write

from anibridge.events.types import TitlesGenerationCompleted, TitlesGenerationStarted
from anibridge.testing import Harness, running_anibridge

KEY = "s3cret-admin-key"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with running_anibridge(tmp_path_factory.mktemp("admin"), crawl=False, downloads=False,
                           indexer_api_key=KEY) as h:
        yield h


@pytest.mark.parametrize("path", ["/admin/projections", "/admin/journal"])
def test_admin_requires_the_key(server: Harness, path: str) -> None:
    url = server.base_url + path
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, params={"apikey": "wrong"}).status_code == 401
    assert httpx.get(url, headers={"X-Api-Key": "wrong"}).status_code == 401
    assert httpx.get(url, params={"apikey": KEY}).status_code == 200
    assert httpx.get(url, headers={"X-Api-Key": KEY}).status_code == 200
    assert "API key" in httpx.get(url).json()["detail"]


def test_admin_is_open_without_a_configured_key(tmp_path: Path) -> None:
    with running_anibridge(tmp_path, crawl=False, downloads=False) as h:
        assert httpx.get(h.base_url + "/admin/projections").status_code == 200
        assert httpx.get(h.base_url + "/admin/journal").status_code == 200


def test_projections_and_journal_shape(server: Harness) -> None:
    rt = server.runtime
    sc = catalog_scenario(titles=30, tasks=10, seed=2)
    head = write(rt.journal, sc.events)
    assert rt.catalog_projector.wait_until(head, 30) and rt.task_projector.wait_until(head, 30)

    body = httpx.get(server.base_url + "/admin/projections", params={"apikey": KEY}).json()
    assert [p["name"] for p in body["projections"]] == ["catalog", "tasks"]
    for p in body["projections"]:
        assert set(p) == {"name", "head", "checkpoint", "lag_events", "lag_seconds", "file", "error"}
        assert p["head"] == p["checkpoint"] == head
        assert p["lag_events"] == 0 and p["lag_seconds"] == 0
        assert p["file"] == f"{p['name']}.db" and p["error"] == ""

    journal = httpx.get(server.base_url + "/admin/journal", headers={"X-Api-Key": KEY}).json()
    assert set(journal) == {"head", "size_bytes", "events_per_type"}
    assert journal["head"] == head
    assert journal["size_bytes"] >= (rt.settings.journal_path).stat().st_size > 0
    all_events = Counter(ev.type for ev in rt.journal.read())
    assert journal["events_per_type"] == dict(all_events)
    assert sum(journal["events_per_type"].values()) == head


def test_lag_rises_while_appending_then_returns_to_zero(server: Harness) -> None:
    rt = server.runtime
    rng = random.Random(8)
    site = "s.to"
    pos = rt.journal.append([TitlesGenerationStarted(site=site, generation=1, url="u"),
                             *(upsert(site, 1, k, rng) for k in range(300)),
                             TitlesGenerationCompleted(site=site, generation=1, total=300, added=300, changed=0,
                                                       removed=0, duration_s=1)])[-1]
    assert rt.catalog_projector.wait_until(pos, 30)
    # details events with many episodes: appending is cheap, applying them takes the projector a while
    batches = [[details(site, 1, k, rng, episodes=40) for k in range(i, i + 150)] for i in range(0, 300, 150)] * 4
    stop = threading.Event()

    def writer() -> None:
        for batch in batches:
            rt.journal.append(batch)
        stop.set()

    samples: list[tuple[int, float]] = []
    t = threading.Thread(target=writer)
    t.start()
    with httpx.Client(base_url=server.base_url, params={"apikey": KEY}, timeout=10) as client:
        while not stop.is_set() or len(samples) < 3:
            catalog = client.get("/admin/projections").json()["projections"][0]
            samples.append((catalog["lag_events"], catalog["lag_seconds"]))
            time.sleep(0.005)
        t.join(30)
        assert any(events > 0 for events, _ in samples), samples
        assert any(seconds > 0 for _, seconds in samples), samples
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            catalog = client.get("/admin/projections").json()["projections"][0]
            if catalog["lag_events"] == 0:
                break
            time.sleep(0.05)
    assert catalog["lag_events"] == 0 and catalog["lag_seconds"] == 0
    assert catalog["checkpoint"] == catalog["head"] == rt.journal.head()
