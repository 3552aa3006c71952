"""Hostile input against a real AniBridge on loopback (uvicorn, real sockets, downloads running).

- schemathesis fuzzes the operations of AniBridge's own OpenAPI description, and a hand-written
  OpenAPI description of the qBittorrent endpoints (they are hidden from /openapi.json), with the
  ``not_a_server_error`` check and a bounded number of examples;
- hand-written cases for Torznab and qBittorrent parameters: huge values, unicode, NUL bytes, path
  traversal in names, categories and save paths, injection strings, malformed magnets, wrong
  methods, missing or forged SID when credentials are set.

Nothing may answer 5xx (Torznab's documented 503 "initializing" aside), the server keeps serving,
and nothing is written outside DATA_DIR / DOWNLOAD_DIR (the parent directory tree is compared
before and after). HTML parser fuzzing lives in tests/test_parsers.py (hypothesis), not here.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from anibridge.devworld.model import LANGUAGES
from anibridge.devworld.testing import RunningWorld, running_world
from anibridge.releases import build_magnet, info_hash, release_title
from anibridge.testing import Harness, crawl_now, running_anibridge

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

API = "/api/v2"
FUZZ_EXAMPLES = int(os.environ.get("ANIBRIDGE_FUZZ_EXAMPLES", "250"))
ABSOLUTE_CANARY = f"/tmp/anibridge-hostile-{uuid.uuid4().hex}"

HUGE = "A" * 50_000  # httpx refuses URLs over 64 KiB; bodies below go bigger
INJECTIONS = [
    "' OR 1=1 --", '"; DROP TABLE titles; --', "1; DELETE FROM events", "x' UNION SELECT * FROM events --",
    '"*" NEAR( OR AND NOT -', "title:foo*", "^", "*", '"', "(", "%", "_", "\\", "${jndi:ldap://x/a}",
    "{{7*7}}", "<script>alert(1)</script>", "]]><x>", "&amp;&#0;", "\u202e\u0644\u0639\u0631\u0628\u064a",
    "\U0001F600" * 50, "e\u0301" * 100, "\x00", "a\x00b", "%00", "\r\nX-Injected: 1", "\ud800".encode(
        "utf-8", "surrogatepass").decode("latin-1"),
]
TRAVERSAL = ["../../etc", "../../../../../../etc/passwd", "/etc", "/", ABSOLUTE_CANARY, "..", ".", "a/../../b",
             "..\\..\\windows", "C:\\Windows\\System32", "//server/share", "~root", "tv/../../..", "tv/./x",
             "\x00../etc", "../" * 200, "%2e%2e%2f%2e%2e%2fetc"]
NUMBERS = ["-1", "0", "99999999999999999999999", "1e9", "NaN", "inf", "0x10", " 1", "１", "٣", "", "1.5", "-0",
           str(2**63), str(-(2**63) - 1)]


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@dataclass
class Target:
    harness: Harness
    world: RunningWorld
    parent: Path
    inside: tuple[str, ...]
    before: set[str]
    statuses: dict[int, int] = field(default_factory=dict)
    sent: int = 0
    fuzzed: dict[str, int] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.harness.base_url

    def record(self, r: httpx.Response | Any, what: str) -> None:
        self.sent += 1
        self.statuses[r.status_code] = self.statuses.get(r.status_code, 0) + 1
        assert r.status_code < 500, f"{what} answered {r.status_code}: {r.text[:300]}"


def world_magnet(world: RunningWorld, index: int = 0, name: str | None = None) -> str:
    entry = world.world.entries("aniworld")[index]
    info = world.world.info("aniworld", entry.slug)
    assert info is not None
    season = min(s for s in info.seasons if info.seasons[s])
    ep = world.world.season_episodes(info, season)[0]
    language = LANGUAGES[ep.languages[0]]
    title = name or release_title(info.title, season, ep.number, language, "aniworld.to")
    return build_magnet("aniworld.to", info.slug, season, ep.number, language, title)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    parent = tmp_path_factory.mktemp("hostile")
    (parent / "sibling.txt").write_text("must stay alone")
    (parent / "etc").mkdir()
    jail = parent / "jail" / "deeper"
    data, downloads = jail / "data", jail / "downloads"
    with running_world(seed=5, titles=8) as world, \
            running_anibridge(data, crawl=False, downloads=True, DOWNLOAD_DIR=str(downloads), MAX_CONCURRENCY="2",
                              ANIWORLD_BASE_URL=world.aniworld, STO_BASE_URL=world.sto,
                              MEGAKINO_BASE_URL=world.megakino, SKYHOOK_BASE_URL=world.skyhook) as h:
        crawl_now(h.runtime)
        before = tree(parent)
        inside = (str(data.relative_to(parent)), str(downloads.relative_to(parent)))
        yield Target(h, world, parent, inside, before)


def _assert_alive(t: Target) -> None:
    r = httpx.get(f"{t.base}/health", timeout=10)
    assert r.status_code == 200, r.text


# --- Torznab, by hand -------------------------------------------------------------------------------
def torznab_cases() -> list[dict[str, str]]:
    cases: list[dict[str, str]] = []
    for t in ("search", "tvsearch", "movie", "caps", "bogus", "", "\x00", "SEARCH", HUGE[:5000]):
        cases.append({"t": t})
        for q in (*INJECTIONS, HUGE, HUGE[:3000] + "\x00", *TRAVERSAL[:4]):
            cases.append({"t": t, "q": q})
    for name in ("season", "ep", "limit", "offset", "tvdbid", "imdbid", "tmdbid", "cat", "extended", "rid"):
        for value in (*NUMBERS, *INJECTIONS[:6], "tt" + "9" * 500, ",,,", "5070,abc,-1"):
            cases.append({"t": "tvsearch", "q": "a", name: value})
            cases.append({"t": "movie", name: value})
    cases.append({"t": "search", "q": "a", "limit": "1", "offset": str(10**12)})
    cases.append({"t": "tvsearch", "season": "1", "ep": "1", "tvdbid": "1" * 40})
    return cases


def test_torznab_parameters(target: Target) -> None:
    with httpx.Client(base_url=target.base, timeout=30) as c:
        for params in torznab_cases():
            target.record(c.get("/torznab/api", params=params), f"GET torznab {params!r:.120}")
        for params in torznab_cases()[::7]:
            target.record(c.post("/torznab/api", data=params), f"POST torznab {params!r:.120}")
        # Bodies that are not forms, broken multipart, duplicate and raw-encoded parameters.
        raw = [
            ("POST", "/torznab/api", {"content": b"\x00\xff" * 1000, "headers": {"content-type": "application/json"}}),
            ("POST", "/torznab/api", {"content": b"--x\r\nbroken", "headers": {
                "content-type": "multipart/form-data; boundary=x"}}),
            ("POST", "/torznab/api", {"content": b"t=search&q=%zz%00%ff", "headers": {
                "content-type": "application/x-www-form-urlencoded"}}),
            ("POST", "/torznab/api", {"data": {"t": "search", "q": "B" * 2_000_000}}),
            ("GET", "/torznab/api?t=search&q=%ff%fe%00&q=second&t=caps", {}),
            ("GET", "/torznab/api?" + "&".join(f"p{i}=x" for i in range(3000)), {}),
            ("GET", "/torznab/api?t=search&q=" + "%F0%9F%98%80" * 1500, {}),
            ("GET", "/torznab/../health", {}),
            ("GET", "/torznab/api/%2e%2e/%2e%2e/etc/passwd", {}),
        ]
        for method, url, kw in raw:
            target.record(c.request(method, url, **kw), f"{method} {url[:80]}")
        for method in ("PUT", "DELETE", "PATCH", "OPTIONS"):
            r = c.request(method, "/torznab/api", params={"t": "caps"})
            target.record(r, f"{method} torznab")
            assert r.status_code == 405, (method, r.status_code)
    _assert_alive(target)


# --- qBittorrent, by hand ---------------------------------------------------------------------------
def hostile_magnets(world: RunningWorld) -> list[str]:
    good = world_magnet(world)
    h = good.split("btih:", 1)[1][:40]
    return [
        "magnet:?", "magnet:", "MAGNET:?xt=urn:btih:", "magnet:?xt=urn:btih:" + "z" * 40, "magnet:?xt=urn:btih:" + h,
        good + "&" + "&".join(f"x{i}=1" for i in range(200)), good + "&aw_slug=" + HUGE[:5000],
        good.replace("aw_s=", "aw_s=-"), good.replace("aw_e=", "aw_e=99999999999"),
        good.replace("aw_lang=German+Dub", "aw_lang=Klingon").replace("aw_lang=English+Sub", "aw_lang=Klingon"),
        good + "%zz%00", good.replace("xt=urn:btih:", "xt=urn:btih:%00"), good + "\x00", good + "&aw_mode=" + "x" * 500,
        good + "&aw_provider=../../etc", good + "&aw_provider=http://127.0.0.1:9/x", "magnet:?" + "&" * 5000,
        "file:///etc/passwd", "../../etc/passwd", "javascript:alert(1)", "\x00", "🙂" * 1000, HUGE,
        f"magnet:?xt=urn:btih:{info_hash('../../etc', 1, 1, 'German Dub')}&aw_slug=../../etc&aw_s=1&aw_e=1"
        "&aw_lang=German+Dub&aw_site=aniworld.to",
    ]


def test_qbittorrent_parameters(target: Target) -> None:
    world = target.world
    with httpx.Client(base_url=target.base, timeout=30) as c:
        for magnet in hostile_magnets(world):
            r = c.post(f"{API}/torrents/add", data={"urls": magnet})
            target.record(r, f"add {magnet[:80]!r}")
        # A valid magnet with hostile names, categories, save paths and tags: accepted or refused,
        # never written outside the download folder (checked at the end of the module).
        for i, evil in enumerate(TRAVERSAL + INJECTIONS[:8]):
            dn = f"{evil}.S01E01.1080p.WEB.H264.GER-ANIWORLD"
            magnet = world_magnet(world, index=i % 6, name=dn)
            r = c.post(f"{API}/torrents/add", data={"urls": magnet, "category": evil, "savepath": evil, "tags": evil})
            target.record(r, f"add with category/savepath {evil[:60]!r}")
            r = c.post(f"{API}/torrents/add", data={"urls": magnet, "savepath": evil})
            target.record(r, f"add with savepath {evil[:60]!r}")
            for path, data in (("torrents/createCategory", {"category": evil, "savePath": evil}),
                               ("torrents/editCategory", {"category": "tv", "savePath": evil}),
                               ("torrents/setCategory", {"hashes": "all", "category": evil}),
                               ("torrents/removeCategories", {"categories": evil + "\n" + evil}),
                               ("torrents/properties", {"hash": evil}), ("torrents/files", {"hash": evil}),
                               ("torrents/delete", {"hashes": evil + "|" + evil, "deleteFiles": "true"}),
                               ("torrents/info", {"filter": evil, "category": evil, "tag": evil, "hashes": evil,
                                                  "sort": evil}),
                               ("torrents/pause", {"hashes": evil}), ("torrents/resume", {"hashes": evil})):
                target.record(c.post(f"{API}/{path}", data=data), f"{path} {evil[:60]!r}")
        c.post(f"{API}/torrents/createCategory", data={"category": "tv", "savePath": ""})
        for value in NUMBERS + ["__class__", "hash", "-", "name"]:
            for path, data in (("torrents/info", {"limit": value, "offset": value, "sort": value,
                                                  "reverse": value}),
                               ("sync/maindata", {"rid": value}), ("torrents/info", {"filter": value}),
                               ("torrents/add", {"urls": world_magnet(world, 7), "paused": value})):
                target.record(c.post(f"{API}/{path}", data=data), f"{path} {value!r}")
                target.record(c.get(f"{API}/{path}", params=data), f"GET {path} {value!r}")
        raw = [
            ("POST", f"{API}/torrents/add", {"content": b"--b\r\nContent-Disposition: form-data; name=\"urls\"\r\n\r\n",
                                              "headers": {"content-type": "multipart/form-data; boundary=b"}}),
            ("POST", f"{API}/torrents/add", {"content": b"\xff\xfe" * 5000, "headers": {
                "content-type": "application/x-www-form-urlencoded"}}),
            ("POST", f"{API}/torrents/add", {"content": b"{}", "headers": {"content-type": "application/json"}}),
            ("POST", f"{API}/torrents/add", {"files": {"torrents": ("../../x.torrent", b"d8:announce0:e")}}),
            ("POST", f"{API}/torrents/add", {"data": {"urls": "\n".join([world_magnet(world, 1)] * 500)}}),
            ("POST", f"{API}/torrents/info", {"content": b"x" * 2_000_000, "headers": {
                "content-type": "application/x-www-form-urlencoded"}}),
            ("GET", f"{API}/../../etc/passwd", {}), ("GET", f"{API}/%2e%2e/%2e%2e/etc/passwd", {}),
            ("GET", f"{API}/torrents/info?hashes=" + "|" * 10000, {}),
        ]
        for method, url, kw in raw:
            target.record(c.request(method, url, **kw), f"{method} {url[:80]}")
        for path in ("torrents/add", "torrents/delete", "auth/login", "torrents/pause"):
            r = c.get(f"{API}/{path}")
            target.record(r, f"GET {path}")
            assert r.status_code == 405, (path, r.status_code)
        for method in ("PUT", "DELETE"):
            target.record(c.request(method, f"{API}/torrents/info"), f"{method} torrents/info")
    _assert_alive(target)


def test_missing_or_forged_sid_when_credentials_are_set(tmp_path: Path) -> None:
    with running_anibridge(tmp_path / "locked", downloads=False, CATALOG_ENABLED="false", QBIT_USERNAME="u",
                           QBIT_PASSWORD="p") as h:
        sids = [b"", b"x", HUGE[:4000].encode(), "\u00e9\u00e8".encode(), b"../../etc", b"' OR 1=1 --", b"%00",
                b"\xff\xfe", b"a; SID=b; SID=c"]
        for sid in sids:
            with httpx.Client(base_url=h.base_url, timeout=10) as c:
                for path in ("torrents/info", "torrents/add", "sync/maindata", "app/preferences"):
                    headers = {"cookie": b"SID=" + sid} if sid else {}
                    r = c.post(f"{API}/{path}", data={"urls": "magnet:?x"}, headers=headers)
                    assert (r.status_code, r.text) == (403, "Forbidden"), (sid[:20], path, r.status_code)
        with httpx.Client(base_url=h.base_url, timeout=10) as c:
            for user, password in ((HUGE, HUGE), ("\x00", "\x00"), ("u", "p\x00"), ("ü", "ü"), ("u", "P")):
                r = c.post(f"{API}/auth/login", data={"username": user, "password": password})
                assert (r.status_code, r.text) == (200, "Fails."), (user[:10], r.status_code)
            r = c.post(f"{API}/auth/login", content=b"username=u&password=%zz",
                       headers={"content-type": "application/x-www-form-urlencoded"})
            assert r.status_code < 500 and "SID" not in r.cookies
        assert httpx.get(f"{h.base_url}/health", timeout=10).status_code == 200


# --- schemathesis -----------------------------------------------------------------------------------
_FORM_FIELDS = ("urls", "hashes", "hash", "category", "categories", "savepath", "savePath", "tags", "paused",
                "stopped", "deleteFiles", "filter", "sort", "reverse", "limit", "offset", "rid", "tag",
                "username", "password")


def qbittorrent_openapi() -> dict[str, Any]:
    """An OpenAPI description of the qBittorrent endpoints (every known field as a free string)."""
    from anibridge.http.qbittorrent import KNOWN as _KNOWN

    props = {name: {"type": "string"} for name in _FORM_FIELDS}
    paths: dict[str, Any] = {}
    for path, methods in sorted(_KNOWN.items()):
        ops: dict[str, Any] = {}
        for method in methods:
            op: dict[str, Any] = {"responses": {"200": {"description": "ok"}}}
            if method == "POST":
                op["requestBody"] = {"content": {"application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "properties": props}}}}
            else:
                op["parameters"] = [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                                    for n in _FORM_FIELDS]
            ops[method.lower()] = op
        paths[path] = ops
    return {"openapi": "3.0.3", "info": {"title": "qBittorrent WebUI API (AniBridge)", "version": "2.11.2"},
            "paths": paths}


def _fuzz(target: Target, schema: Any, examples: int) -> int:
    from schemathesis.checks import not_a_server_error

    operations = [r.ok() for r in schema.get_all_operations()]
    assert operations
    strategy = st.one_of(*[op.as_strategy() for op in operations])
    seen = [0]

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call(base_url=target.base, timeout=30)
        seen[0] += 1
        target.record(response, f"{case.method} {case.formatted_path}")
        if not (response.status_code == 503 and case.path.startswith("/torznab")):
            case.validate_response(response, checks=[not_a_server_error])

    run()
    target.fuzzed[schema.raw_schema["info"]["title"]] = seen[0]
    return seen[0]


def test_schemathesis_own_openapi(target: Target) -> None:
    schema = schemathesis.openapi.from_url(f"{target.base}/openapi.json")
    schema.config.base_url = target.base  # type: ignore[attr-defined]
    cases = _fuzz(target, schema, FUZZ_EXAMPLES)
    assert cases >= min(FUZZ_EXAMPLES, 50)
    _assert_alive(target)


def test_schemathesis_qbittorrent(target: Target) -> None:
    schema = schemathesis.openapi.from_dict(qbittorrent_openapi())
    cases = _fuzz(target, schema, FUZZ_EXAMPLES)
    assert cases >= min(FUZZ_EXAMPLES, 50)
    _assert_alive(target)


# --- afterwards: nothing escaped ----------------------------------------------------------------------
def test_zz_nothing_written_outside_data_and_download_dirs(target: Target) -> None:
    time.sleep(3)  # let downloads started by the accepted adds finish or fail
    after = tree(target.parent)
    new = sorted(p for p in after - target.before if not p.startswith(target.inside))
    gone = sorted(p for p in target.before - after if not p.startswith(target.inside))
    assert new == [] and gone == [], (new, gone)
    assert not Path(ABSOLUTE_CANARY).exists()
    assert (target.parent / "sibling.txt").read_text() == "must stay alone"
    assert list((target.parent / "etc").iterdir()) == []
    _assert_alive(target)
    print(f"\nhostile input: {target.sent} requests, status codes {dict(sorted(target.statuses.items()))},"
          f" schemathesis cases {target.fuzzed}")
