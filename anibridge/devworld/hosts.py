"""Video host world (mounted at /hosts): embed page shapes per host, plus MP4/HLS media.

Every video id serves the same committed media files (media/sample.mp4, media/master.m3u8,
media/seg*.ts). Embed page shapes are a contract for the download extractors; see README in
the package docstring of anibridge.devworld. VOE and Filemoon serve today's shapes by default and
older ones on request (``/_world/shapes``; see ``devworld.voe`` and ``devworld.filemoon``).
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from anibridge.devworld import filemoon, voe
from anibridge.devworld.web import origin

HOSTS = ("voe", "filemoon", "streamtape", "vidmoly", "doodstream", "loadx", "luluvdo", "vidoza")
_VID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@lru_cache(maxsize=16)
def media(name: str) -> bytes:
    return resources.files("anibridge.devworld").joinpath("media", name).read_bytes()


def token(kind: str, vid: str) -> str:
    return hashlib.sha256(f"{kind}:{vid}".encode()).hexdigest()[:16]


DEFAULT_SHAPES = {"voe": "encoded", "filemoon": "mixed"}
SHAPES = {"voe": voe.SHAPES, "filemoon": filemoon.SHAPES}


def check_shapes(shapes: dict[str, str]) -> dict[str, str]:
    """Validated page shapes per host (unknown host or shape: ValueError naming the choices)."""
    for host, shape in shapes.items():
        if host not in SHAPES:
            raise ValueError(f"no page shapes for host {host!r}; hosts with shapes: {', '.join(SHAPES)}")
        if shape not in SHAPES[host]:
            raise ValueError(f"unknown {host} shape {shape!r}; one of {', '.join(SHAPES[host])}")
    return {**DEFAULT_SHAPES, **shapes}


def embed_html(host: str, vid: str, base: str, shapes: dict[str, str] | None = None) -> str:
    shape = (shapes or DEFAULT_SHAPES).get(host, "")
    m3u8 = f"{base}/hosts/media/{vid}/master.m3u8"
    mp4 = f"{base}/hosts/media/{vid}.mp4"
    if host == "voe" and voe.wants_interstitial(shape, vid):
        return voe.interstitial_html(vid, base)
    if host in ("voe", voe.MIRROR):
        body = voe.legacy_body(m3u8) if shape == "legacy" else voe.encoded_body(vid, m3u8, base)
    elif host == "filemoon" and filemoon.is_byse(shape, vid):
        body = filemoon.byse_shell(vid)
    elif host == "filemoon":
        script = filemoon.setup_script(m3u8, base, vid)
        body = f"<script type='text/javascript'>{script if shape == 'plain' else filemoon.pack(script)}</script>"
    elif host == "vidmoly":
        body = (
            '<div id="vplayer"></div><script>var player = jwplayer("vplayer"); player.setup({ '
            f'sources: [{{file:"{m3u8}"}}], image: "{base}/hosts/media/{vid}.jpg", width: "100%", '
            'aspectratio: "16:9", autostart: false });</script>'
        )
    elif host == "streamtape":
        st = token("streamtape", vid)
        link = f"/hosts/streamtape/get_video?id={vid}"
        body = (
            f'<div id="robotlink" style="display:none">{link}&token=xxx</div>'
            f"<script>document.getElementById('robotlink').innerHTML = '{link}&expires=1&token=' + "
            f"('{st[:3]}{st}').substring(3);</script>"
        )
    elif host == "doodstream":
        dt = token("doodstream", vid)
        body = (
            "<script>$.get('/hosts/doodstream/pass_md5/" + vid + "/" + dt + "', function(data){"
            " dsplayer.src({src: data + makePlay(), type: 'video/mp4'}); });\n"
            'function makePlay(){for(var a="",t="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",'
            f'n=t.length,o=0;10>o;o++)a+=t.charAt(Math.floor(Math.random()*n));return a+"?token={dt}&expiry="'
            "+Date.now();}</script>"
        )
    else:
        body = f'<video id="player" controls><source src="{mp4}" type="video/mp4"></video>'
    title = f"{host.capitalize()} - {vid}"
    return f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head><body>{body}</body></html>'


def shapes_of(request: Request) -> dict[str, str]:
    shapes: dict[str, str] = request.app.state.shapes
    return shapes


async def embed(request: Request) -> Response:
    host, vid = request.path_params["host"].lower(), request.path_params["vid"]
    if host not in (*HOSTS, voe.MIRROR) or not _VID.match(vid):
        return PlainTextResponse("File not found", status_code=404)
    return HTMLResponse(embed_html(host, vid, origin(request), shapes_of(request)))


async def filemoon_api(request: Request) -> Response:
    """Byse's video API: the source sealed with AES-GCM (only for videos whose page is a Byse shell)."""
    vid = request.path_params["vid"]
    if not _VID.match(vid) or not filemoon.is_byse(shapes_of(request).get("filemoon", ""), vid):
        return JSONResponse({"error": "video not found"}, status_code=404)
    return JSONResponse(filemoon.api_answer(vid, f"{origin(request)}/hosts/media/{vid}/master.m3u8"))


def _mp4(request: Request) -> Response:
    data = media("sample.mp4")
    size = len(data)
    headers = {"Accept-Ranges": "bytes", "Content-Type": "video/mp4"}
    match = _RANGE.match(request.headers.get("range", "").strip())
    if not match or match.groups() == ("", ""):
        return Response(data, headers=headers)
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    else:
        start, end = max(0, size - int(last)), size - 1
    if start >= size or start > end:
        return Response(b"", status_code=416, headers={"Content-Range": f"bytes */{size}"})
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Response(data[start : end + 1], status_code=206, headers=headers)


async def mp4(request: Request) -> Response:
    return _mp4(request) if _VID.match(request.path_params["vid"]) else PlainTextResponse("", status_code=404)


async def playlist(request: Request) -> Response:
    if not _VID.match(request.path_params["vid"]):
        return PlainTextResponse("", status_code=404)
    return Response(media("master.m3u8"), media_type="application/vnd.apple.mpegurl")


async def segment(request: Request) -> Response:
    name = request.path_params["seg"]
    if not re.fullmatch(r"seg\d", name):
        return PlainTextResponse("", status_code=404)
    try:
        data = media(f"{name}.ts")
    except FileNotFoundError:
        return PlainTextResponse("", status_code=404)
    return Response(data, media_type="video/mp2t")


async def streamtape_get(request: Request) -> Response:
    vid = request.query_params.get("id", "")
    if not _VID.match(vid) or request.query_params.get("token") != token("streamtape", vid):
        return PlainTextResponse("Forbidden", status_code=403)
    return RedirectResponse(f"{origin(request)}/hosts/media/{vid}.mp4", status_code=302)


async def dood_pass(request: Request) -> Response:
    vid, tok = request.path_params["vid"], request.path_params["token"]
    if not request.headers.get("referer", "").startswith(origin(request)) or tok != token("doodstream", vid):
        return PlainTextResponse("Forbidden", status_code=403)
    return PlainTextResponse(f"{origin(request)}/hosts/doodstream/stream/{vid}/")


async def dood_stream(request: Request) -> Response:
    vid = request.path_params["vid"]
    if request.query_params.get("token") != token("doodstream", vid):
        return PlainTextResponse("Forbidden", status_code=403)
    return _mp4(request)


routes = [
    Route("/media/{vid}.mp4", mp4, methods=["GET", "HEAD"]),
    Route("/media/{vid}/master.m3u8", playlist),
    Route("/media/{vid}/{seg}.ts", segment),
    Route("/streamtape/get_video", streamtape_get),
    Route("/doodstream/pass_md5/{vid}/{token}", dood_pass),
    Route("/doodstream/stream/{vid}/{rest}", dood_stream, methods=["GET", "HEAD"]),
    Route("/filemoon/api/videos/{vid}", filemoon_api),
    Route("/{host}/e/{vid}", embed),
]
