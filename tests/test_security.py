"""Security: every route is classified (public or guarded) and refuses without credentials; secrets
never reach the log; secrets are compared in constant time; magnets can never make AniBridge
fetch an arbitrary URL.

A new route fails ``test_every_route_is_classified`` until it is added to one of the lists below.
"""

from __future__ import annotations

import http.server
import inspect
import logging
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
from fastapi import FastAPI

from anibridge.config import HOSTS, SITES
from anibridge.http import security
from anibridge.releases import build_magnet, info_hash, parse_magnet
from anibridge.testing import Harness, running_anibridge

API_KEY = "k3y-Secret-4f1c9e0d7b"
QBIT_USER = "sonarr-user-9a7e"
QBIT_PASS = "pa55-Secret-c0ffee"
SECRETS = (API_KEY, QBIT_PASS)
HTTP_DIR = Path(__file__).resolve().parents[1] / "anibridge" / "http"

# Public by design: health for Docker/monitoring (only up/down to the anonymous once a secret is set),
# the status page (a sign-in page to the anonymous), and the qBittorrent login/logout pair (logout
# without a session only drops nothing).
PUBLIC = {"/health", "/", "/api/v2/auth/login", "/api/v2/auth/logout"}
# Details: open while no secret is set; then the API key or a qBittorrent login (401 without).
DETAILS = {"/health/catalog", "/health/downloads", "/openapi.json", "/docs", "/redoc"}
# Paths that are not qBittorrent endpoints: like real qBittorrent, 403 first without a session.
CATCH_ALL = "/api/v2/{rest:path}"
PARAMS = {"site": "aniworld.to", "slug": "some-title", "rest": "no/such/endpoint", "name": "seg0.ts"}


def iter_routes(app: FastAPI) -> list[tuple[str, set[str]]]:
    """(path, methods) of every route, looking inside included routers (FastAPI >= 0.16x keeps them lazy)."""
    out: list[tuple[str, set[str]]] = []

    def walk(routes: Any) -> None:
        for route in routes:
            if hasattr(route, "effective_route_contexts"):
                for ctx in route.effective_route_contexts():
                    original = ctx.original_route
                    out.append((ctx.path, set(getattr(original, "methods", None) or {"GET"})))
            elif hasattr(route, "path"):
                out.append((route.path, set(getattr(route, "methods", None) or {"GET"})))
            elif hasattr(route, "routes"):
                walk(route.routes)

    walk(app.routes)
    return out


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PARAMS[m.group(1)], path)


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with running_anibridge(tmp_path_factory.mktemp("locked"), downloads=False, CATALOG_ENABLED="false",
                           INDEXER_API_KEY=API_KEY, QBIT_USERNAME=QBIT_USER, QBIT_PASSWORD=QBIT_PASS,
                           LOG_LEVEL="DEBUG") as h:
        yield h


@pytest.fixture(scope="module")
def routes(locked: Harness) -> list[tuple[str, set[str]]]:
    from anibridge.http.app import create_app

    found = iter_routes(create_app(locked.runtime))
    assert len(found) > 30, found  # Torznab, the qBittorrent API, health, admin, status page
    return found


def test_every_route_is_classified(routes: list[tuple[str, set[str]]]) -> None:
    unclassified = [p for p, _ in routes if not (
        p in PUBLIC or p in DETAILS or p == CATCH_ALL or p.startswith(("/torznab", "/api/v2/", "/admin/", "/strm/")))]
    assert unclassified == [], f"new route(s) must be classified as public or guarded in this test: {unclassified}"


def _call(client: httpx.Client, method: str, path: str, **kw: Any) -> httpx.Response:
    if method == "HEAD":
        return client.head(path, **kw)
    return client.request(method, path, **kw)


def test_guarded_routes_refuse_without_credentials(locked: Harness, routes: list[tuple[str, set[str]]]) -> None:
    checked = 0
    with httpx.Client(base_url=locked.base_url, timeout=15) as anon, \
            httpx.Client(base_url=locked.base_url, timeout=15, cookies={"SID": "forged-session"}) as forged:
        for path, methods in routes:
            if path in PUBLIC:
                continue
            url = concrete(path)
            for method in sorted(methods - {"HEAD"}):
                if path.startswith("/torznab"):
                    for params in ({"t": "caps"}, {"t": "search", "q": "x", "apikey": "wrong"},
                                   {"t": "search", "apikey": API_KEY[:-1]}):
                        r = _call(anon, method, url, params=params)
                        assert r.status_code == 401 and 'code="100"' in r.text, (method, url, params, r.text)
                    r = _call(anon, method, url, params={"t": "caps"}, headers={"X-Api-Key": "wrong"})
                    assert r.status_code == 401, (method, url)
                elif path in DETAILS:
                    for kw in ({}, {"params": {"apikey": "wrong"}}, {"headers": {"X-Api-Key": API_KEY.upper()}}):
                        assert _call(anon, method, url, **kw).status_code == 401, (method, url, kw)
                        assert _call(forged, method, url, **kw).status_code == 401, (method, url, kw)
                elif path.startswith("/admin/"):
                    for kw in ({}, {"params": {"apikey": "wrong"}}, {"headers": {"X-Api-Key": API_KEY.upper()}}):
                        r = _call(anon, method, url, json={"tvdb_id": 1}, **kw)
                        assert r.status_code == 401, (method, url, kw, r.status_code, r.text)
                elif path.startswith("/strm/"):
                    # off unless STRM_PROXY_MODE=proxy; then signed URLs only (tests/test_strm.py)
                    r = _call(anon, method, url, params={"slug": "x", "s": "1", "e": "1", "lang": "German Dub"})
                    assert r.status_code == 404 and "STRM_PROXY_MODE" in r.text, (method, url, r.status_code)
                elif path == CATCH_ALL:
                    r = _call(anon, method, url)
                    assert r.status_code == 403, (method, url, r.status_code)
                else:
                    assert path.startswith("/api/v2/"), path
                    for client in (anon, forged):
                        r = _call(client, method, url, data={"hashes": "all", "urls": "magnet:?x", "category": "c"})
                        assert (r.status_code, r.text) == (403, "Forbidden"), (method, url, r.status_code, r.text)
                checked += 1
    assert checked > 30


def test_right_credentials_open_the_guarded_routes(locked: Harness) -> None:
    with httpx.Client(base_url=locked.base_url, timeout=15) as c:
        assert c.get("/torznab/api", params={"t": "caps", "apikey": API_KEY}).status_code == 200
        assert c.get("/admin/journal", headers={"X-Api-Key": API_KEY}).status_code == 200
        assert c.get("/admin/projections", params={"apikey": API_KEY}).status_code == 200
        assert c.post("/api/v2/auth/login", data={"username": QBIT_USER, "password": QBIT_PASS}).text == "Ok."
        assert c.get("/api/v2/app/version").status_code == 200


def test_public_routes_answer_and_never_show_secrets(locked: Harness) -> None:
    with httpx.Client(base_url=locked.base_url, timeout=15) as c:
        for path, kw in [(p, {}) for p in sorted(PUBLIC - {"/api/v2/auth/login", "/api/v2/auth/logout"})] + \
                [(p, {"headers": {"X-Api-Key": API_KEY}}) for p in sorted(DETAILS | {"/", "/health"})]:
            r = c.get(path, **kw)
            assert r.status_code == 200, (path, r.status_code)
            for secret in (*SECRETS, QBIT_USER):
                if path not in ("/docs", "/redoc"):  # handed the key they were opened with, to fetch the schema
                    assert secret not in r.text, (path, secret)


def test_secrets_are_never_logged(locked: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    near = [API_KEY[:-1], API_KEY + "x", API_KEY.upper()]
    with httpx.Client(base_url=locked.base_url, timeout=15) as c:
        for key in (API_KEY, *near):
            c.get("/torznab/api", params={"t": "search", "q": "naruto", "apikey": key})
            c.get("/torznab/api", params={"t": "tvsearch", "season": "x", "apikey": key})
            c.get("/torznab/api", params={"t": "bogus", "apikey": key})
            c.post("/torznab/api", data={"t": "caps", "apikey": key})
            c.get("/admin/journal", headers={"X-Api-Key": key})
            c.put("/admin/canonical/aniworld/x", params={"apikey": key}, json={"tvdb_id": "bad"})
        for password in (QBIT_PASS, QBIT_PASS[:-1], QBIT_PASS + " ", "", QBIT_PASS.upper()):
            c.post("/api/v2/auth/login", data={"username": QBIT_USER, "password": password})
            c.post("/api/v2/auth/login", data={"username": "admin", "password": password})
        c.post("/api/v2/auth/login", data={"username": QBIT_USER, "password": QBIT_PASS})
        c.post("/api/v2/torrents/add", data={"urls": f"magnet:?xt=urn:btih:{'0' * 40}&apikey={API_KEY}"})
        c.post("/api/v2/app/setPreferences", data={"json": f'{{"web_ui_password": "{QBIT_PASS}"}}'})
    time.sleep(0.3)
    assert caplog.records, "nothing was logged: the capture is not wired"
    # The test's own httpx client logs the URLs it requests (with the key in them): not AniBridge's log.
    records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in records)
    for secret in (*SECRETS, *near[:2], QBIT_PASS[:-1]):
        assert secret not in text, f"secret {secret!r} appears in the log"


# --- constant-time comparison ----------------------------------------------------------------------
def test_same_secret_uses_compare_digest() -> None:
    assert "hmac.compare_digest" in inspect.getsource(security.same_secret)
    assert security.same_secret("abc", "abc") and not security.same_secret("abd", "abc")
    assert not security.same_secret(None, "abc") and not security.same_secret("", "abc")
    assert security.same_secret("ü-key", "ü-key")  # non-ASCII secrets must not raise (compare_digest on str does)


_SECRET_NAME = r"(api_?key|apikey|password|passwd|qbit_username|username|secret|token|\bsid\b)"
_PLAIN_COMPARE = re.compile(rf"{_SECRET_NAME}[\w.\[\]\"'()]*\s*(==|!=)|(==|!=)\s*[\w.]*{_SECRET_NAME}", re.I)


def test_no_plain_comparison_of_secrets_in_http() -> None:
    offenders = []
    for path in sorted(HTTP_DIR.rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if _PLAIN_COMPARE.search(code) and "same_secret" not in code:
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert offenders == [], "compare secrets with security.same_secret (hmac.compare_digest):\n" + "\n".join(offenders)
    for name in ("torznab/api.py", "sessions.py", "security.py"):  # sessions: credentials_match
        assert "same_secret(" in (HTTP_DIR / name).read_text(), name


# --- magnets never name an arbitrary URL -----------------------------------------------------------
class _Canary(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def _hit(self) -> None:
        type(self).hits.append(f"{self.command} {self.path}")
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = do_HEAD = _hit

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture()
def canary() -> Iterator[tuple[str, list[str]]]:
    _Canary.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Canary)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Canary.hits
    finally:
        server.shutdown()
        server.server_close()


def hostile_magnets(url: str) -> list[str]:
    good = build_magnet("aniworld.to", "real-show", 1, 1, "German Dub", "Real.Show.S01E01-ANIWORLD")
    h = info_hash("real-show", 1, 1, "German Dub")
    e = quote_plus(url)
    return [
        good.replace("aw_site=aniworld.to", f"aw_site={e}"),
        good.replace("aw_site=aniworld.to", f"aw_site={quote(url, safe='')}"),
        f"magnet:?xt=urn:btih:{h}&aw_slug=real-show&aw_s=1&aw_e=1&aw_lang=German+Dub&aw_site={e}",
        good.replace("aw_slug=real-show", f"aw_slug={e}"),
        good.replace("aw_slug=real-show", f"aw_slug={quote_plus('../../' + url)}"),
        good + f"&aw_provider={e}",
        good + f"&aw_provider={quote_plus('VOE ' + url)}",
        good + f"&xs={e}&as={e}&tr={e}&ws={e}",
        f"magnet:?xt=urn:btih:{h}&sto_slug=real-show&sto_s=1&sto_e=1&sto_lang=German+Dub&sto_site={e}",
        f"magnet:?xt=urn:btih:{h}&dn=x&aw_slug=real-show&aw_s=1&aw_e=1&aw_lang=German+Dub&aw_url={e}",
        f"{url}/file.torrent",
        f"magnet:?xt=urn:btih:{h}&xs={e}",
    ]


def test_magnets_cannot_make_anibridge_fetch_an_arbitrary_url(tmp_path: Path,
                                                               canary: tuple[str, list[str]]) -> None:
    url, hits = canary
    dead = "http://127.0.0.1:9"  # the configured providers: nothing listens there
    with running_anibridge(tmp_path / "data", downloads=True, CATALOG_ENABLED="false", ANIWORLD_BASE_URL=dead,
                           STO_BASE_URL=dead, MEGAKINO_BASE_URL=dead, SKYHOOK_BASE_URL=dead) as h, \
            httpx.Client(base_url=h.base_url, timeout=15) as c:
        accepted = []
        for magnet in hostile_magnets(url):
            for data in ({"urls": magnet}, {"urls": magnet, "savepath": url, "category": "tv"}):
                r = c.post("/api/v2/torrents/add", data=data)
                assert r.status_code < 500, (magnet, r.status_code, r.text)
                if r.text == "Ok.":
                    accepted.append(magnet)
        r = c.post("/api/v2/torrents/add", files={"torrents": ("x.torrent", url.encode())})
        assert r.status_code < 500
        c.get("/torznab/api", params={"t": "search", "q": url})
        c.post("/api/v2/torrents/createCategory", data={"category": "evil", "savePath": url})
        time.sleep(2.5)  # give the download worker time to act on anything it accepted
        tasks = c.get("/api/v2/torrents/info").json()
    # Whatever was accepted names a known provider only, fetched from the configured base URL.
    for magnet in accepted:  # e.g. unknown extra parameters (xs=, tr=) are ignored, never followed
        ref = parse_magnet(magnet)
        assert ref.site in SITES and (ref.provider is None or ref.provider in HOSTS), magnet
        assert url not in ref.slug and "127.0.0.1" not in ref.slug, magnet
    for task in tasks:
        assert url not in str(task.get("comment")), task
    assert hits == [], f"AniBridge contacted the canary server: {hits}"
