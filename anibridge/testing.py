"""Harness for tests and benchmarks: a real AniBridge on a loopback port, over real sockets."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from .config import Settings, load_settings
from .runtime import Runtime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_asgi(app: Any, port: int | None = None, settings: Settings | None = None) -> Iterator[str]:
    """Run an ASGI app with uvicorn in a background thread; yields its base URL. With ``settings``,
    served as ``anibridge serve`` serves (http.serving: guarded protocol, AniBridge's logging)."""
    port = port or free_port()
    if settings is not None:
        from .http.serving import uvicorn_config

        config = uvicorn_config(app, settings, "127.0.0.1", port, log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=5)
    else:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                                lifespan="on", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def settings_for(data_dir: Path, **env: Any) -> Settings:
    values = {"DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
    values.update({k.upper(): str(v) for k, v in env.items()})
    return load_settings(values)


@dataclass
class Harness:
    base_url: str
    runtime: Runtime

    @property
    def settings(self) -> Settings:
        return self.runtime.settings


@contextmanager
def running_anibridge(data_dir: Path, *, crawl: bool = False, downloads: bool = True, **env: Any) -> Iterator[Harness]:
    """A full AniBridge (runtime + FastAPI app) on a free loopback port."""
    from .http.app import create_app

    runtime = Runtime(settings_for(data_dir, **env), crawl=crawl, downloads=downloads)
    with serve_asgi(create_app(runtime), settings=runtime.settings) as base:
        yield Harness(base, runtime)


def world_env(world: Any) -> dict[str, str]:
    """Settings pointing AniBridge at a running local provider world (``RunningWorld.env``)."""
    env: dict[str, str] = world.env()
    return env


def crawl_now(runtime: Runtime, sites: list[str] | None = None,
              stages: tuple[str, ...] = ("titles", "details")) -> list[Any]:
    """Run crawl stages synchronously (the runtime's projector must be running)."""
    from .crawlers.scheduler import crawl_site
    from .crawlers.stages import StageRunner

    runner = StageRunner(runtime.settings, runtime.journal, runtime.catalog_projector, runtime.catalog)

    async def go() -> list[Any]:
        results: list[Any] = []
        for site in sites or runtime.settings.sites:
            results += await crawl_site(runner, site, stages)
        return results

    results = asyncio.run(go())
    runtime.catalog_projector.wait_until(runtime.journal.head(), 60)
    return results
