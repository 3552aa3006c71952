"""Hostile stand-ins on loopback, for tests and ``bench/hostile.py``.

``HostileWorld`` is an AniWorld-shaped provider whose every episode (chosen by slug) is one attack:
its hoster redirect, embed page, media URL, 30x hop or HLS segments point at a "LAN" server (a
second loopback address, 127.0.0.2, standing in for a router, a NAS or 169.254.169.254), or it
drips bytes, streams zeros without end, or answers a gzip bomb. It also serves a SkyHook whose
answers have the wrong field types. The LAN server counts every request that reaches it: a
request counted there is a request AniBridge should never have made.

Run it with ``running_hostile()``; point AniBridge at ``world.aniworld`` / ``world.skyhook`` with
``DOWNLOAD_ALLOWED_HOSTS=127.0.0.1`` (the hostile provider itself is allowed, the LAN server is not).
"""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from anibridge.devworld.hosts import media

LAN_HOST = "127.0.0.2"
MIB = 1024 * 1024

# slug -> what its episode does; a test or the bench picks attacks by slug.
SSRF_ATTACKS = {
    "ssrf-redirect": "the hoster redirect points straight at a LAN media URL",
    "ssrf-embed": "the embed page is on the LAN",
    "ssrf-media": "the embed page names a LAN media URL",
    "ssrf-hop-page": "a 302 hop sends the embed page request to the LAN",
    "ssrf-hop-media": "a 302 hop sends the media request to the LAN",
    "ssrf-hls": "the HLS playlist's segments are on the LAN",
    "ssrf-zero": "the media URL is 0.0.0.0 (reaches this machine)",
    "ssrf-metadata": "the media URL is the cloud metadata address 169.254.169.254",
    "ssrf-private": "the media URL is a private address (10.0.0.1)",
}
RESOURCE_ATTACKS = {
    "drip-page": "the episode page drips one byte every 0.5 s",
    "endless-page": "the episode page never ends (64 MiB, no length)",
    "bomb-page": "the episode page is a gzip bomb (200 MiB of spaces in 200 KiB)",
    "drip-media": "the media drips one byte every 0.5 s",
    "zeros-media": "the media is 64 MiB of zeros without a length",
    "bomb-embed": "the embed page is a gzip bomb",
}
CRAWL_ATTACK = "the title list (/animes-alphabet) is a gzip bomb (200 MiB of spaces in 200 KiB)"


@dataclass
class Hits:
    """Requests that reached the LAN stand-in (thread-safe counter)."""

    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, path: str) -> None:
        with self.lock:
            self.paths.append(path)

    def count(self) -> int:
        with self.lock:
            return len(self.paths)


def _episode_page(slug: str) -> str:
    item = (f'<li class="episodeLink1" data-lang-key="1" data-link-id="1" data-link-target="/redirect/{slug}"'
            f' data-external-embed="false"><div><a class="watchEpisode" href="/redirect/{slug}">'
            '<i class="icon VOE" title="Hoster VOE"></i><h4>VOE</h4></a></div></li>')
    return (f'<!DOCTYPE html><html><head><title>{slug} | AniWorld</title></head><body>'
            f'<div class="series-title"><h1><span>{slug}</span></h1></div>'
            '<div class="hosterSiteTitle" data-season="1" data-episode="1"><h2>Episode 1</h2></div>'
            '<div class="changeLanguageBox"><img data-lang-key="1" src="/public/img/german.svg" title="Deutsch"></div>'
            f'<div class="hosterSiteVideo"><ul class="row">{item}</ul></div></body></html>')


def _embed(source: str) -> str:
    return f'<!DOCTYPE html><html><body><video><source src="{source}" type="video/mp4"></video></body></html>'


@lru_cache(maxsize=2)
def _bomb(size: int) -> bytes:
    return gzip.compress(b" " * size, compresslevel=9)


async def _drip(first: bytes, interval: float, limit: float = 600.0) -> AsyncIterator[bytes]:
    yield first
    started = time.monotonic()
    while time.monotonic() - started < limit:
        await asyncio.sleep(interval)
        yield b" "


async def _stream(chunk: bytes, total: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield chunk
        sent += len(chunk)
        await asyncio.sleep(0)


def _lan_app(hits: Hits) -> Starlette:
    async def anything(request: Request) -> Response:
        hits.add(request.url.path)
        path = request.url.path
        if path.endswith(".m3u8"):
            return Response(media("master.m3u8"), media_type="application/vnd.apple.mpegurl")
        if path.endswith(".ts"):
            return Response(media("seg0.ts"), media_type="video/mp2t")
        if path.startswith("/embed"):
            return HTMLResponse(_embed(f"http://{LAN_HOST}:{request.url.port}/secret.mp4"))
        return Response(media("sample.mp4"), media_type="video/mp4")

    return Starlette(routes=[Route("/{path:path}", anything, methods=["GET", "HEAD"])])


def _provider_app(state: HostileWorld) -> Starlette:
    def me(request: Request) -> str:
        return f"http://127.0.0.1:{request.url.port}"

    async def episode(request: Request) -> Response:
        slug = request.path_params["slug"]
        if slug == "drip-page":
            return StreamingResponse(_drip(b"<!DOCTYPE html><html><body>", 0.5), media_type="text/html")
        if slug == "endless-page":
            return StreamingResponse(_stream(b"<p>" + b"a" * 65533 + b"</p>", 64 * MIB), media_type="text/html")
        if slug == "bomb-page":
            return Response(_bomb(200 * MIB), media_type="text/html", headers={"Content-Encoding": "gzip"})
        return HTMLResponse(_episode_page(slug))

    async def title_list(request: Request) -> Response:  # what a crawl of this provider meets first
        return Response(_bomb(200 * MIB), media_type="text/html", headers={"Content-Encoding": "gzip"})

    async def redirect(request: Request) -> Response:
        slug = request.path_params["slug"]
        lan = state.lan
        target = {
            "ssrf-redirect": f"{lan}/secret.mp4",
            "ssrf-embed": f"{lan}/embed/1",
            "ssrf-hop-page": f"{me(request)}/hop/page",
        }.get(slug, f"{me(request)}/e/{slug}")
        return RedirectResponse(target, status_code=302)

    async def embed(request: Request) -> Response:
        slug = request.path_params["slug"]
        base = me(request)
        source = {
            "ssrf-media": f"{state.lan}/secret.mp4",
            "ssrf-hop-media": f"{base}/hop/media.mp4",
            "ssrf-hls": f"{base}/hls/master.m3u8",
            "ssrf-zero": f"http://0.0.0.0:{request.url.port}/secret.mp4",
            "ssrf-metadata": "http://169.254.169.254/latest/meta-data/video.mp4",
            "ssrf-private": "http://10.0.0.1/video.mp4",
            "drip-media": f"{base}/media/drip.mp4",
            "zeros-media": f"{base}/media/zeros.mp4",
        }.get(slug, f"{base}/media/sample.mp4")
        if slug == "bomb-embed":
            return Response(_bomb(200 * MIB), media_type="text/html", headers={"Content-Encoding": "gzip"})
        return HTMLResponse(_embed(source))

    async def hop(request: Request) -> Response:
        kind = request.path_params["kind"]
        return RedirectResponse(f"{state.lan}/embed/2" if kind == "page" else f"{state.lan}/secret.mp4", 302)

    async def hls(request: Request) -> Response:
        body = "\n".join(["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:1", "#EXT-X-MEDIA-SEQUENCE:0",
                          "#EXT-X-PLAYLIST-TYPE:VOD", "#EXTINF:1.0,", f"{state.lan}/seg0.ts", "#EXTINF:1.0,",
                          f"{state.lan}/seg1.ts", "#EXT-X-ENDLIST", ""])
        return Response(body, media_type="application/vnd.apple.mpegurl")

    async def media_file(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "drip.mp4":
            return StreamingResponse(_drip(media("sample.mp4")[:1024], 0.5), media_type="video/mp4")
        if name == "zeros.mp4":
            return StreamingResponse(_stream(b"\0" * MIB, 64 * MIB), media_type="video/mp4")
        return Response(media("sample.mp4"), media_type="video/mp4")

    async def secret(request: Request) -> Response:  # reached only through 0.0.0.0
        state.hits.add("0.0.0.0" + request.url.path)
        return Response(media("sample.mp4"), media_type="video/mp4")

    async def sky_search(request: Request) -> Response:
        term = request.query_params.get("term", "")
        return JSONResponse([{"tvdbId": 4242, "title": term, "year": 2020, "alternateTitles": [term]}])

    async def sky_show(request: Request) -> Response:
        # The shape SkyHook has, with the wrong types inside: episodes as plain numbers.
        return JSONResponse({"tvdbId": int(request.path_params["tvdb"]), "title": "Hostile Show",
                             "episodes": [1, 2, 3], "alternateTitles": "not a list"})

    return Starlette(routes=[
        Route("/animes-alphabet", title_list),
        Route("/anime/stream/{slug}/staffel-{season}/episode-{episode}", episode),
        Route("/redirect/{slug}", redirect),
        Route("/e/{slug}", embed),
        Route("/hop/{kind}", hop),
        Route("/hls/master.m3u8", hls),
        Route("/media/{name}", media_file, methods=["GET", "HEAD"]),
        Route("/secret.mp4", secret, methods=["GET", "HEAD"]),
        Route("/skyhook/v1/tvdb/search/en/", sky_search),
        Route("/skyhook/v1/tvdb/shows/en/{tvdb}", sky_show),
        Route("/{path:path}", lambda r: PlainTextResponse("not found", 404)),
    ])


@dataclass
class HostileWorld:
    base: str = ""
    lan: str = ""
    hits: Hits = field(default_factory=Hits)

    @property
    def aniworld(self) -> str:
        return self.base

    @property
    def skyhook(self) -> str:
        return f"{self.base}/skyhook"

    def env(self) -> dict[str, str]:
        """Settings pointing AniBridge at the hostile provider (allowed) but not at the LAN stand-in."""
        return {"ANIWORLD_BASE_URL": self.aniworld, "SKYHOOK_BASE_URL": self.skyhook,
                "DOWNLOAD_ALLOWED_HOSTS": "127.0.0.1"}


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        pass


@contextmanager
def _serve(app: Starlette, host: str) -> Iterator[str]:
    config = uvicorn.Config(app, host=host, port=0, log_level="error", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=1, loop="asyncio", http="h11")
    server = _Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), name=f"hostile-{host}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"hostile stand-in on {host} did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def running_hostile() -> Iterator[HostileWorld]:
    world = HostileWorld()
    with _serve(_lan_app(world.hits), LAN_HOST) as lan:
        world.lan = lan
        with _serve(_provider_app(world), "127.0.0.1") as base:
            world.base = base
            yield world
