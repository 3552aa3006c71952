"""The single ASGI app: sites by path prefix, /_world control endpoints, fault middleware."""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from anibridge.devworld import aniworld, hosts, megakino, skyhook, sto
from anibridge.devworld.faults import FaultSet, apply, reset_connection
from anibridge.devworld.model import SITES, decode_link
from anibridge.devworld.web import int_param
from anibridge.devworld.world import World

PREFIXES = ("aniworld", "sto", "megakino", "skyhook", "hosts")
# Root-relative hrefs as the real sites emit them, for clients that resolve them against the host.
_ROOT_PATHS: tuple[tuple[str, str], ...] = (
    ("/animes-alphabet", "aniworld"), ("/anime/", "aniworld"), ("/public/", "aniworld"),
    ("/serien-alphabet", "sto"), ("/serien", "sto"), ("/serie/", "sto"),
    ("/sitemap", "megakino"), ("/films/", "megakino"), ("/serials/", "megakino"), ("/index.php", "megakino"),
    ("/v1/tvdb/", "skyhook"),
)


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), status_code=status, media_type="application/json")


def truth_json(truth: dict[str, Any]) -> dict[str, Any]:
    """episode_map keys "ps:pe" -> [ts, te, abs] (tuples are not JSON keys)."""
    out = dict(truth)
    out["episode_map"] = {f"{ps}:{pe}": list(v) for (ps, pe), v in truth["episode_map"].items()}
    return out


async def _body(request: Request) -> Any:
    raw = await request.body()
    return json.loads(raw) if raw.strip() else None


async def world_info(request: Request) -> Response:
    world: World = request.app.state.world
    return _json({"seed": world.seed, "titles": world.titles, "sizes": world.sizes, "day": world.day,
                  "episodes_per_title": world.episodes_per_title, "sites": list(PREFIXES)})


async def faults_endpoint(request: Request) -> Response:
    faults: FaultSet = request.app.state.faults
    if request.method == "DELETE":
        faults.clear()
    elif request.method == "POST":
        data = await _body(request)
        rules = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
        try:
            faults.set(rules, append=request.query_params.get("append") in ("1", "true"))
        except (TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, status=400)
    return _json([r.as_dict() for r in faults.rules])


async def shapes_endpoint(request: Request) -> Response:
    """GET the page shapes each host serves; POST ``{"voe": "legacy"}`` to change some; DELETE: defaults."""
    state = request.app.state
    if request.method == "DELETE":
        state.shapes = dict(hosts.DEFAULT_SHAPES)
    elif request.method == "POST":
        data = await _body(request)
        if not isinstance(data, dict):
            return _json({"error": 'send a JSON object such as {"voe": "legacy"}'}, status=400)
        try:
            state.shapes = hosts.check_shapes({**state.shapes, **data})
        except ValueError as exc:
            return _json({"error": str(exc)}, status=400)
    return _json(state.shapes)


async def megakino_endpoint(request: Request) -> Response:
    """GET: Megakino's domains and the live one; POST /_world/megakino/move: move to the next domain now."""
    app: DevWorldApp = request.app.state.devworld
    if request.method == "POST":
        app.move_megakino()
    return _json({"live": app.megakino_live(), "domains": list(megakino.DOMAINS),
                  "move_every_days": megakino.MOVE_EVERY_DAYS, "moves": app.megakino_moves})


async def day_endpoint(request: Request) -> Response:
    data = await _body(request)
    raw = data.get("day") if isinstance(data, dict) else request.query_params.get("day")
    day = int_param(str(raw))
    if day is None:
        return _json({"error": "day must be a non-negative integer"}, status=400)
    request.app.state.world.set_day(day)
    return await world_info(request)


async def truth_endpoint(request: Request) -> Response:
    site = request.path_params["site"]
    truth = request.app.state.world.truth(site, request.path_params["slug"]) if site in SITES else None
    return _json(truth_json(truth)) if truth else _json({"error": "unknown title"}, status=404)


async def changes_endpoint(request: Request) -> Response:
    site, day = request.path_params["site"], int_param(request.path_params["day"])
    if site not in SITES or day is None:
        return _json({"error": "unknown site or day"}, status=404)
    return _json(request.app.state.world.changes(site, day))


class DevWorldApp:
    """Outermost ASGI callable; faults see uvicorn's own ``send`` (needed for reset/truncate)."""

    def __init__(self, world: World, faults: list[dict[str, Any]] | None = None,
                 shapes: dict[str, str] | None = None, *, sto_layout: str = "v2") -> None:
        if sto_layout not in sto.LAYOUTS:
            raise ValueError(f"unknown s.to layout {sto_layout!r}; one of {sto.LAYOUTS}")
        self.world = world
        self.faults = FaultSet(faults)
        self.inner = Starlette(routes=[
            Route("/_world", world_info),
            Route("/_world/faults", faults_endpoint, methods=["GET", "POST", "DELETE"]),
            Route("/_world/day", day_endpoint, methods=["POST"]),
            Route("/_world/shapes", shapes_endpoint, methods=["GET", "POST", "DELETE"]),
            Route("/_world/megakino", megakino_endpoint),
            Route("/_world/megakino/move", megakino_endpoint, methods=["POST"]),
            Route("/_world/truth/{site}/{slug}", truth_endpoint),
            Route("/_world/changes/{site}/{day}", changes_endpoint),
            Mount("/aniworld", routes=aniworld.routes),
            Mount("/sto", routes=sto.routes),
            Mount("/megakino", routes=megakino.routes),
            Mount("/skyhook", routes=skyhook.routes),
            Mount("/hosts", routes=hosts.routes),
        ])
        self.inner.state.world = world
        self.inner.state.faults = self.faults
        self.inner.state.cache = {}
        self.inner.state.shapes = hosts.check_shapes(shapes or {})
        self.inner.state.sto_layout = sto_layout
        self.inner.state.devworld = self
        self.megakino_moves = 0

    def megakino_live(self) -> str:
        """The domain Megakino answers on today (it moves weekly and on ``move_megakino``)."""
        return megakino.DOMAINS[megakino.live_index(self.world.day, self.megakino_moves)]

    def move_megakino(self) -> str:
        self.megakino_moves += 1
        return self.megakino_live()

    @property
    def shapes(self) -> dict[str, str]:
        shapes: dict[str, str] = self.inner.state.shapes
        return shapes

    def set_shapes(self, shapes: dict[str, str]) -> None:
        """Page shapes per host, e.g. ``{"voe": "legacy"}`` (the rest keep theirs)."""
        self.inner.state.shapes = hosts.check_shapes({**self.shapes, **shapes})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/mk/"):
            await self._megakino_domain(scope, receive, send)
            return
        site, rest = self._site(path)
        if site is None:
            await self.inner(scope, receive, send)
            return
        if not path.startswith(f"/{site}/"):
            scope = {**scope, "path": f"/{site}{path}", "raw_path": f"/{site}{path}".encode()}
        if site == "megakino":
            scope["megakino_prefix"] = "/megakino" if path.startswith("/megakino/") else ""
        await self._serve(site, rest, scope, receive, send)

    async def _megakino_domain(self, scope: Scope, receive: Receive, send: Send) -> None:
        """/mk/<domain>/<path>: the live domain serves, the one before redirects, the rest do not answer."""
        domain, _, tail = scope["path"][len("/mk/"):].partition("/")
        rest, live = "/" + tail, self.megakino_live()
        previous = megakino.DOMAINS[megakino.DOMAINS.index(live) - 1]
        if domain == live:
            inner = f"/megakino{rest}"
            scope = {**scope, "path": inner, "raw_path": inner.encode(), "megakino_prefix": f"/mk/{domain}"}
            await self._serve("megakino", rest, scope, receive, send)
        elif domain == previous:
            host = dict(scope["headers"]).get(b"host", b"127.0.0.1").decode("latin-1")
            query = scope.get("query_string", b"").decode("latin-1")
            location = f"{scope.get('scheme', 'http')}://{host}/mk/{live}{rest}" + (f"?{query}" if query else "")
            await Response(status_code=301, headers={"Location": location})(scope, receive, send)
        else:
            await reset_connection(send)

    async def _serve(self, site: str, rest: str, scope: Scope, receive: Receive, send: Send) -> None:
        rule = self.faults.pick(site, rest)
        if rule is None:
            await self.inner(scope, receive, send)
        else:
            await apply(rule, self.inner, scope, receive, send)

    @staticmethod
    def _site(path: str) -> tuple[str | None, str]:
        head, _, tail = path[1:].partition("/")
        if head in PREFIXES:
            return head, "/" + tail
        if head == "r":  # s.to v2 play URLs: /r?t=<token>
            return "sto", path
        if head == "redirect":
            decoded = decode_link(int_param(tail) or -1)
            return (decoded[0] if decoded else "aniworld"), path
        for prefix, site in _ROOT_PATHS:
            if path.startswith(prefix):
                return site, path
        return None, path


def build_app(
    world: World | None = None, faults: list[dict[str, Any]] | None = None,
    shapes: dict[str, str] | None = None, *, sto_layout: str = "v2", **world_kwargs: Any
) -> DevWorldApp:
    return DevWorldApp(world or World(**world_kwargs), faults, shapes, sto_layout=sto_layout)
