"""Hostile providers and hosts (issue 16): SSRF into the LAN, dripping and endless answers, gzip bombs,
zero streams, a full disk, SkyHook answers of the wrong shape, thousands of magnets in one add.

Real AniBridge on loopback, the hostile stand-ins of ``anibridge.devworld.hostile`` (a provider on
127.0.0.1, allowed; a "LAN" server on 127.0.0.2, not allowed), the real yt-dlp. No traffic leaves
loopback: addresses outside it are only checked by the policy, never connected to.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_downloads_e2e import DONE, client_for, wait_state

from anibridge.devworld.hostile import HostileWorld, running_hostile
from anibridge.devworld.testing import running_world
from anibridge.downloads.failure_marker import MARKER_SUFFIX
from anibridge.netguard import (
    AddressPolicy,
    BlockedAddress,
    GuardedTransport,
    TooLarge,
    address_kind,
    read_limited,
)
from anibridge.releases import build_magnet, info_hash
from anibridge.testing import Harness, crawl_now, running_anibridge

FAST = {"CATALOG_ENABLED": "false", "PROVIDER_DIRECT_LINK_TIMEOUT_SECONDS": "2",
        "PROVIDER_FETCH_DEADLINE_SECONDS": "2", "DOWNLOAD_STALL_SECONDS": "2", "DOWNLOAD_MAX_SIZE_GB": "0.01",
        "PROVIDER_MAX_PAGE_MB": "4"}
LOOPBACK_SSRF = ["ssrf-redirect", "ssrf-embed", "ssrf-media", "ssrf-hop-page", "ssrf-hop-media", "ssrf-hls",
                 "ssrf-zero"]


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileWorld]:
    with running_hostile() as world:
        yield world


@pytest.fixture()
def anibridge(hostile: HostileWorld, tmp_path: Path) -> Iterator[Harness]:
    with running_anibridge(tmp_path / "data", **(FAST | hostile.env())) as h:
        yield h


def magnet(slug: str) -> str:
    return build_magnet("aniworld.to", slug, 1, 1, "German Dub", f"{slug}.S01E01.1080p.WEB.H264.GER-ANIWORLD")


def task_hash(slug: str) -> str:
    return info_hash(slug, 1, 1, "German Dub")


def add_and_fail(h: Harness, slugs: list[str], timeout: float = 60) -> dict[str, str]:
    """Add one magnet per slug, wait until each task errors; its reason per slug."""
    client = client_for(h.base_url)
    client.torrents_add(urls="\n".join(magnet(s) for s in slugs))
    for slug in slugs:
        wait_state(client, task_hash(slug), ("error",) + DONE, timeout=timeout)
    return {slug: client.torrents_properties(task_hash(slug))["comment"] for slug in slugs}


def files_under(root: Path) -> list[Path]:
    """What a failed download left in the download folder besides its marker (a short note AniBridge wrote)."""
    found = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
    markers = [p for p in found if p.name.endswith(MARKER_SUFFIX)]
    assert all(p.stat().st_size < 4096 and p.read_text().startswith("#!/bin/sh\n# AniBridge") for p in markers)
    return [p for p in found if p not in markers]


# --- SSRF --------------------------------------------------------------------------------------------
def test_every_hop_into_the_lan_is_refused(hostile: HostileWorld, anibridge: Harness) -> None:
    before = hostile.hits.count()
    reasons = add_and_fail(anibridge, LOOPBACK_SSRF)
    for slug, reason in reasons.items():
        assert "refused to connect" in reason and "DOWNLOAD_ALLOWED_HOSTS" in reason, (slug, reason)
    assert "127.0.0.2" in reasons["ssrf-media"] and "loopback address" in reasons["ssrf-media"]
    assert "0.0.0.0 is an unspecified address" in reasons["ssrf-zero"]
    assert hostile.hits.paths[before:] == []  # not one request reached the LAN stand-in
    assert files_under(anibridge.settings.downloads_path) == []


def test_allowed_hosts_setting_lets_a_named_network_through(hostile: HostileWorld, tmp_path: Path) -> None:
    env = FAST | hostile.env() | {"DOWNLOAD_ALLOWED_HOSTS": "127.0.0.1, 127.0.0.0/8"}
    with running_anibridge(tmp_path / "data", **env) as h:
        client = client_for(h.base_url)
        client.torrents_add(urls=magnet("ssrf-media"))
        done = wait_state(client, task_hash("ssrf-media"), DONE + ("error",))
        assert done["state"] in DONE, client.torrents_properties(task_hash("ssrf-media"))["comment"]
        assert Path(done["content_path"]).stat().st_size > 0


def test_address_policy_refuses_every_non_public_kind() -> None:
    policy = AddressPolicy.parse("192.168.1.0/24, media.lan")
    cases = {"169.254.169.254": "link-local", "10.0.0.1": "private", "172.16.5.4": "private",
             "192.168.2.1": "private", "0.0.0.0": "unspecified", "127.0.0.1": "loopback", "::1": "loopback",
             "fe80::1": "link-local", "fd00::1": "private", "::ffff:127.0.0.1": "loopback",
             "64:ff9b::a9fe:a9fe": "link-local", "100.64.0.1": "non-public", "224.0.0.251": "multicast"}
    for address, kind in cases.items():
        assert policy.refusal("evil.example", ipaddress.ip_address(address)) == kind, address
    assert policy.refusal("evil.example", ipaddress.ip_address("192.168.1.20")) is None  # allowed network
    assert policy.refusal("media.lan", ipaddress.ip_address("10.1.1.1")) is None  # allowed name
    assert policy.refusal("cdn.example", ipaddress.ip_address("93.184.216.34")) is None  # public
    infos = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 80))]
    with pytest.raises(BlockedAddress, match="169.254.169.254 is a link-local address"):
        policy.filter("metadata.evil", infos)
    with pytest.raises(ValueError):
        AddressPolicy.parse("not a host!")


def test_guarded_transport_checks_each_redirect_hop(hostile: HostileWorld) -> None:
    """httpx with the guard: the provider's own origin is exempt, a 302 from it into the LAN is not."""
    before = hostile.hits.count()

    async def go() -> None:
        transport = GuardedTransport(AddressPolicy(), exempt_urls=[hostile.base])
        async with httpx.AsyncClient(transport=transport, follow_redirects=True) as client:
            assert (await client.get(f"{hostile.base}/e/plain")).status_code == 200
            with pytest.raises(BlockedAddress, match="127.0.0.2 is a loopback address"):
                await client.get(f"{hostile.base}/hop/page")

    asyncio.run(go())
    assert hostile.hits.count() == before


# --- resource caps ----------------------------------------------------------------------------------
def test_gzip_bomb_is_inflated_only_up_to_the_cap(hostile: HostileWorld) -> None:
    """200 MiB of spaces in 200 KiB of gzip: read_limited stops at the cap without ever holding much more."""
    limit = 4 * 1024 * 1024

    async def go() -> int:
        async with httpx.AsyncClient(headers={"Accept-Encoding": "gzip"}) as client:
            url = f"{hostile.base}/anime/stream/bomb-page/staffel-1/episode-1"
            async with client.stream("GET", url) as response:
                tracemalloc.start()
                try:
                    with pytest.raises(TooLarge):
                        await read_limited(response, limit)
                    return tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()

    peak = asyncio.run(go())
    assert peak < 3 * limit, f"{peak / 1024 / 1024:.0f} MiB allocated for a {limit // 1024 // 1024} MiB cap"


def test_dripping_endless_and_bombing_pages_fail_their_task(hostile: HostileWorld, anibridge: Harness) -> None:
    started = time.monotonic()
    reasons = add_and_fail(anibridge, ["drip-page", "endless-page", "bomb-page", "bomb-embed"])
    assert time.monotonic() - started < 45
    assert "no complete answer within 2 s" in reasons["drip-page"]
    for slug in ("endless-page", "bomb-page"):
        assert "larger than 4 MiB (PROVIDER_MAX_PAGE_MB)" in reasons[slug], (slug, reasons[slug])
    assert "larger than" in reasons["bomb-embed"]


def test_dripping_media_fails_instead_of_holding_a_slot(hostile: HostileWorld, anibridge: Harness) -> None:
    started = time.monotonic()
    reason = add_and_fail(anibridge, ["drip-media"])["drip-media"]
    assert "DOWNLOAD_STALL_SECONDS" in reason and time.monotonic() - started < 30
    worker = anibridge.runtime.worker
    assert worker is not None
    deadline = time.monotonic() + 10
    while worker.running() and time.monotonic() < deadline:  # the job thread ends just after its event
        time.sleep(0.05)
    assert worker.running() == []  # the download slot is free again


def test_endless_zeros_stop_at_the_size_cap(hostile: HostileWorld, anibridge: Harness) -> None:
    reason = add_and_fail(anibridge, ["zeros-media"])["zeros-media"]
    assert "more than 0.01 GiB" in reason and "DOWNLOAD_MAX_SIZE_GB" in reason
    assert files_under(anibridge.settings.downloads_path) == []


def test_free_space_floor_stops_new_downloads(hostile: HostileWorld, tmp_path: Path) -> None:
    with running_anibridge(tmp_path / "data", **(FAST | hostile.env() | {"DOWNLOAD_MIN_FREE_GB": "100000"})) as h:
        reason = add_and_fail(h, ["plain"])["plain"]
        assert reason.startswith("not starting: only") and "DOWNLOAD_MIN_FREE_GB" in reason
        assert files_under(h.settings.downloads_path) == []


def test_too_many_magnets_in_one_add_are_refused(hostile: HostileWorld, anibridge: Harness) -> None:
    links = "\n".join(magnet(f"title-{i}") for i in range(3000))
    with httpx.Client(base_url=anibridge.base_url, timeout=30) as http:
        http.post("/api/v2/auth/login", data={"username": "x", "password": "y"})
        answer = http.post("/api/v2/torrents/add", data={"urls": links})
        assert answer.status_code == 400
        assert answer.text == "Fails. 3000 links in one request; at most 100 are accepted (QBIT_MAX_TORRENTS_PER_ADD)"
        assert http.get("/api/v2/torrents/info").json() == []
        assert http.post("/api/v2/torrents/add", data={"urls": magnet("plain")}).text == "Ok."


# --- SkyHook answers of the wrong shape ---------------------------------------------------------------
def test_skyhook_answer_with_wrong_types_fails_the_title_quickly(hostile: HostileWorld, tmp_path: Path) -> None:
    with running_world(seed=1, titles=8) as world:
        env = world.env() | {"CATALOG_SITES": "aniworld.to", "SKYHOOK_BASE_URL": hostile.skyhook}
        with running_anibridge(tmp_path / "data", downloads=False, **env) as h:
            crawl_now(h.runtime, sites=["aniworld.to"])
            outcome: list[Any] = []
            runner = threading.Thread(target=lambda: outcome.extend(
                crawl_now(h.runtime, sites=["aniworld.to"], stages=("canonical",))), daemon=True)
            started = time.monotonic()
            runner.start()
            runner.join(60)
            assert not runner.is_alive(), "the canonical stage hung on SkyHook's answer"
            assert time.monotonic() - started < 60
            failed = [e.event for e in h.runtime.journal.read() if e.type == "canonical.failed"]
            assert failed, outcome
            assert all("none of them with valid season and episode numbers" in e.reason for e in failed)
            assert outcome and outcome[-1].failed == len(failed)


def test_address_kinds_of_public_addresses_are_none() -> None:
    assert address_kind(ipaddress.ip_address("8.8.8.8")) is None
    assert address_kind(ipaddress.ip_address("2606:4700::1111")) is None
