"""Host extractors on pages shaped like the live video hosts (``../shared/real-pages/hosts``).

Skipped when that folder is absent (a checkout without the shared evidence)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from anibridge.downloads.hosts import extract_filemoon, extract_voe, resolve_direct_link, voe_redirect
from anibridge.testing import serve_asgi

HOSTS = Path(__file__).resolve().parents[1] / ".." / "shared" / "real-pages" / "hosts"
pytestmark = pytest.mark.skipif(not HOSTS.is_dir(), reason="../shared/real-pages/hosts is not here")


def page(name: str) -> str:
    return (HOSTS / name).read_text(encoding="utf-8")


def test_voe_encoded_page_yields_the_hls_source() -> None:
    link = extract_voe(page("voe-embed-encoded.html"), "https://voe.sx/e/32xqoasasgio")
    assert link is not None and link.kind == "hls" and link.host == "VOE"
    assert link.url.startswith("https://cdn-ezqdvwzxl1cdhyby.edgeon-bandwidth.com/engine/hls2-c/01/12274/")
    assert "/32xqoasasgio_,n,.urlset/master.m3u8?t=AyZvb2TAsfUJ&s=1769786403&e=14400" in link.url


def test_voe_interstitial_names_the_mirror() -> None:
    html = page("voe-redirect-interstitial.html")
    assert extract_voe(html, "https://voe.sx/e/abc123") is None
    assert voe_redirect(html, "https://voe.sx/e/abc123") == "https://mirror.example/e/abc123"


def test_filemoon_packed_page_yields_the_hls_source() -> None:
    link = extract_filemoon(page("filemoon-embed-packed.html"), "https://filemoon.sx/e/ek1ehbbs0ljs")
    assert link is not None and link.kind == "hls" and link.host == "Filemoon"
    assert link.url == ("https://be7713.rcr82.waw05.i8yz83pn.com/hls2/01/09412/ek1ehbbs0ljs_o/master.m3u8"
                        "?t=Q0KkZjC&s=1769790000&e=10800&f=47062891&i=0.0&sp=0")


@pytest.fixture(scope="module")
def replay() -> Iterator[str]:
    """The real pages served on loopback, with their absolute URLs pointed at this server: the
    interstitial sends the client on to the encoded page, as a live VOE mirror would."""

    async def interstitial(request: Request) -> Response:
        target = f"{request.base_url}mirror/e/abc123"
        return HTMLResponse(page("voe-redirect-interstitial.html").replace("https://mirror.example/e/abc123", target))

    async def mirror(request: Request) -> Response:
        return HTMLResponse(page("voe-embed-encoded.html"))

    async def filemoon(request: Request) -> Response:
        return HTMLResponse(page("filemoon-embed-packed.html"))

    app = Starlette(routes=[Route("/e/abc123", interstitial), Route("/mirror/e/abc123", mirror),
                            Route("/fm/e/ek1ehbbs0ljs", filemoon)])
    with serve_asgi(app) as base:
        yield base


async def _resolve(url: str, host: str) -> tuple[str, str, str]:
    async with httpx.AsyncClient() as client:
        link = await resolve_direct_link(client, url, host, 5.0)
    return link.url, link.headers["Referer"], link.host


def test_voe_interstitial_then_encoded_page_over_http(replay: str) -> None:
    url, referer, host = asyncio.run(_resolve(f"{replay}/e/abc123", "VOE"))
    assert url.startswith("https://cdn-ezqdvwzxl1cdhyby.edgeon-bandwidth.com/") and url.split("?")[0].endswith(
        "master.m3u8")
    assert (referer, host) == (f"{replay}/mirror/e/abc123", "VOE")


def test_filemoon_packed_page_over_http(replay: str) -> None:
    url, _, host = asyncio.run(_resolve(f"{replay}/fm/e/ek1ehbbs0ljs", "Filemoon"))
    assert host == "Filemoon" and url.startswith("https://be7713.rcr82.waw05.i8yz83pn.com/hls2/")
