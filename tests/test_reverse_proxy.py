"""AniBridge behind a reverse proxy (ANIBRIDGE_TRUSTED_PROXIES), on a real uvicorn over loopback.

The proxy is a loopback source address (127.0.0.4) sending what nginx/Traefik/Caddy send: the client's
address appended to X-Forwarded-For. Clients "behind" it are the addresses it names. Other loopback
addresses are peers that are not trusted, sending the same headers.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from anibridge.config import load_settings
from anibridge.http.forwarded import TrustedProxies
from anibridge.releases import build_magnet
from anibridge.testing import Harness, running_anibridge

API = "/api/v2"
USER, PASSWORD = "sonarr", "proxy-Pass-81"
PROXY = "127.0.0.4"
BANNED = "Your IP address has been banned after too many failed authentication attempts."


def peer(base: str, source: str) -> httpx.Client:
    """HTTP connections from ``source`` (any 127.0.0.0/8 address is loopback)."""
    return httpx.Client(base_url=base, timeout=10, transport=httpx.HTTPTransport(local_address=source))


def login(c: httpx.Client, password: str, forwarded_for: str | None = None) -> str:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    r = c.post(f"{API}/auth/login", data={"username": USER, "password": password}, headers=headers)
    return f"{r.status_code} {r.text}"


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """Trusts the proxy on 127.0.0.4 and an outer proxy network 10.9.0.0/16 (a chain of two proxies)."""
    with running_anibridge(tmp_path_factory.mktemp("proxied"), downloads=False, CATALOG_ENABLED="false",
                           QBIT_USERNAME=USER, QBIT_PASSWORD=PASSWORD, QBIT_MAX_AUTH_FAIL_COUNT="3",
                           QBIT_BAN_DURATION_SECONDS="600",
                           ANIBRIDGE_TRUSTED_PROXIES=f"{PROXY}; 10.9.0.0/16") as h:
        yield h


def test_each_client_behind_a_trusted_proxy_has_its_own_ban(behind_proxy: Harness,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="anibridge")
    with peer(behind_proxy.base_url, PROXY) as proxy:
        # client 203.0.113.7 guesses passwords; the proxy appends its address
        assert [login(proxy, f"guess-{n}", "203.0.113.7") for n in range(3)] == ["200 Fails."] * 3
        assert login(proxy, PASSWORD, "203.0.113.7") == f"403 {BANNED}"
        # it cannot dodge the ban with an X-Forwarded-For of its own: the proxy appends the real address,
        # and the rightmost entry that is not a trusted proxy is the client (through a second proxy too)
        for forged in ("198.51.100.20, 203.0.113.7", "127.0.0.4, 203.0.113.7", "198.51.100.20, 203.0.113.7, 10.9.0.3"):
            assert login(proxy, PASSWORD, forged) == f"403 {BANNED}", forged
        # other clients behind the same proxy, and the proxy itself (no X-Forwarded-For), still log in
        assert login(proxy, PASSWORD, "198.51.100.20") == "200 Ok."
        assert login(proxy, PASSWORD, "198.51.100.21, 10.9.0.3") == "200 Ok."
        assert login(proxy, PASSWORD) == "200 Ok."
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("anibridge")]
    assert any("login failed" in m and "from 203.0.113.7" in m for m in warnings), warnings
    assert any("203.0.113.7 is banned" in m for m in warnings), warnings
    assert not any(PROXY in m or "ANIBRIDGE_TRUSTED_PROXIES" in m for m in warnings), warnings


def test_forwarded_for_from_an_untrusted_peer_is_ignored(behind_proxy: Harness, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="anibridge")
    with peer(behind_proxy.base_url, "127.0.0.5") as attacker:
        # a new forged client address with every guess: the peer's own address is what gets banned
        answers = [login(attacker, f"guess-{n}", f"192.0.2.{n}") for n in range(5)]
        assert answers == ["200 Fails."] * 3 + [f"403 {BANNED}"] * 2, answers
        assert login(attacker, PASSWORD, "198.51.100.30") == f"403 {BANNED}"
    assert not any("192.0.2." in r.getMessage() for r in caplog.records), "a forged address reached the log"
    # the ban's log line says how to fix it, should 127.0.0.5 be an unlisted proxy
    assert any("from 127.0.0.5" in m and "now banned" in m and "ANIBRIDGE_TRUSTED_PROXIES" in m
               for m in (r.getMessage() for r in caplog.records)), [r.getMessage() for r in caplog.records]
    # with no trusted proxies (the default) nobody is trusted, 127.0.0.1 included (uvicorn would trust it)
    with running_anibridge(tmp_path, downloads=False, CATALOG_ENABLED="false", QBIT_USERNAME=USER,
                           QBIT_PASSWORD=PASSWORD, QBIT_MAX_AUTH_FAIL_COUNT="2") as h, \
            peer(h.base_url, "127.0.0.1") as local:
        answers = [login(local, f"guess-{n}", f"192.0.2.{n}") for n in range(4)]
        assert answers == ["200 Fails."] * 2 + [f"403 {BANNED}"] * 2, answers


def _raw_get(sock: socket.socket, forwarded_for: str | None = None) -> bytes:
    extra = f"X-Forwarded-For: {forwarded_for}\r\n" if forwarded_for else ""
    sock.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Connection: close\r\n\r\n".encode())
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _connect(base: str, source: str) -> socket.socket:
    port = int(base.rsplit(":", 1)[1])
    return socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))


def test_a_trusted_proxy_is_not_held_to_the_per_client_connection_cap(tmp_path: Path) -> None:
    """The cap counts TCP connections per peer before any header is read: a proxy carrying many clients
    would be refused for all of them, so a trusted proxy is not counted; other peers still are. The
    header deadline holds for the proxy's connections too."""
    with running_anibridge(tmp_path, downloads=False, CATALOG_ENABLED="false", ANIBRIDGE_HEADER_TIMEOUT_SECONDS="1",
                           ANIBRIDGE_MAX_CONNECTIONS_PER_CLIENT="2", ANIBRIDGE_TRUSTED_PROXIES=PROXY) as h:
        proxied = [_connect(h.base_url, PROXY) for _ in range(6)]
        others = [_connect(h.base_url, "127.0.0.6") for _ in range(3)]
        try:
            answers = [_raw_get(s, f"198.51.100.{n}") for n, s in enumerate(proxied)]
            assert all(a.startswith(b"HTTP/1.1 200") for a in answers), [a[:40] for a in answers]
            # the third connection from the untrusted peer was refused at once
            assert _raw_get(others[2]).startswith(b"HTTP/1.1 503")
            assert all(_raw_get(s).startswith(b"HTTP/1.1 200") for s in others[:2])
            with _connect(h.base_url, PROXY) as slow:
                slow.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never the blank line
                started = time.monotonic()
                assert slow.recv(4096) == b"", "the server answered unfinished headers"
                assert time.monotonic() - started < 5
        finally:
            for s in proxied + others:
                s.close()


def test_x_forwarded_host_counts_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    """A browser at https://anibridge.example.com behind a proxy that rewrites Host: the proxy's
    X-Forwarded-Host makes the browser's Origin same-site; the same header from another peer does not."""
    magnet = build_magnet("aniworld.to", "real-show", 1, 1, "German Dub", "real-show.S01E01-ANIWORLD")
    headers = {"Origin": "https://anibridge.example.com", "X-Forwarded-Host": "anibridge.example.com"}
    with running_anibridge(tmp_path, downloads=False, CATALOG_ENABLED="false",
                           ANIBRIDGE_TRUSTED_PROXIES=PROXY) as h, \
            peer(h.base_url, PROXY) as proxy, peer(h.base_url, "127.0.0.7") as other:
        r = other.post(f"{API}/torrents/add", data={"urls": magnet}, headers=headers)
        assert r.status_code == 401 and "cross-site" in r.text, (r.status_code, r.text)
        assert other.get(f"{API}/torrents/info").json() == []
        r = proxy.post(f"{API}/torrents/add", data={"urls": magnet},
                       headers={**headers, "X-Forwarded-For": "198.51.100.40"})
        assert r.status_code == 200 and r.text == "Ok.", (r.status_code, r.text)
        assert len(proxy.get(f"{API}/torrents/info").json()) == 1


def test_trusted_proxies_setting_is_normalised() -> None:
    settings = load_settings({"ANIBRIDGE_TRUSTED_PROXIES": " 172.18.0.2; 10.1.2.3/8 ,::1,172.18.0.2 "})
    assert settings.trusted_proxies == ["172.18.0.2/32", "10.0.0.0/8", "::1/128"]
    assert load_settings({}).trusted_proxies == []
    # a dual-stack listener sees an IPv4 proxy as ::ffff:a.b.c.d
    trusted = TrustedProxies(settings.trusted_proxies)
    assert "::ffff:10.200.1.1" in trusted and "::ffff:172.18.0.2" in trusted and "::1" in trusted
    assert "172.18.0.3" not in trusted and "::ffff:172.18.0.3" not in trusted and "nginx" not in trusted
