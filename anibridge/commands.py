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
