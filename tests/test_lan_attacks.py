"""LAN and browser attacks on a real AniBridge (uvicorn on loopback, real sockets; issue 16 and 17).

Login guessing (ban after failed logins, as qBittorrent), cross-site requests and DNS rebinding
(Origin/Referer against Host, Host validation, as qBittorrent's WebUI), the Torznab key as a header,
what anonymous callers see, slowloris, forged log lines, and bodies refused before they are read.
Attackers use other loopback source addresses (127.0.0.2, ...) than the well-behaved clients, as a
LAN attacker has another address than Sonarr.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from anibridge.releases import build_magnet
from anibridge.testing import Harness, free_port, running_anibridge

API = "/api/v2"
KEY = "lan-Key-7d1f0c"
USER, PASSWORD = "sonarr", "right-Pass-55"
ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def magnet(slug: str = "real-show", episode: int = 1, dn: str | None = None) -> str:
    return build_magnet("aniworld.to", slug, 1, episode, "German Dub", dn or f"{slug}.S01E{episode:02d}-ANIWORLD")


def client(base: str, source: str = "127.0.0.1", **kw: Any) -> httpx.Client:
    """An HTTP client whose connections come from ``source`` (any 127.0.0.0/8 address is loopback)."""
    return httpx.Client(base_url=base, timeout=kw.pop("timeout", 10),
                        transport=httpx.HTTPTransport(local_address=source), **kw)


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """No secrets set, as in the issue's cross-site attack."""
    with running_anibridge(tmp_path_factory.mktemp("open"), downloads=False, CATALOG_ENABLED="false") as h:
        yield h


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with running_anibridge(tmp_path_factory.mktemp("locked"), downloads=False, CATALOG_ENABLED="false",
                           INDEXER_API_KEY=KEY, QBIT_USERNAME=USER, QBIT_PASSWORD=PASSWORD,
                           QBIT_BAN_DURATION_SECONDS="4") as h:
        yield h


# --- 1. login guessing ------------------------------------------------------------------------------
def test_failed_logins_ban_the_address_as_qbittorrent_does(locked: Harness) -> None:
    base = locked.base_url
    with client(base, "127.0.0.3") as attacker, client(base, "127.0.0.1") as sonarr:
        answers: dict[str, int] = {}
        for n in range(300):
            r = attacker.post(f"{API}/auth/login", data={"username": USER, "password": f"guess-{n}"})
            answers[f"{r.status_code} {r.text}"] = answers.get(f"{r.status_code} {r.text}", 0) + 1
        # qBittorrent's default: the 5th failure starts the ban; then every login is 403 with its message
        banned = "403 Your IP address has been banned after too many failed authentication attempts."
        assert answers == {"200 Fails.": 5, banned: 295}, answers
        r = attacker.post(f"{API}/auth/login", data={"username": USER, "password": PASSWORD})
        assert (r.status_code, "SID" in r.cookies) == (403, False), "the right password got in while banned"
        # another address is not affected, and sees the settings as qBittorrent names them
        assert sonarr.post(f"{API}/auth/login", data={"username": USER, "password": PASSWORD}).text == "Ok."
        prefs = sonarr.get(f"{API}/app/preferences").json()
        assert prefs["web_ui_max_auth_fail_count"] == 5 and prefs["web_ui_ban_duration"] == 4
        assert prefs["web_ui_csrf_protection_enabled"] is True
        assert prefs["web_ui_host_header_validation_enabled"] is True
        time.sleep(4.2)  # QBIT_BAN_DURATION_SECONDS=4
        r = attacker.post(f"{API}/auth/login", data={"username": USER, "password": PASSWORD})
        assert r.text == "Ok." and "SID" in r.cookies, "the ban did not end"


def test_a_good_login_clears_the_failure_count(locked: Harness) -> None:
    with client(locked.base_url, "127.0.0.4") as c:
        for _ in range(3):
            for n in range(4):  # one short of a ban, then the right password
                assert c.post(f"{API}/auth/login", data={"username": USER, "password": f"x{n}"}).text == "Fails."
            assert c.post(f"{API}/auth/login", data={"username": USER, "password": PASSWORD}).text == "Ok."


def test_ban_settings_are_read_from_the_environment(tmp_path: Path) -> None:
    with running_anibridge(tmp_path, downloads=False, CATALOG_ENABLED="false", QBIT_USERNAME=USER,
                           QBIT_PASSWORD=PASSWORD, QBIT_MAX_AUTH_FAIL_COUNT="2",
                           QBIT_BAN_DURATION_SECONDS="120") as h, client(h.base_url, "127.0.0.5") as c:
        texts = [c.post(f"{API}/auth/login", data={"username": USER, "password": "no"}).status_code for _ in range(4)]
        assert texts == [200, 200, 403, 403]  # the 2nd failure starts the ban
    with running_anibridge(tmp_path / "off", downloads=False, CATALOG_ENABLED="false", QBIT_USERNAME=USER,
                           QBIT_PASSWORD=PASSWORD, QBIT_MAX_AUTH_FAIL_COUNT="0") as h, client(h.base_url) as c:
        for _ in range(20):
            assert c.post(f"{API}/auth/login", data={"username": USER, "password": "no"}).text == "Fails."
        assert c.post(f"{API}/auth/login", data={"username": USER, "password": PASSWORD}).text == "Ok."


# --- 2. cross-site requests and DNS rebinding ------------------------------------------------------
def _tasks(c: httpx.Client) -> list[dict[str, Any]]:
    r = c.get(f"{API}/torrents/info")
    assert r.status_code == 200, r.text
    return r.json()


def test_cross_site_forms_change_nothing(open_server: Harness) -> None:
    base = open_server.base_url
    hostile = [{"Origin": "http://evil.example"}, {"Origin": "null"},
               {"Referer": "http://evil.example/page.html"}, {"Sec-Fetch-Site": "cross-site"},
               {"Origin": "http://evil.example", "Referer": base + "/"},  # Origin wins, as in qBittorrent
               {"Origin": base.replace("127.0.0.1", "127.0.0.1.evil.example")}]
    with client(base) as sonarr, client(base, "127.0.0.6") as browser:
        assert sonarr.post(f"{API}/torrents/add", data={"urls": magnet("kept")}).text == "Ok."
        refused = 0
        for headers in hostile:
            form = {"content-type": "application/x-www-form-urlencoded"} | headers
            for path, body in ((f"{API}/torrents/add", "urls=" + quote(magnet("evil"), safe="")),
                               (f"{API}/torrents/delete", "hashes=all&deleteFiles=true"),
                               (f"{API}/auth/logout", ""), ("/admin/crawl/aniworld", ""),
                               (f"{API}/app/setPreferences", "json={}")):
                r = browser.post(path, content=body.encode(), headers=form)
                assert r.status_code == 401 and "cross-site" in r.text, (path, headers, r.status_code, r.text)
                refused += 1
            r = browser.put("/admin/canonical/aniworld/kept", json={"tvdb_id": 1}, headers=headers)
            assert r.status_code == 401, (headers, r.status_code)
            refused += 1
        assert refused == 36
        assert [t["name"] for t in _tasks(sonarr)] == ["kept.S01E01-ANIWORLD"], "a cross-site request changed tasks"
        # The same forms from the page's own origin, and Sonarr's requests (no Origin, Referer or
        # Sec-Fetch-Site), go through.
        same = {"Origin": base, "Sec-Fetch-Site": "same-origin"}
        r = browser.post(f"{API}/torrents/add", data={"urls": magnet("mine")}, headers=same)
        assert r.text == "Ok.", r.text
        assert browser.post(f"{API}/torrents/pause", data={"hashes": "all"}, headers={"Referer": base + "/"}).text == ""
        assert sonarr.post(f"{API}/torrents/delete", data={"hashes": "all", "deleteFiles": "true"}).text == ""
        assert _tasks(sonarr) == []
        # reading is not a cross-site risk (the browser does not let the page read the answer)
        assert browser.get(f"{API}/torrents/info", headers={"Origin": "http://evil.example"}).status_code == 200


def test_foreign_host_names_are_refused(open_server: Harness) -> None:
    port = open_server.base_url.rsplit(":", 1)[1]
    with client(open_server.base_url) as c:
        for host in ("evil.example", f"evil.example:{port}", "rebind.attacker.net.", "127.0.0.1.nip.io",
                     f"anibridge.example.com:{port}"):
            for method, path in (("GET", f"{API}/torrents/info"), ("GET", "/health"), ("GET", "/"),
                                 ("GET", "/torznab/api?t=caps"), ("POST", f"{API}/torrents/add")):
                r = c.request(method, path, headers={"Host": host}, data={"urls": magnet("rebound")}
                              if method == "POST" else None)
                assert r.status_code == 401 and "not a name of this server" in r.text, (host, path, r.status_code)
        # addresses, this machine's and LAN names (Docker service names, mDNS) are answered
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "anibridge:8000", "anibridge", f"[::1]:{port}",
                     "192.168.1.20:8000", "nas.local", "media.lan:8000", "box.home.arpa", socket.gethostname()):
            r = c.get("/api/v2/app/version", headers={"Host": host})
            assert r.status_code == 200, (host, r.status_code, r.text)
        assert _tasks(c) == []


def test_reverse_proxy_settings(tmp_path: Path) -> None:
    with running_anibridge(tmp_path, downloads=False, CATALOG_ENABLED="false",
                           ANIBRIDGE_DOMAIN_LIST="anibridge.example.com; *.media.example.org",
                           ANIBRIDGE_TRUSTED_PROXIES="127.0.0.1") as h, client(h.base_url) as c:
        for host in ("anibridge.example.com", "tv.media.example.org:443"):
            assert c.get(f"{API}/app/version", headers={"Host": host}).status_code == 200, host
        assert c.get(f"{API}/app/version", headers={"Host": "example.com"}).status_code == 401
        # a trusted proxy passing its public name as X-Forwarded-Host: the browser's Origin matches that
        r = c.post(f"{API}/torrents/add", data={"urls": magnet()},
                   headers={"Origin": "https://anibridge.example.com", "X-Forwarded-Host": "anibridge.example.com"})
        assert r.text == "Ok."
        assert c.get(f"{API}/app/preferences").json()["web_ui_domain_list"] == \
            "anibridge.example.com;*.media.example.org"
    with running_anibridge(tmp_path / "off", downloads=False, CATALOG_ENABLED="false",
                           ANIBRIDGE_CSRF_PROTECTION="false", ANIBRIDGE_HOST_HEADER_VALIDATION="false") as h, \
            client(h.base_url) as c:
        r = c.post(f"{API}/torrents/add", data={"urls": magnet()},
                   headers={"Origin": "http://other.example", "Host": "proxy.example.net"})
        assert r.text == "Ok."


# --- 3. the Torznab key as a header ----------------------------------------------------------------
def test_torznab_takes_the_key_as_x_api_key(locked: Harness) -> None:
    with client(locked.base_url) as c:
        assert c.get("/torznab/api", params={"t": "caps"}, headers={"X-Api-Key": KEY}).status_code == 200
        r = c.post("/torznab/api", data={"t": "caps"}, headers={"X-Api-Key": KEY})
        assert r.status_code == 200 and "<caps>" in r.text
        assert c.get("/torznab/api", params={"t": "caps"}, headers={"X-Api-Key": KEY + "x"}).status_code == 401
        r = c.get("/torznab/api", params={"t": "caps", "apikey": "wrong"}, headers={"X-Api-Key": KEY})
        assert r.status_code == 401  # a wrong apikey parameter is not rescued by the header


# --- 4. what anonymous callers see -----------------------------------------------------------------
DETAILS = ("/docs", "/redoc", "/openapi.json", "/health/downloads", "/health/catalog")


def test_details_need_the_key_or_a_login(locked: Harness) -> None:
    with client(locked.base_url) as anon, client(locked.base_url) as logged_in:
        for path in DETAILS:
            r = anon.get(path)
            assert r.status_code == 401, (path, r.status_code)
            assert anon.get(path, params={"apikey": "wrong"}).status_code == 401
            assert anon.get(path, params={"apikey": KEY}).status_code == 200, path
            assert anon.get(path, headers={"X-Api-Key": KEY}).status_code == 200, path
        assert logged_in.post(f"{API}/auth/login", data={"username": USER, "password": PASSWORD}).text == "Ok."
        for path in DETAILS:
            assert logged_in.get(path).status_code == 200, path
        assert f"/openapi.json?apikey={KEY}" in anon.get("/docs", params={"apikey": KEY}).text
        anonymous = anon.get("/health")
        full = anon.get("/health", headers={"X-Api-Key": KEY})
        assert anonymous.json() == {"status": full.json()["status"]}
        assert anonymous.status_code == full.status_code
        assert {"problems", "catalog", "downloads"} <= set(full.json())
        page = anon.get("/")
        assert page.status_code == 200 and 'id="status"' in page.text and "Catalogue" not in page.text
        assert 'name="apikey"' in page.text and 'id="login"' in page.text
        assert "Catalogue" in anon.get("/", params={"apikey": KEY}).text
        assert "Catalogue" in logged_in.get("/").text


def test_docker_healthcheck_passes_without_the_key(locked: Harness) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    command = re.search(r'HEALTHCHECK[^\n]*\n\s*CMD \["python", "-c", "(.*)"\]', dockerfile)
    assert command, "no HEALTHCHECK in the Dockerfile"
    code = command.group(1).replace('\\"', '"')
    port = locked.base_url.rsplit(":", 1)[1]
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "ANIBRIDGE_PORT": port},
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def test_status_page_works_in_a_browser_with_the_key(locked: Harness, tmp_path: Path) -> None:
    from tests.test_status_page import CHROMIUM, attr, dump_dom

    if CHROMIUM is None:
        pytest.skip("no chromium binary")
    dom = dump_dom(tmp_path, f"{locked.base_url}/?apikey={KEY}", budget_ms=7000)
    assert "Catalogue" in dom and int(attr(dom, "data-polls")) >= 2, "the page's polling failed with the key"


def test_nothing_is_hidden_without_secrets(open_server: Harness) -> None:
    with client(open_server.base_url) as c:
        for path in (*DETAILS, "/health"):
            assert c.get(path).status_code == 200, path
        assert "problems" in c.get("/health").json()


# --- 5. slowloris ----------------------------------------------------------------------------------
def test_slowloris_connections_are_closed_and_others_still_served(tmp_path: Path) -> None:
    """300 connections from one attacker dribble header bytes; with the default settings each is closed
    once it has had 10 s for its headers (or refused at once past 64 per client), and a well-behaved
    client is answered throughout."""
    attackers = 300
    with running_anibridge(tmp_path, downloads=False, CATALOG_ENABLED="false") as h:
        port = int(h.base_url.rsplit(":", 1)[1])
        socks: list[socket.socket] = []
        for _ in range(attackers):
            s = socket.socket()
            s.bind(("127.0.0.2", 0))
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            s.setblocking(False)
            socks.append(s)
        served: list[float] = []
        failed: list[str] = []
        stop = threading.Event()

        def well_behaved() -> None:
            with client(h.base_url, timeout=5) as c:
                while not stop.is_set():
                    t0 = time.monotonic()
                    try:
                        assert c.get("/health").status_code == 200
                        served.append(time.monotonic() - t0)
                    except Exception as exc:
                        failed.append(repr(exc))
                    time.sleep(0.2)

        poller = threading.Thread(target=well_behaved)
        poller.start()
        closed_at: dict[int, float] = {}
        refused_503 = 0
        start = time.monotonic()
        try:
            while time.monotonic() - start < 16 and len(closed_at) < attackers:
                for i, s in enumerate(socks):
                    if i in closed_at:
                        continue
                    # poll, not select: the whole suite's process can hold descriptors above FD_SETSIZE.
                    answer = select.poll()
                    answer.register(s, select.POLLIN)
                    if answer.poll(0):  # an answer (503), or the server closed the connection
                        try:
                            data = s.recv(4096)
                        except OSError:
                            data = b""
                        refused_503 += data.startswith(b"HTTP/1.1 503")
                        closed_at[i] = time.monotonic() - start
                        continue
                    try:
                        s.send(b"X-a: b\r\n")  # one more header line, never the blank line that ends them
                    except OSError:
                        closed_at[i] = time.monotonic() - start
                time.sleep(1.0)
        finally:
            stop.set()
            poller.join(10)
            for s in socks:
                s.close()
        still_open = attackers - len(closed_at)
        print(f"slowloris: {attackers} dribbling connections, {refused_503} refused at once (503),"
              f" {len(closed_at) - refused_503} closed for slow headers, {still_open} still open after"
              f" {time.monotonic() - start:.0f} s; well-behaved client: {len(served)} answers, {len(failed)} failed,"
              f" slowest {max(served, default=0) * 1000:.0f} ms")
        assert still_open == 0, f"{still_open} dribbling connections were still open"
        assert refused_503 >= attackers - 64
        assert max(closed_at.values()) < 14
        assert failed == [] and len(served) >= 20


# --- 6. forged log lines -----------------------------------------------------------------------------
FORGED = "2026-01-01 00:00:00 INFO    anibridge.http: admin logged in from 10.0.0.1"


def test_a_newline_in_dn_cannot_forge_a_log_line(tmp_path: Path) -> None:
    """A real ``anibridge serve``: its log is AniBridge's logging set-up, not the test's."""
    port = free_port()
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "ANIBRIDGE_PORT": str(port), "LOG_LEVEL": "INFO",
           "CATALOG_ENABLED": "false", "ANIWORLD_BASE_URL": "http://127.0.0.1:9"}
    server = subprocess.Popen([str(BIN / "anibridge"), "serve", "--host", "127.0.0.1", "--no-crawl"], env=env,
                              stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "anibridge serve did not start"
            time.sleep(0.2)
        dn = f"Evil.S01E01\n{FORGED}\r\n\x1b[2J\x1b[31mred\u2028{FORGED}"
        with httpx.Client(base_url=base, timeout=10) as c:
            r = c.post(f"{API}/torrents/add", data={"urls": magnet("evil-show", dn=dn), "paused": "true"})
            assert r.text == "Ok."
            assert c.post(f"{API}/torrents/delete", data={"hashes": "all"}).text == ""
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=30)
    lines = err.splitlines()
    assert any("deleted" in line and "Evil.S01E01" in line for line in lines), err[-2000:]
    forged = [line for line in lines if line.startswith(FORGED)]
    assert forged == [], f"forged log lines: {forged}"
    assert "\x1b" not in err and "\u2028" not in err and "\r" not in err
    assert "Evil.S01E01\\n2026-01-01" in err
    stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL)")
    assert [line for line in lines if line.strip() and not stamp.match(line) and not line.startswith((" ", "Trace"))] \
        == [], "a log line without AniBridge's prefix"


# --- 7. bodies: the key first, a cap everywhere ------------------------------------------------------
def _raw(port: int, head: str, body_part: bytes, source: str = "127.0.0.7", wait: float = 5.0) -> bytes:
    """Send a request's headers and only the start of its body; return what the server answers meanwhile."""
    got = b""
    deadline = time.monotonic() + wait
    with socket.create_connection(("127.0.0.1", port), source_address=(source, 0), timeout=wait) as s:
        s.sendall(head.encode() + body_part)
        while time.monotonic() < deadline:  # until the server closes, or has sent one whole answer
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            got += data
            head_end = got.find(b"\r\n\r\n")
            length = re.search(rb"content-length: (\d+)", got[:head_end], re.I) if head_end >= 0 else None
            if not data or (length and len(got) >= head_end + 4 + int(length.group(1))):
                break
    return got


def test_torznab_checks_the_key_before_reading_a_multipart_body(locked: Harness) -> None:
    port = int(locked.base_url.rsplit(":", 1)[1])
    length = 1_500_000  # under the body cap: only the key check can answer before the body arrives
    head = ("POST /torznab/api?t=search HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: multipart/form-data; boundary=XyZ\r\n"
            f"Content-Length: {length}\r\n\r\n")
    part = b'--XyZ\r\nContent-Disposition: form-data; name="f"; filename="a.bin"\r\n\r\n' + b"A" * 1000
    t0 = time.monotonic()
    answer = _raw(port, head, part)
    assert answer.startswith(b"HTTP/1.1 401"), f"no answer before the body was sent: {answer[:100]!r}"
    assert b'code="100"' in answer and time.monotonic() - t0 < 3
    with client(locked.base_url) as c:
        # with the key a form works; file parts are refused, not spooled
        r = c.post("/torznab/api", data={"t": "caps"}, files={"x": ("a.bin", b"A" * 100)}, params={"apikey": KEY})
        assert r.status_code == 400 and 'code="201"' in r.text
        r = c.post("/torznab/api", data={"t": "caps", "apikey": KEY})
        assert r.status_code == 200 and "<caps>" in r.text


def test_large_bodies_are_refused_on_every_route(locked: Harness) -> None:
    port = int(locked.base_url.rsplit(":", 1)[1])
    big = 40 * 1024 * 1024
    for path in ("/torznab/api?t=caps&apikey=" + KEY, f"{API}/torrents/add", f"{API}/auth/login",
                 "/admin/canonical/aniworld/x?apikey=" + KEY, "/health"):
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n"
                f"Content-Length: {big}\r\n\r\n")
        answer = _raw(port, head, b"--XyZ\r\n")
        assert answer.startswith(b"HTTP/1.1 413") and b"ANIBRIDGE_MAX_BODY_BYTES" in answer, (path, answer[:200])
    # no Content-Length (chunked): counted as it comes
    with client(locked.base_url) as c:
        assert c.post(f"{API}/auth/login", data={"username": USER, "password": PASSWORD}).text == "Ok."

        def chunks() -> Iterator[bytes]:
            yield b'{"tvdb_id": 1, "pad": "'
            for _ in range(64):
                yield b"m" * 65536
            yield b'"}'

        # a JSON body is read whole by FastAPI (forms stop earlier, at Starlette's 1 MiB per field)
        r = c.put("/admin/canonical/aniworld/x", params={"apikey": KEY}, content=chunks(),
                  headers={"content-type": "application/json"})
        assert r.status_code == 413 and "ANIBRIDGE_MAX_BODY_BYTES" in r.text, (r.status_code, r.text)
        # an ordinary add still works on the same server
        assert c.post(f"{API}/torrents/add", data={"urls": magnet("after-big")}).text == "Ok."
