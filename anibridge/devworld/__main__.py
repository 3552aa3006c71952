"""python -m anibridge.devworld --port 8081 --titles 500 --seed 1 --day 0 --episodes-per-title 12"""

from __future__ import annotations

import argparse
import json
import logging
import time

import uvicorn

from anibridge.devworld.app import build_app
from anibridge.devworld.megakino import DOMAINS as MEGAKINO_DOMAINS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m anibridge.devworld", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--titles", type=int, default=500, help="titles per site on day 0")
    parser.add_argument("--sizes", default="", help="per-site sizes, e.g. aniworld=3000,sto=12000")
    parser.add_argument("--day", type=int, default=0)
    parser.add_argument("--episodes-per-title", type=float, default=None)
    parser.add_argument("--faults", default="", help="JSON list of fault rules")
    parser.add_argument("--shapes", default="", help="host page shapes, e.g. voe=legacy,filemoon=packed")
    parser.add_argument("--sto-layout", default="v2", choices=("v2", "v1"),
                        help="s.to pages as serienstream.to serves them (v2) or the older layout (v1)")
    args = parser.parse_args(argv)
    sizes = {k: int(v) for k, _, v in (p.partition("=") for p in args.sizes.split(",") if p)}
    shapes = {k: v for k, _, v in (p.partition("=") for p in args.shapes.split(",") if p)}
    app = build_app(None, json.loads(args.faults) if args.faults else None, shapes, seed=args.seed, titles=args.titles,
                    day=args.day, episodes_per_title=args.episodes_per_title, sizes=sizes, sto_layout=args.sto_layout)
    base = f"http://{args.host}:{args.port}"
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    started = time.perf_counter()
    app.world.warm()
    logging.getLogger("anibridge.devworld").info("devworld: world ready in %.1f s", time.perf_counter() - started)
    logging.getLogger("anibridge.devworld").info(
        "devworld: ANIWORLD_BASE_URL=%s/aniworld STO_BASE_URL=%s/sto MEGAKINO_DOMAIN_CANDIDATES=%s "
        "SKYHOOK_BASE_URL=%s/skyhook DOWNLOAD_ALLOWED_HOSTS=%s (hosts %s/hosts, control %s/_world)", base, base,
        ",".join(f"{base}/mk/{domain}" for domain in MEGAKINO_DOMAINS), base, args.host, base, base)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
