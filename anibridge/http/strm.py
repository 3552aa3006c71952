"""STRM proxy endpoints (STRM_PROXY_MODE=proxy).

``GET|HEAD /strm/stream?site&slug&s&e&lang[&provider]`` - the stable URL in a ``.strm`` file: look up
the host's current direct link (cached, see ``strm/links.py``), and stream it, passing the player's
``Range`` through. A link the host no longer honours (403/404/410/429/451, or no answer) is looked up
once more and retried.
``GET|HEAD /strm/proxy/<name>?u=<upstream>`` - one playlist, segment or key, by a signed, expiring URL
that a rewritten playlist handed out.

Playlists are rewritten so every URI in them comes back through ``/strm/proxy``; everything else is
streamed chunk by chunk as the player reads it (memory per stream is one chunk, not the file).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from ..downloads.resolve import EpisodeRef, ResolveError
from ..netguard import GuardedTransport
from ..runtime import Runtime
from ..strm import hls
from ..strm.auth import AuthError, signer_of
from ..strm.upstream import UpstreamFailed, UpstreamRefused, connection_policy, open_upstream
from ..strm.urls import IdentityError, parse_identity, proxy_url

log = logging.getLogger("anibridge.strm")
router = APIRouter(tags=["strm"])

MAX_PLAYLIST_BYTES = 4 * 1024 * 1024
REFRESH_STATUSES = frozenset({403, 404, 410, 429, 451})
PASSED_HEADERS = ("content-type", "content-length", "content-range", "accept-ranges", "etag", "last-modified")
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _client(request: Request) -> httpx.AsyncClient:
    state = request.app.state
    client: httpx.AsyncClient | None = getattr(state, "strm_client", None)
    if client is None or client.is_closed:
        settings = request.app.state.runtime.settings
        policy = connection_policy(settings.address_policy, settings.strm_allowlist)
        limits = httpx.Limits(max_connections=512, max_keepalive_connections=64)
        client = httpx.AsyncClient(transport=GuardedTransport(policy, limits=limits), trust_env=False,
                                   timeout=httpx.Timeout(60.0, connect=10.0, pool=30.0))
        state.strm_client = client
    return client


async def close_client(app: object) -> None:
    """Close the upstream connection pool (app shutdown)."""
    client: httpx.AsyncClient | None = getattr(getattr(app, "state", None), "strm_client", None)
    if client is not None:
        await client.aclose()


def _upstream_headers(request: Request, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    headers = {"Accept-Encoding": "identity"}  # bytes pass through untouched; lengths stay right
    headers.update(extra or {})
    if "range" in request.headers:
        headers["Range"] = request.headers["range"]
    if "user-agent" not in {k.lower() for k in headers} and "user-agent" in request.headers:
        headers["User-Agent"] = request.headers["user-agent"]
    return headers


def _guard(request: Request, *, require_expiry: bool) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    settings = runtime.settings
    if settings.strm_proxy_mode != "proxy":
        raise _Refused(404, "the STRM proxy is off (STRM_PROXY_MODE=direct)")
    try:
        signer_of(settings).check(request.query_params, require_expiry=require_expiry)
    except AuthError as exc:
        log.warning("STRM %s refused: %s", request.url.path, exc)
        raise _Refused(401, str(exc)) from None
    return runtime


async def strm_stream(request: Request) -> Response:
    try:
        runtime = _guard(request, require_expiry=False)
        identity = parse_identity(request.query_params)
        response, url = await _open_stream(request, runtime, identity)
    except _Refused as exc:
        return PlainTextResponse(exc.message, status_code=exc.status)
    except IdentityError as exc:
        return PlainTextResponse(str(exc), status_code=400)
    return await _answer(request, runtime, response, url)


async def strm_proxy(request: Request, name: str = "") -> Response:
    try:
        runtime = _guard(request, require_expiry=True)
        upstream = request.query_params.get("u", "")
        if not upstream:
            return PlainTextResponse("missing u (the upstream URL)", status_code=400)
        response, url = await _open(request, runtime, upstream, _upstream_headers(request))
    except _Refused as exc:
        return PlainTextResponse(exc.message, status_code=exc.status)
    return await _answer(request, runtime, response, url)


# One operation id per path and method (a shared GET/HEAD route gives OpenAPI duplicates); HEAD undocumented.
for _path, _endpoint in (("/strm/stream", strm_stream), ("/strm/proxy", strm_proxy),
                         ("/strm/proxy/{name:path}", strm_proxy)):
    _id = "strm_" + _path.strip("/").replace("/", "_").replace("{name:path}", "name")
    router.add_api_route(_path, _endpoint, methods=["GET"], operation_id=f"{_id}_get")
    router.add_api_route(_path, _endpoint, methods=["HEAD"], operation_id=f"{_id}_head", include_in_schema=False)


async def _open(request: Request, runtime: Runtime, url: str,
                headers: Mapping[str, str]) -> tuple[httpx.Response, str]:
    try:
        return await open_upstream(_client(request), request.method, url, headers,
                                   runtime.settings.strm_allowlist)
    except UpstreamRefused as exc:
        log.warning("STRM proxy refused an upstream: %s", exc)
        raise _Refused(403, f"upstream refused: {exc}") from None
    except UpstreamFailed as exc:
        raise _Refused(502, f"upstream failed: {exc}") from None


async def _open_stream(request: Request, runtime: Runtime,
                       identity: EpisodeRef) -> tuple[httpx.Response, str]:
    """The stream's upstream response; a link the host refuses is looked up again, once."""
    cache = runtime.strm_links
    for attempt in (1, 2):
        try:
            link = await cache.resolve(identity, runtime.settings, runtime.catalog, fresh=attempt == 2)
        except ResolveError as exc:
            log.warning("STRM %s: no playable link: %s", identity.describe(), exc.reason)
            raise _Refused(502, f"no playable link for {identity.describe()}: {exc.reason}") from None
        try:
            response, url = await _open(request, runtime, link.url, _upstream_headers(request, link.headers))
        except _Refused as exc:
            if exc.status != 502 or attempt == 2:
                raise
            log.info("STRM %s: %s; looking the link up again", identity.describe(), exc.message)
            cache.forget(identity)
            continue
        if response.status_code in REFRESH_STATUSES and attempt == 1:
            await response.aclose()
            log.info("STRM %s: the host answered %d; looking the link up again", identity.describe(),
                     response.status_code)
            cache.forget(identity)
            continue
        return response, url
    raise AssertionError("unreachable")


async def _answer(request: Request, runtime: Runtime, response: httpx.Response, url: str) -> Response:
    headers = {k: response.headers[k] for k in PASSED_HEADERS if k in response.headers}
    playlist = hls.is_playlist(urlsplit(url).path, response.headers.get("content-type", ""))
    if request.method == "HEAD":
        await response.aclose()
        if playlist:
            headers.pop("content-length", None)
            headers["content-type"] = PLAYLIST_TYPE
        return Response(b"", status_code=response.status_code, headers=headers)
    if playlist and response.status_code == 200:
        return await _playlist(runtime, response, url, headers)
    headers.setdefault("content-type", "application/octet-stream")
    return UpstreamStream(response, headers)


async def _playlist(runtime: Runtime, response: httpx.Response, url: str, headers: dict[str, str]) -> Response:
    body = bytearray()
    try:
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > MAX_PLAYLIST_BYTES:
                return PlainTextResponse("upstream playlist is too large", status_code=502)
    except httpx.HTTPError as exc:
        return PlainTextResponse(f"upstream failed while sending the playlist: {type(exc).__name__}",
                                 status_code=502)
    finally:
        await response.aclose()
    text = body.decode(response.encoding or "utf-8", errors="replace")
    settings = runtime.settings
    signer = signer_of(settings)
    # A VOD playlist is read once and played to its end: its segment URLs live as long as it plays.
    extra = hls.duration(text)
    rewritten = hls.rewrite(text, url, lambda u: proxy_url(settings.strm_public_base_url, signer, u, extra))
    out = rewritten.encode()
    headers = {k: v for k, v in headers.items() if k in ("etag", "last-modified")}
    return Response(out, status_code=200, media_type=PLAYLIST_TYPE, headers=headers)


class UpstreamStream(Response):
    """The upstream body passed through as the player reads it; the upstream connection is closed
    when the player has everything or goes away, whichever comes first."""

    def __init__(self, upstream: httpx.Response, headers: Mapping[str, str]) -> None:
        self.upstream = upstream
        self.status_code = upstream.status_code
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pump = asyncio.ensure_future(self._pump(send))
        watch = asyncio.ensure_future(_disconnect(receive))
        try:
            await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, watch):
                task.cancel()
            await asyncio.gather(pump, watch, return_exceptions=True)
            await self.upstream.aclose()
        if pump.done() and not pump.cancelled() and (exc := pump.exception()) is not None:
            raise exc

    async def _pump(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        try:
            async for chunk in self.upstream.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except httpx.HTTPError as exc:
            # The player got part of the body; the server closes the connection, and it asks again.
            log.warning("STRM upstream %s broke off: %s", urlsplit(str(self.upstream.url)).netloc,
                        type(exc).__name__)
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
