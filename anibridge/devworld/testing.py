"""Run the provider world on a loopback port in a background thread (tests and benchmarks)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from anibridge.devworld.app import DevWorldApp, build_app
from anibridge.devworld.megakino import DOMAINS as MEGAKINO_DOMAINS
from anibridge.devworld.world import World


@dataclass
class RunningWorld:
    base: str
    app: DevWorldApp

    @property
    def world(self) -> World:
        return self.app.world

    @property
    def aniworld(self) -> str:
        return f"{self.base}/aniworld"

    @property
    def sto(self) -> str:
        return f"{self.base}/sto"

    @property
    def megakino(self) -> str:
        return f"{self.base}/megakino"

    def megakino_domain(self, domain: str | None = None) -> str:
        """Base URL of one Megakino domain (default: the live one), e.g. ``<base>/mk/megakino.lol``."""
        return f"{self.base}/mk/{domain or self.app.megakino_live()}"

    @property
    def megakino_candidates(self) -> list[str]:
        """Every Megakino domain's base URL, in the order a user would list them."""
        return [self.megakino_domain(d) for d in MEGAKINO_DOMAINS]

    def move_megakino(self) -> str:
        """Megakino moves to its next domain now (the old one redirects there); the new domain's URL."""
        self.app.move_megakino()
        return self.megakino_domain()

    @property
    def skyhook(self) -> str:
        return f"{self.base}/skyhook"

    @property
    def hosts(self) -> str:
        return f"{self.base}/hosts"

    def env(self) -> dict[str, str]:
        """Settings that point AniBridge at this world (Megakino by its domain candidates, as a user would)."""
        # The world's video hosts are on loopback, which the download guard refuses unless allowed.
        return {"ANIWORLD_BASE_URL": self.aniworld, "STO_BASE_URL": self.sto,
                "MEGAKINO_DOMAIN_CANDIDATES": ",".join(self.megakino_candidates), "SKYHOOK_BASE_URL": self.skyhook,
                "DOWNLOAD_ALLOWED_HOSTS": "127.0.0.1"}

    def set_faults(self, rules: list[dict[str, Any]], append: bool = False) -> None:
        self.app.faults.set(rules, append=append)

    def clear_faults(self) -> None:
        self.app.faults.clear()

    def fault_hits(self) -> list[int]:
        return [r.hits for r in self.app.faults.rules]

    def set_day(self, day: int) -> None:
        self.world.set_day(day)

    def set_shapes(self, shapes: dict[str, str]) -> None:
        """Embed page shapes per host, e.g. ``{"voe": "legacy", "filemoon": "byse"}``."""
        self.app.set_shapes(shapes)

    def truth(self, site: str, slug: str) -> dict[str, Any] | None:
        return self.world.truth(site, slug)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # runs off the main thread
        pass


@contextmanager
def running_world(faults: list[dict[str, Any]] | None = None, **world_kwargs: Any) -> Iterator[RunningWorld]:
    """Start the world with uvicorn on 127.0.0.1:<free port>; stop it on exit.

    ``world_kwargs`` go to ``World`` (seed, titles, day, episodes_per_title, sizes); pass
    ``world=`` to serve an existing World instance, ``warm=True`` to build catalogues and the
    SkyHook index before the first request, ``shapes={"voe": "legacy"}`` for older host pages,
    ``sto_layout="v1"`` for s.to's older page layout.
    """
    warm = bool(world_kwargs.pop("warm", False))
    sto_layout = str(world_kwargs.pop("sto_layout", "v2"))
    app = build_app(world_kwargs.pop("world", None), faults, world_kwargs.pop("shapes", None),
                    sto_layout=sto_layout, **world_kwargs)
    if warm:
        app.world.warm()
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                            lifespan="off", timeout_graceful_shutdown=1, loop="asyncio", http="h11")
    server = _Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), name=f"devworld-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("devworld server did not start")
        time.sleep(0.01)
    running = RunningWorld(base=f"http://127.0.0.1:{port}", app=app)
    try:
        yield running
    finally:
        server.should_exit = True
        thread.join(timeout=10)


try:  # the fixture is for tests; benchmarks import running_world without pytest installed
    import pytest
except ImportError:  # pragma: no cover
    pass
else:

    @pytest.fixture
    def devworld() -> Iterator[RunningWorld]:
        """A small world (seed 1, 60 titles per site) served on loopback for one test."""
        with running_world(seed=1, titles=60) as running:
            httpx.get(f"{running.base}/_world", timeout=5).raise_for_status()
            yield running
