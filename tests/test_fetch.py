"""The polite fetcher against a real loopback server that misbehaves on purpose."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import pytest

from anibridge.crawlers.fetch import ChallengeError, Fetcher, FetchError, NotFound, parse_retry_after

pytestmark = pytest.mark.timeout(60)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"<html>ok</html>"
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "text/html; charset=utf-8"),)
    kind: str = "http"  # http | close (FIN, no reply) | rst (RST, no reply) | truncate | hang
    delay: float = 0.0


CLOSE = Reply(kind="close")
RST = Reply(kind="rst")
TRUNCATE = Reply(kind="truncate", body=b"<html>only the first part")
HANG = Reply(kind="hang")
TURNSTILE = (b"<html><head><title>Just a moment...</title></head><body>"
             b"<div class='cf-turnstile' data-sitekey='x'></div>"
             b"<script src='/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1'></script></body></html>")


DDOS_GUARD = (b"<html><head><title>DDoS-Guard</title></head><body>Checking your browser"
              b"<script src='/.well-known/ddos-guard/check?context=free_splash'></script></body></html>")
CAPTCHA = (b"<html><body><p>Bitte l\xc3\xb6se das Captcha, um fortzufahren.</p><form id='captcha-form'></form>"
           b"<div class='cf-turnstile'></div></body></html>")


@dataclass
class World:
    """Answers each path with its scripted replies in turn; the last one repeats."""

    routes: dict[str, list[Reply]]
    hits: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    in_flight: int = 0
    max_in_flight: int = 0
    port: int = 0

    def url(self, prefix: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{prefix}"

    def next_reply(self, path: str) -> Reply:
        script = self.routes.get(path, [Reply(404, b"not here")])
        return script[min(len(self.hits[path]) - 1, len(script) - 1)]


async def _handle(world: World, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            path = head.split(b" ", 2)[1].decode()
            world.hits[path].append(time.monotonic())
            reply = world.next_reply(path)
            world.in_flight += 1
            world.max_in_flight = max(world.max_in_flight, world.in_flight)
            try:
                if not await _answer(reply, writer, reader):
                    return
            finally:
                world.in_flight -= 1
    finally:
        writer.close()


async def _answer(reply: Reply, writer: asyncio.StreamWriter, reader: asyncio.StreamReader) -> bool:
    """Send one reply; False when the connection must end."""
    if reply.delay:
        await asyncio.sleep(reply.delay)
    if reply.kind == "close":
        return False
    if reply.kind == "rst":
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        return False
    if reply.kind == "hang":
        await reader.read()  # until the client gives up and closes
        return False
    length = len(reply.body) + (1000 if reply.kind == "truncate" else 0)
    lines = [f"HTTP/1.1 {reply.status} X", f"Content-Length: {length}", "Connection: keep-alive",
             *(f"{k}: {v}" for k, v in reply.headers)]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + reply.body)
    await writer.drain()
    return reply.kind == "http"


@asynccontextmanager
async def serve(routes: dict[str, list[Reply]]) -> AsyncIterator[World]:
    world = World(routes)
    tasks: set[asyncio.Task[None]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await _handle(world, reader, writer)
        finally:
            tasks.discard(task)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    world.port = server.sockets[0].getsockname()[1]
    try:
        yield world
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


def fast(world: World, prefix: str = "", **kwargs: Any) -> Fetcher:
    options: dict[str, Any] = {"backoff_base": 0.01, "backoff_cap": 0.05, "challenge_backoff_base": 0.05,
                                 "max_retries": 4, "read_timeout": 5.0, **kwargs}
    return Fetcher(world.url(prefix), **options)


def run(routes: dict[str, list[Reply]], scenario: Callable[[World], Awaitable[None]]) -> None:
    async def main() -> None:
        async with serve(routes) as world:
            await scenario(world)

    asyncio.run(main())


# --- success paths ------------------------------------------------------------------------------
def test_get_appends_path_to_a_base_url_with_a_prefix() -> None:
    async def scenario(world: World) -> None:
        async with fast(world, "/aniworld/") as f:
            page = await f.get("/animes-alphabet")
            assert (page.status, page.text, page.attempts) == (200, "<html>ok</html>", 1)
            assert page.url == world.url("/aniworld/animes-alphabet")
            assert page.elapsed > 0
            assert (await f.get(world.url("/aniworld/animes-alphabet"))).status == 200  # absolute URL
            assert f.counters() == {"requests": 2, "retries": 0, "failures": 0, "not_found": 0,
                                    "bytes": 2 * len(b"<html>ok</html>")}

    run({"/aniworld/animes-alphabet": [Reply()]}, scenario)


def test_concurrency_is_bounded_per_site() -> None:
    async def scenario(world: World) -> None:
        async with fast(world, concurrency=2) as f:
            pages = await asyncio.gather(*(f.get("/slow") for _ in range(6)))
        assert all(p.status == 200 for p in pages)
        assert world.max_in_flight == 2

    run({"/slow": [Reply(delay=0.05)]}, scenario)


@pytest.mark.parametrize(("content_type", "body", "expected"), [
    ("text/html; charset=utf-8", "Grüße".encode("latin-1"), "Gr\ufffd\ufffde"),  # lies about its charset
    ("text/html; charset=iso-8859-1", "Grüße".encode("latin-1"), "Grüße"),
    ("text/html; charset=x-bogus-42", "Grüße".encode(), "Grüße"),
    ("text/html", '<meta charset="windows-1252">Grüße'.encode("cp1252"),
     '<meta charset="windows-1252">Grüße'),
    ("text/html", "Grüße".encode(), "Grüße"),
])
def test_text_is_decoded_without_ever_raising(content_type: str, body: bytes, expected: str) -> None:
    async def scenario(world: World) -> None:
        async with fast(world) as f:
            assert (await f.get("/page")).text == expected

    run({"/page": [Reply(body=body, headers=(("Content-Type", content_type),))]}, scenario)


# --- retried failures ---------------------------------------------------------------------------
def test_503_then_200_is_retried() -> None:
    async def scenario(world: World) -> None:
        async with fast(world) as f:
            page = await f.get("/flaky")
            assert (page.status, page.attempts) == (200, 3)
            assert (f.requests, f.retries, f.failures) == (3, 2, 0)

    run({"/flaky": [Reply(503, b"busy"), Reply(502, b"bad gateway"), Reply()]}, scenario)


def test_5xx_forever_says_how_often_it_tried() -> None:
    async def scenario(world: World) -> None:
        async with fast(world) as f:
            with pytest.raises(FetchError) as info:
                await f.get("/down")
            assert str(info.value) == f"{world.url('/down')}: HTTP 503 after 5 attempts"
            assert (info.value.status, info.value.attempts) == (503, 5)
            assert (f.requests, f.retries, f.failures) == (5, 4, 1)
        assert len(world.hits["/down"]) == 5

    run({"/down": [Reply(503, b"busy")]}, scenario)


def test_429_honours_retry_after_seconds() -> None:
    async def scenario(world: World) -> None:
        async with fast(world) as f:
            assert (await f.get("/limited")).status == 200
        first, second = world.hits["/limited"]
        assert second - first >= 0.28

    run({"/limited": [Reply(429, b"slow down", (("Retry-After", "0.3"),)), Reply()]}, scenario)


def test_429_retry_after_is_capped() -> None:
    async def scenario(world: World) -> None:
        started = time.monotonic()
        async with fast(world, retry_after_max=0.1) as f:
            assert (await f.get("/limited")).status == 200
        assert time.monotonic() - started < 2
        first, second = world.hits["/limited"]
        assert second - first >= 0.09

    run({"/limited": [Reply(429, b"", (("Retry-After", "3600"),)), Reply()]}, scenario)


def test_429_pauses_the_whole_site() -> None:
    async def scenario(world: World) -> None:
        async with fast(world) as f:
            first = asyncio.create_task(f.get("/a"))
            while not world.hits["/a"]:
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.02)  # the 429 has arrived; now another page of the same site
            assert (await f.get("/b")).status == 200
            assert (await first).status == 200
        assert world.hits["/b"][0] - world.hits["/a"][0] >= 0.35

    run({"/a": [Reply(429, b"", (("Retry-After", "0.4"),)), Reply()], "/b": [Reply()]}, scenario)


def test_retry_after_http_date() -> None:
    now = time.time()
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now=now) == 0
    assert parse_retry_after("7") == 7
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_challenge_page_gets_a_longer_backoff_then_succeeds() -> None:
    async def scenario(world: World) -> None:
        async with fast(world, challenge_backoff_base=0.3) as f:
            page = await f.get("/episode")
            assert (page.status, f.retries) == (200, 1)
        first, second = world.hits["/episode"]
        assert second - first >= 0.14  # at least half the challenge backoff, never the tiny normal one

    run({"/episode": [Reply(403, TURNSTILE), Reply()]}, scenario)


def test_challenge_forever_names_it() -> None:
    async def scenario(world: World) -> None:
        async with fast(world, max_retries=2, challenge_backoff_base=0.02) as f:
            with pytest.raises(FetchError, match=r"challenge page \(Cloudflare Turnstile\); gave up after 3"):
                await f.get("/turnstile")
            with pytest.raises(FetchError, match=r"challenge page \(Cloudflare challenge\)"):
                await f.get("/moment")

    run({"/turnstile": [Reply(403, TURNSTILE)],
         "/moment": [Reply(503, b"<title>Just a moment...</title>")]}, scenario)


def test_ddos_guard_403_is_a_challenge_backed_off_and_noted() -> None:
    async def scenario(world: World) -> None:
        async with fast(world, challenge_backoff_base=0.3) as f:
            page = await f.get("/serien")
            assert (page.status, f.retries) == (200, 1)
            assert f.challenges == [("DDoS-Guard", world.url("/serien"))]
            with pytest.raises(FetchError, match=r"challenge page \(DDoS-Guard\)"):
                await f.get("/cookie-only")
        first, second = world.hits["/serien"][:2]
        assert second - first >= 0.14

    run({"/serien": [Reply(403, DDOS_GUARD), Reply()],
         "/cookie-only": [Reply(403, b"<html>403</html>", (("Set-Cookie", "__ddg2_=abc; Path=/"),))]}, scenario)


@pytest.mark.parametrize(("body", "kind"), [(CAPTCHA, "captcha page"),
                                            (b"<h1>Stream wird vorbereitet</h1>",
                                             "'Stream wird vorbereitet' page")])
def test_play_url_answering_200_with_a_challenge_is_no_missing_redirect(body: bytes, kind: str) -> None:
    async def scenario(world: World) -> None:
        async with fast(world) as f:
            with pytest.raises(ChallengeError) as caught:
                await f.follow_redirect_location("/r?t=abc")
            assert caught.value.kind == kind
            assert "expected a redirect" not in str(caught.value)
            assert f.challenges == [(kind, world.url("/r?t=abc"))]
            assert f.retries == 0  # the next hoster is the way out, not the same URL again

    run({"/r?t=abc": [Reply(200, body)]}, scenario)


def test_unreachable_or_blocked_base_gives_way_to_the_next_host_name() -> None:
    async def scenario(world: World) -> None:
        with socket.socket() as sock:  # a port nothing listens on
            sock.bind(("127.0.0.1", 0))
            closed = f"http://127.0.0.1:{sock.getsockname()[1]}/sto"
        blocked, working = world.url("/blocked"), world.url("/sto")
        async with Fetcher(closed, fallback_base_urls=[blocked, working], challenge_backoff_base=30,
                           backoff_base=0.01) as f:
            started = time.monotonic()
            page = await f.get("/serien")
            assert time.monotonic() - started < 5  # no back-off: the next name at once
            assert page.url == working + "/serien"
            assert f.base_url == working and f.url_for("/x") == working + "/x"
            assert [(old, new) for old, new, _ in f.host_changes] == [(closed, blocked), (blocked, working)]
            assert "could not connect" in f.host_changes[0][2]
            assert f.host_changes[1][2] == "challenge page (DDoS-Guard)"
            assert f.challenges == [("DDoS-Guard", blocked + "/serien")]
            assert (await f.get("/serien")).status == 200
        assert len(world.hits["/blocked/serien"]) == 1

    run({"/blocked/serien": [Reply(403, DDOS_GUARD)], "/sto/serien": [Reply()]}, scenario)


@pytest.mark.parametrize("reply", [CLOSE, RST], ids=["closed", "reset"])
def test_connection_reset_is_retried(reply: Reply) -> None:
    async def scenario(world: World) -> None:
        async with fast(world, max_retries=2) as f:
            assert (await f.get("/once")).status == 200
            with pytest.raises(FetchError, match="connection reset.*gave up after 3 attempts"):
                await f.get("/always")
            assert (f.retries, f.failures) == (3, 1)
        assert (len(world.hits["/once"]), len(world.hits["/always"])) == (2, 3)

    run({"/once": [reply, Reply()], "/always": [reply]}, scenario)


def test_truncated_body_is_retried() -> None:
    async def scenario(world: World) -> None:
        async with fast(world, max_retries=1) as f:
            assert (await f.get("/once")).text == "<html>ok</html>"
            with pytest.raises(FetchError, match="truncated body"):
                await f.get("/always")
        assert (len(world.hits["/once"]), len(world.hits["/always"])) == (2, 2)

    run({"/once": [TRUNCATE, Reply()], "/always": [TRUNCATE]}, scenario)


def test_hanging_response_times_out() -> None:
    async def scenario(world: World) -> None:
        async with fast(world, max_retries=1, read_timeout=0.2) as f:
            with pytest.raises(FetchError, match=r"timed out after 0\.2 s; gave up after 2 attempts"):
                await f.get("/hang")
        assert len(world.hits["/hang"]) == 2

    run({"/hang": [HANG]}, scenario)


def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused

        async def main() -> None:
            async with Fetcher(f"http://127.0.0.1:{port}", max_retries=1, backoff_base=0.01) as f:
                with pytest.raises(FetchError, match="could not connect.*2 attempts"):
                    await f.get("/")

        asyncio.run(main())


# --- not retried ----------------------------------------------------------------------------------
def test_404_is_not_retried() -> None:
    async def scenario(world: World) -> None:
        async with fast(world) as f:
            with pytest.raises(NotFound, match="HTTP 404 not found") as info:
                await f.get("/anime/stream/gone")
            assert info.value.status == 404
            assert f.counters() | {"bytes": 0} == {"requests": 1, "retries": 0, "failures": 0,
                                                   "not_found": 1, "bytes": 0}
        assert len(world.hits["/anime/stream/gone"]) == 1

    run({}, scenario)


def test_other_4xx_fails_at_once() -> None:
    async def scenario(world: World) -> None:
        async with fast(world) as f:
            with pytest.raises(FetchError, match="HTTP 403$"):
                await f.get("/forbidden")
            assert (f.retries, f.failures) == (0, 1)

    run({"/forbidden": [Reply(403, b"<html>Zugriff verweigert</html>")]}, scenario)


# --- redirects ----------------------------------------------------------------------------------
def test_follow_redirect_location() -> None:
    async def scenario(world: World) -> None:
        async with fast(world, "/aniworld") as f:
            assert await f.follow_redirect_location("/redirect/1") == "https://voe.sx/e/abc"
            assert await f.follow_redirect_location("/redirect/2") == world.url("/embed/2")
            assert f.retries == 1
            with pytest.raises(FetchError, match="expected a redirect, got HTTP 200"):
                await f.follow_redirect_location("/redirect/3")
            with pytest.raises(NotFound):
                await f.follow_redirect_location("/redirect/4")

    run({"/aniworld/redirect/1": [Reply(302, b"", (("Location", "https://voe.sx/e/abc"),))],
         "/aniworld/redirect/2": [Reply(503, b""), Reply(301, b"", (("Location", "/embed/2"),))],
         "/aniworld/redirect/3": [Reply()]}, scenario)


def test_get_follows_redirects() -> None:
    async def scenario(world: World) -> None:
        async with fast(world) as f:
            page = await f.get("/old")
            assert (page.url, page.text) == (world.url("/new"), "<html>ok</html>")

    run({"/old": [Reply(301, b"", (("Location", "/new"),))], "/new": [Reply()]}, scenario)
