"""Command line: ``anibridge serve | verify | status | crawl | replay | pin | devworld | demo``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from .config import ConfigError, Settings, load_settings
from .logs import setup_logging

log = logging.getLogger("anibridge")

Command = Callable[[argparse.Namespace, Settings], int]
_COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    def deco(fn: Command) -> Command:
        _COMMANDS[name] = fn
        return fn

    return deco


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anibridge",
        description="AniBridge: AniWorld, s.to and Megakino as a Torznab indexer and a qBittorrent-compatible "
        "download client for Sonarr, Radarr and Prowlarr. Settings come from environment variables "
        "(see README).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the HTTP server, the projector, scheduled crawls and downloads")
    serve.add_argument("--host", help="listen address (default ANIBRIDGE_HOST, 0.0.0.0)")
    serve.add_argument("--port", type=int, help="listen port (default ANIBRIDGE_PORT, 8000)")
    serve.add_argument("--no-crawl", action="store_true", help="do not start scheduled catalogue crawls")

    sub.add_parser("verify", help="check the whole journal: gapless positions and checksums")
    sub.add_parser("status", help="journal head and size, projections, catalogue stages")

    crawl = sub.add_parser("crawl", help="run a catalogue crawl now, with progress")
    crawl.add_argument("--site", action="append", help="aniworld.to, s.to or megakino (repeatable; default all)")
    crawl.add_argument("--stage", choices=["titles", "details", "canonical", "all"], default="all")

    sub.add_parser("replay", help="rebuild every projection from the journal, then swap it in")

    backup = sub.add_parser("backup", help="write a consistent copy of the journal (safe while the server runs)")
    backup.add_argument("dest", help="a new file name, or a folder to write journal-<date>-<time>.db into")
    restore = sub.add_parser("restore", help="put a backup in place as the journal (the server must be stopped)")
    restore.add_argument("backup", help="a file written by anibridge backup")

    pin = sub.add_parser("pin", help="pin a title to a TVDB id (overrides automatic matching)")
    pin.add_argument("site")
    pin.add_argument("slug")
    pin.add_argument("tvdb_id", help="a TVDB id, or 'none' to remove the pin")

    world = sub.add_parser("devworld", help="run the local provider world (for tests and the demo)")
    world.add_argument("--port", type=int, default=8081)
    world.add_argument("--titles", type=int, default=300)
    world.add_argument("--seed", type=int, default=1)
    world.add_argument("--day", type=int, default=0)

    demo = sub.add_parser("demo", help="start the local provider world and AniBridge pointed at it"
                          " (data in ./data/demo unless DATA_DIR is set)")
    demo.add_argument("--titles", type=int, default=200)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"anibridge: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    from . import commands  # noqa: F401  (registers the command implementations)

    try:
        return _COMMANDS[args.command](args, settings)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    # ``python -m anibridge.cli``: this module is __main__, but commands.py registers into
    # anibridge.cli; run that module's main so the registrations are found.
    from anibridge.cli import main as _package_main

    sys.exit(_package_main())
