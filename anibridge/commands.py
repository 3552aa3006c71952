"""Implementations of the CLI commands (registered on import by anibridge.cli)."""

from __future__ import annotations

import argparse
import sys

from .cli import command
from .config import Settings
from .events import Journal
from .events.verify import verify_journal
from .progress import Progress


@command("verify")
def verify(args: argparse.Namespace, settings: Settings) -> int:
    path = settings.journal_path
    with Progress("verifying journal", unit="events") as bar:
        result = verify_journal(path, progress=lambda done, total: bar.update(done, total))
    if result.ok:
        print(f"journal OK: {result.checked} events, positions 1..{result.head} gapless, every checksum matches")
        return 0
    where = f" at position {result.first_bad}" if result.first_bad else ""
    print(f"journal BROKEN{where}: {result.problem} ({result.checked} events checked before it)", file=sys.stderr)
    return 1


@command("status")
def status(args: argparse.Namespace, settings: Settings) -> int:
    from .status import print_status

    return print_status(settings)


@command("serve")
def serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from .http.app import create_app
    from .runtime import Runtime

    runtime = Runtime(settings, crawl=not args.no_crawl)
    app = create_app(runtime)
    uvicorn.run(app, host=args.host or settings.anibridge_host, port=args.port or settings.anibridge_port,
                log_level=settings.log_level.lower(), access_log=False)
    return 0


def open_journal(settings: Settings) -> Journal:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Journal(settings.journal_path)


@command("replay")
def replay(args: argparse.Namespace, settings: Settings) -> int:
    from .projections.catalog import CatalogProjection
    from .projections.replay import rebuild
    from .projections.tasks import TaskProjection

    journal = open_journal(settings)
    try:
        head = journal.head()
        for base, projection in ((settings.catalog_path, CatalogProjection()), (settings.tasks_path, TaskProjection())):
            with Progress(f"rebuilding {projection.name}", unit="events") as bar:
                result = rebuild(journal, base, projection, progress=lambda done, total: bar.update(done, total))
            print(f"{projection.name}: rebuilt {result.checkpoint}/{head} events in {result.seconds:.1f} s,"
                  f" now live as {result.file.name}, content hash {result.content_hash}")
    finally:
        journal.close()
    return 0


@command("crawl")
def crawl(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from .config import SITE_ALIASES
    from .crawlers.scheduler import crawl_site
    from .crawlers.stages import StageRunner
    from .projections.catalog import CatalogProjection
    from .projections.projector import Projector
    from .projections.queries import CatalogQueries
    from .projections.reader import ProjectionReader

    sites = []
    for raw in args.site or settings.sites:
        site = SITE_ALIASES.get(raw.lower())
        if site is None:
            print(f"anibridge: unknown site {raw!r} (known: aniworld.to, s.to, megakino)", file=sys.stderr)
            return 2
        sites.append(site)
    stages = ("titles", "details", "canonical") if args.stage == "all" else (args.stage,)
    journal = open_journal(settings)
    projector = Projector(journal, settings.catalog_path, CatalogProjection())
    projector.start()
    runner = StageRunner(settings, journal, projector, CatalogQueries(ProjectionReader(settings.catalog_path)))
    ok = True
    try:
        for site in sites:
            with Progress(f"{site}", unit="titles") as bar:
                results = asyncio.run(crawl_site(runner, site, stages,
                                                 progress=lambda s, done, total, stage: bar.update(done, total, stage)))
            for r in results:
                ok = ok and r.ok
                line = (f"{site} {r.stage}: {'ok' if r.ok else 'FAILED'} - {r.done} done, {r.changed} changed,"
                        f" {r.unchanged} unchanged, {r.failed} failed in {r.duration_s:.1f} s")
                print(line + (f" ({r.reason})" if r.reason else ""))
        projector.wait_until(journal.head(), 60)
    finally:
        projector.stop()
        journal.close()
    return 0 if ok else 1
