"""Megakino's moving domain: found among the candidates at start-up, re-checked, followed when it moves,
shown in /health; a pinned MEGAKINO_BASE_URL wins. Against the local world's Megakino domains."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from anibridge.config import ConfigError, load_settings
from anibridge.crawlers.domains import MegakinoDomain, find_live
from anibridge.devworld.testing import RunningWorld, running_world
from anibridge.testing import crawl_now, running_anibridge


@pytest.fixture()
def world() -> Iterator[RunningWorld]:
    with running_world(seed=5, titles=12) as running:
        yield running


def test_settings_defaults_and_candidates() -> None:
    s = load_settings({})
    assert s.megakino_base_url is None and s.megakino_domain_check_interval_min == 100
    assert s.megakino_candidates[:3] == ["https://megakino.lol", "https://megakino8.com", "https://megakino1.to"]
    assert s.megakino_url == "https://megakino.lol"  # until a check finds the live one
    s = load_settings({"MEGAKINO_DOMAIN_CANDIDATES": " Megakino9.com , http://127.0.0.1:9/mk/x/ ,megakino9.com"})
    assert s.megakino_candidates == ["https://megakino9.com", "http://127.0.0.1:9/mk/x"]
    s.use_megakino_url("https://megakino9.com/")
    assert s.base_url("megakino") == "https://megakino9.com"
    pinned = load_settings({"MEGAKINO_BASE_URL": "https://megakino1.to/"})
    pinned.use_megakino_url("https://megakino9.com")
    assert pinned.base_url("megakino") == "https://megakino1.to"  # set explicitly, it wins
    for bad, words in (({"MEGAKINO_DOMAIN_CANDIDATES": "megakino lol"}, "neither a domain name nor"),
                       ({"MEGAKINO_DOMAIN_CANDIDATES": " , "}, "at least one"),
                       ({"MEGAKINO_DOMAIN_CHECK_INTERVAL_MIN": "-1"}, "MEGAKINO_DOMAIN_CHECK_INTERVAL_MIN")):
        with pytest.raises(ConfigError, match=words):
            load_settings(bad)


def test_find_live_follows_a_move_and_skips_dead_domains(world: RunningWorld) -> None:
    candidates = world.megakino_candidates
    live, probes = asyncio.run(find_live(candidates))
    assert live == candidates[0] and probes[0].base_url == candidates[0]
    second = world.move_megakino()
    # the old domain redirects: asking it first lands on the new one, in one probe
    live, probes = asyncio.run(find_live(candidates, current=candidates[0]))
    assert (live, len(probes)) == (second, 1)
    world.move_megakino()
    live, probes = asyncio.run(find_live(candidates, current=candidates[0]))
    assert live == candidates[2]
    first = probes[0]
    assert first.base_url is None and "without an answer" in first.reason  # two moves ago: silent
    assert [p.base_url for p in probes[1:]] == [candidates[2], candidates[2]] + [None] * (len(candidates) - 3)


def test_no_candidate_answering_is_a_problem_and_keeps_the_last_domain(world: RunningWorld) -> None:
    settings = load_settings({"MEGAKINO_DOMAIN_CANDIDATES": ",".join(world.megakino_candidates[:2])})
    domain = MegakinoDomain(settings, timeout=2)
    assert domain.check().base_url == world.megakino_candidates[0]
    world.set_faults([{"site": "megakino", "path": "^/sitemap", "mode": "503"}])
    state = domain.check()
    assert state.base_url == world.megakino_candidates[0] and state.source == "no candidate answered"
    assert state.problem.startswith("no Megakino domain answered (") and "sitemap answered HTTP 503" in state.problem
    assert settings.megakino_url == world.megakino_candidates[0]


def test_pinned_base_url_is_never_probed(world: RunningWorld) -> None:
    settings = load_settings({"MEGAKINO_BASE_URL": "http://127.0.0.1:9/nowhere",
                              "MEGAKINO_DOMAIN_CANDIDATES": ",".join(world.megakino_candidates)})
    domain = MegakinoDomain(settings)
    domain.start()
    state = domain.check()
    assert (state.base_url, state.source, state.checked_at) == ("http://127.0.0.1:9/nowhere", "MEGAKINO_BASE_URL", None)
    domain.stop()


def _health(base: str) -> tuple[dict, dict]:  # type: ignore[type-arg]
    return httpx.get(f"{base}/health", timeout=10).json(), httpx.get(f"{base}/health/catalog", timeout=10).json()


def test_start_up_finds_the_live_domain_crawls_it_and_follows_a_move(world: RunningWorld, tmp_path: Path) -> None:
    world.move_megakino()  # this week's domain is the second candidate; the first one redirects
    with running_anibridge(tmp_path, crawl=True, downloads=False, CATALOG_SITES="megakino", CRAWL_PROCESS="false",
                           **world.env()) as h:
        assert h.settings.megakino_url == world.megakino_candidates[1]
        deadline = time.monotonic() + 60
        while not h.runtime.catalog.titles_ready("megakino"):
            assert time.monotonic() < deadline, "megakino was not crawled on its live domain"
            time.sleep(0.1)
        health, detail = _health(h.base_url)
        assert health["domains"] == {"megakino": world.megakino_candidates[1].split("://")[1].split("/")[0]}
        domain = detail["sites"]["megakino"]["domain"]
        assert (domain["base_url"], domain["source"], domain["problem"]) == (world.megakino_candidates[1],
                                                                           "resolved", "")
        assert domain["candidates"][world.megakino_candidates[0]] == world.megakino_candidates[1]  # redirected

        moved_to = world.move_megakino()
        state = h.runtime.megakino.check()  # what the scheduled check does every interval
        assert (state.base_url, state.previous) == (moved_to, world.megakino_candidates[1])
        domain = _health(h.base_url)[1]["sites"]["megakino"]["domain"]
        assert (domain["base_url"], domain["previous"]) == (moved_to, world.megakino_candidates[1])
        assert domain["changed_at"] and domain["checked_at"]
        results = crawl_now(h.runtime, ["megakino"])
        assert all(r.ok for r in results), results
        assert results[0].fetch["requests"] >= 3  # gate, opener, index, children: on the new domain


def test_health_names_the_problem_when_no_domain_answers(world: RunningWorld, tmp_path: Path) -> None:
    world.set_faults([{"site": "megakino", "path": ".*", "mode": "reset"}])
    with running_anibridge(tmp_path, crawl=True, downloads=False, CATALOG_SITES="megakino", CRAWL_PROCESS="false",
                           **world.env()) as h:
        health, detail = _health(h.base_url)
        assert health["status"] == "degraded"
        assert any(p.startswith("megakino: no Megakino domain answered") for p in health["problems"])
        assert detail["sites"]["megakino"]["domain"]["source"] == "no candidate answered"
