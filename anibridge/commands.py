"""Implementations of the CLI commands (registered on import by anibridge.cli)."""

from __future__ import annotations

import argparse
import sys

import apsw

from .cli import command
from .config import Settings
from .datalock import DataDirBusy
from .events import Journal
from .events.journal import JournalDamaged
from .events.verify import verify_journal
from .progress import Progress


@command("verify")
def verify(args: argparse.Namespace, settings: Settings) -> int:
    path = settings.journal_path
    if not path.exists():
        print(f"nothing to verify yet: no journal at {path} (AniBridge creates it when it first starts)")
        return 0
    try:
        with Progress("verifying journal", unit="events") as bar:
            result = verify_journal(path, progress=lambda done, total: bar.update(done, total))
    except apsw.Error as exc:
        print(f"anibridge: cannot read the journal {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
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
    from .http.serving import uvicorn_config
    from .runtime import Runtime

    try:
        runtime = Runtime(settings, crawl=not args.no_crawl)
    except (DataDirBusy, JournalDamaged) as exc:
        print(f"anibridge: not starting: {exc}", file=sys.stderr)
        return 1
    except (OSError, apsw.Error) as exc:
        print(data_dir_error(settings, exc), file=sys.stderr)
        return 1
    app = create_app(runtime)
    # asyncio's loop, not uvloop: under load uvloop lets some requests wait a second full round of
    # the others (measured, 16 connections: search p99 38 ms with uvloop, 26 ms with asyncio at the
    # same throughput). uvloop serves small answers faster, but the tail is what a client waits for.
    config = uvicorn_config(app, settings, args.host or settings.anibridge_host, args.port or settings.anibridge_port,
                            loop="asyncio")
    uvicorn.Server(config).run()
    return 0


def data_dir_error(settings: Settings, exc: BaseException) -> str:
    """One line saying why the data folder cannot be used (read-only, full, a file in the way, ...)."""
    if isinstance(exc, apsw.CorruptError | apsw.NotADBError):
        return (f"anibridge: not starting: a file in the data folder DATA_DIR={settings.data_dir} is damaged"
                f" ({type(exc).__name__}: {exc}). Run anibridge verify; put a backup in place with"
                " anibridge restore.")
    if isinstance(exc, OSError):
        reason = f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
    else:
        reason = f"{type(exc).__name__}: {exc}"
    return (f"anibridge: cannot write to the data folder DATA_DIR={settings.data_dir}"
            f" (downloads: DOWNLOAD_DIR={settings.downloads_path}): {reason}."
            " It must be a writable folder with free space.")


def open_journal(settings: Settings) -> Journal:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Journal(settings.journal_path)


@command("replay")
def replay(args: argparse.Namespace, settings: Settings) -> int:
    from .projections.catalog import CatalogProjection
    from .projections.replay import rebuild
    from .projections.tasks import TaskProjection

    try:
        journal = open_journal(settings)
    except JournalDamaged as exc:
        print(f"anibridge: not rebuilding: {exc}", file=sys.stderr)
        return 1
    try:
        head = journal.head()
        for base, projection in ((settings.catalog_path, CatalogProjection()), (settings.tasks_path, TaskProjection())):
            with Progress(f"rebuilding {projection.name}", unit="events") as bar:
                result = rebuild(journal, base, projection, progress=lambda done, total: bar.update(done, total))
            print(f"{projection.name}: rebuilt {result.checkpoint}/{head} events in {result.seconds:.1f} s,"
                  f" now live as {result.file.name}, content hash {result.content_hash}")
    except JournalDamaged as exc:  # every event is checked as it is read; the live projection stays as it was
        print(f"anibridge: not rebuilding: {exc}; the live projections are left as they were", file=sys.stderr)
        return 1
    finally:
        journal.close()
    return 0


@command("backup")
def backup(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from .backup import BackupError, backup_journal

    try:
        result = backup_journal(settings.journal_path, Path(args.dest))
    except (BackupError, OSError, apsw.Error) as exc:
        print(f"anibridge: no backup written: {exc}", file=sys.stderr)
        return 1
    print(f"backup written: {result.path} ({result.events} events, positions 1..{result.head}, verified,"
          f" {result.seconds:.1f} s). To go back to it: stop AniBridge, then anibridge restore {result.path}")
    return 0


@command("restore")
def restore(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from .backup import BackupError, restore_journal

    try:
        result = restore_journal(settings, Path(args.backup))
    except (BackupError, DataDirBusy, JournalDamaged, OSError, apsw.Error) as exc:
        print(f"anibridge: nothing restored: {exc}", file=sys.stderr)
        return 1
    kept = f"; the journal it replaced is kept as {result.replaced}" if result.replaced else ""
    rebuilt = (f"; rebuilt from it: {', '.join(result.rebuilt)} projection(s)" if result.rebuilt
               else "; the projections already match it")
    print(f"restored {args.backup} as {settings.journal_path} (head {result.head}){kept}{rebuilt}")
    return 0


@command("crawl")
def crawl(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from .config import SITE_ALIASES
    from .crawlers.process import lower_priority
    from .crawlers.scheduler import crawl_site
    from .crawlers.stages import StageRunner
    from .projections.catalog import CatalogProjection
    from .projections.projector import Projector
    from .projections.queries import CatalogQueries
    from .projections.reader import ProjectionReader
    from .projections.replay import rebuild_if_stale

    sites = []
    for raw in args.site or settings.sites:
        site = SITE_ALIASES.get(raw.lower())
        if site is None:
            print(f"anibridge: unknown site {raw!r} (known: aniworld.to, s.to, megakino)", file=sys.stderr)
            return 2
        sites.append(site)
    stages = ("titles", "details", "canonical") if args.stage == "all" else (args.stage,)
    if "megakino" in sites and settings.megakino_base_url is None:
        from .crawlers.domains import MegakinoDomain

        found = MegakinoDomain(settings).check()
        print(f"megakino: {found.problem or 'live domain is ' + found.base_url}")
    lower_priority(settings.crawl_nice)  # a running server's requests come first
    try:
        journal = open_journal(settings)
    except JournalDamaged as exc:
        print(f"anibridge: not crawling: {exc}", file=sys.stderr)
        return 1
    try:
        # a catalogue built from another history would take this crawl's events on top of the wrong rows
        rebuild_if_stale(journal, settings.catalog_path, CatalogProjection())
    except BaseException:
        journal.close()
        raise
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


@command("pin")
def pin(args: argparse.Namespace, settings: Settings) -> int:
    """Pin a title to a TVDB id (or remove the pin with 'none'); the next canonical run applies it."""
    from .config import SITE_ALIASES
    from .events.types import CanonicalOverrideSet
    from .projections.projector import live_file
    from .projections.queries import CatalogQueries
    from .projections.reader import ProjectionReader

    site = SITE_ALIASES.get(args.site.lower())
    if site is None:
        print(f"anibridge: unknown site {args.site!r} (known: aniworld.to, s.to, megakino)", file=sys.stderr)
        return 2
    raw = args.tvdb_id.strip().lower()
    tvdb_id: int | None = None
    if raw != "none":
        if not raw.isdigit() or not 1 <= int(raw) <= 100_000_000:
            print(f"anibridge: TVDB id must be a positive number or 'none', not {args.tvdb_id!r}", file=sys.stderr)
            return 2
        tvdb_id = int(raw)
    if live_file(settings.catalog_path).exists():
        hit = CatalogQueries(ProjectionReader(settings.catalog_path)).title(site, args.slug)
        if hit is None:
            print(f"anibridge: no title {args.slug!r} on {site} in the catalogue", file=sys.stderr)
            return 1
        before = f" (was {'pinned to' if hit.pinned else 'mapped to'} TVDB {hit.tvdb_id})" if hit.tvdb_id else ""
    else:
        before = " (no catalogue yet; the pin applies once the title is indexed)"
    journal = open_journal(settings)
    try:
        pos = journal.append_one(CanonicalOverrideSet(site=site, slug=args.slug, tvdb_id=tvdb_id))
    finally:
        journal.close()
    what = f"pinned {site}/{args.slug} to TVDB {tvdb_id}" if tvdb_id else f"removed the pin of {site}/{args.slug}"
    print(f"{what}{before}; journal position {pos}. The next canonical crawl applies it"
          f" (anibridge crawl --site {site} --stage canonical).")
    return 0


@command("devworld")
def devworld(args: argparse.Namespace, settings: Settings) -> int:
    from .devworld.__main__ import main as world_main

    world_main(["--port", str(args.port), "--titles", str(args.titles), "--seed", str(args.seed),
                "--day", str(args.day)])
    return 0


@command("demo")
def demo(args: argparse.Namespace, settings: Settings) -> int:
    """The local provider world in the background, AniBridge in front, pointed at it."""
    import uvicorn

    from .config import load_settings
    from .devworld.testing import running_world
    from .http.app import create_app
    from .http.serving import uvicorn_config
    from .runtime import Runtime
    from .testing import world_env

    with running_world(seed=1, titles=args.titles) as world:
        import os

        env = {"DATA_DIR": "./data/demo"} | dict(os.environ) | world_env(world)
        demo_settings = load_settings(env)
        print(f"demo: provider world with {args.titles} titles per site at {world.base}")
        print(f"demo: AniBridge at http://127.0.0.1:{demo_settings.anibridge_port}/ (status page),"
              f" Torznab at /torznab/api, qBittorrent API at /api/v2; data in {demo_settings.data_dir}")
        runtime = Runtime(demo_settings, crawl=True)
        uvicorn.Server(uvicorn_config(create_app(runtime), demo_settings, "127.0.0.1",
                                      demo_settings.anibridge_port)).run()
    return 0
